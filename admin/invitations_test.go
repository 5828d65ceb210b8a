package admin_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// newAccountsEnv is newEnv with invitations, local accounts and the mail outbox wired in
// the way cmd/seatbridge does, with cheap (but real) argon2id parameters.
func newAccountsEnv(t *testing.T, db *store.DB, slug string, seats int) (*env, *provisioning.Accounts) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := provisioning.NewEngine(db, logger)
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	acc := provisioning.NewAccounts(eng, box)
	acc.Password = provisioning.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, Concurrency: 4}
	api := admin.New(eng, admin.Options{Logger: logger, States: db, Accounts: acc})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return newTenant(t, db, eng, srv, slug, seats), acc
}

// outbox claims the due mail the way the mail worker does.
func outbox(t *testing.T, acc *provisioning.Accounts) []provisioning.Mail {
	t.Helper()
	mails, err := acc.ClaimMail(ctx, "test-worker", 100)
	if err != nil {
		t.Fatal(err)
	}
	return mails
}

// helpdeskLead is a session of a seated user whose custom role grants manage_users but
// not everything: it may invite Agents, not Admins nor Supervisors.
func helpdeskLead(e *env, email string) (auth, string) {
	e.t.Helper()
	if r := e.do(e.as(), "GET", "/roles/Helpdesk%20Lead", nil); r.status == http.StatusNotFound {
		e.must(e.do(e.as(), "POST", "/roles", map[string]any{"name": "Helpdesk Lead",
			"permissions": []string{"manage_users", "work_tickets", "use_macros"}}), http.StatusCreated)
	}
	return e.session(email, "Helpdesk Lead")
}

func TestInvitationsAPI(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a, acc := newAccountsEnv(t, db, "acme", 10)
		b := newTenant(t, db, a.eng, a.srv, "globex", 10)
		a.must(a.do(a.as(), "POST", "/teams", map[string]any{"name": "Tier 1"}), http.StatusCreated)

		// Create: the user exists as invited with its seat, and the mail is in the outbox.
		r := a.must(a.do(a.as(), "POST", "/invitations", map[string]any{"email": "Grace@Acme.Example", "displayName": "Grace Hopper",
			"roles": []string{"Agent"}, "teams": []string{"tier 1"}, "seat": true}), http.StatusCreated)
		invID, userID := r.str("id"), r.str("userId")
		if r.str("state") != "pending" || r.str("email") != "Grace@acme.example" || r.str("deliveryStatus") != "queued" ||
			r.str("seat") != "true" || r.header.Get("Location") != admin.Prefix+"/invitations/"+invID {
			t.Fatalf("created: %s %v", r.raw, r.header)
		}
		if strings.Contains(string(r.raw), "token") {
			t.Fatalf("the token (or its hash) leaked: %s", r.raw)
		}
		mails := outbox(t, acc)
		if len(mails) != 1 || mails[0].Kind != provisioning.MailInvitation || mails[0].RefID != invID ||
			mails[0].To != "Grace@acme.example" || mails[0].Data.Token == "" || mails[0].Data.TenantName != "acme" {
			t.Fatalf("outbox: %+v", mails)
		}
		firstToken := mails[0].Data.Token
		if _, err := acc.InvitationByToken(ctx, firstToken); err != nil {
			t.Fatalf("token from the mail: %v", err)
		}
		u := a.must(a.do(a.as(), "GET", "/users/"+userID, nil), http.StatusOK)
		if u.str("status") != "invited" || u.str("seat") != "true" || u.str("source") != "invite" {
			t.Fatalf("invited user: %s", u.raw)
		}

		// Validation errors name the field.
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{}, "email"},
			{map[string]any{"email": "not-an-address"}, "email"},
			{map[string]any{"email": "a@b"}, "email"},
			// One resolver of role and team names names the unknown entry, as /users does.
			{map[string]any{"email": "x@acme.example", "roles": []string{"Nope"}}, "roles[0]"},
			{map[string]any{"email": "x@acme.example", "teams": []string{"Nope"}}, "teams[0]"},
			{map[string]any{"email": "x@acme.example", "token": "mine"}, "token"},
			{map[string]any{"email": "x@acme.example", "seat": "yes"}, "seat"},
		} {
			wantError(t, a.do(a.as(), "POST", "/invitations", tc.body), http.StatusBadRequest, tc.field)
		}
		wantError(t, a.do(a.as(), "GET", "/invitations?state=lost", nil), http.StatusBadRequest, "state")
		// Conflicts: invited twice (the hint stays outside the quoted address), or a
		// deactivated user.
		r = a.do(a.as(), "POST", "/invitations", map[string]any{"email": "grace@ACME.example"})
		wantError(t, r, http.StatusConflict, "email")
		if msg := r.str("error", "message"); msg != `email "grace@acme.example" is already taken (already invited: resend the invitation instead)` {
			t.Fatalf("conflict message: %s", msg)
		}
		gone := a.user("gone@acme.example", nil)
		a.must(a.do(a.as(), "POST", "/users/"+gone+"/deactivate", nil), http.StatusOK)
		wantError(t, a.do(a.as(), "POST", "/invitations", map[string]any{"email": "gone@acme.example"}), http.StatusConflict, "email")

		// "Invite later": an account created without an invitation that never signed in
		// can be invited afterwards, by address or by id; revoking gives it back.
		ann := a.user("ann@acme.example", map[string]any{"roles": []string{"Agent"}})
		later := a.must(a.do(a.as(), "POST", "/invitations", map[string]any{"email": "ann@acme.example"}), http.StatusCreated)
		if later.str("userId") != ann {
			t.Fatalf("invite later targets user %s, want %s", later.str("userId"), ann)
		}
		if st := a.must(a.do(a.as(), "GET", "/users/"+ann, nil), http.StatusOK).str("status"); st != "invited" {
			t.Fatalf("invited-later user status %s", st)
		}
		a.must(a.do(a.as(), "POST", "/invitations/"+later.str("id")+"/revoke", nil), http.StatusOK)
		if u := a.must(a.do(a.as(), "GET", "/users/"+ann, nil), http.StatusOK); u.str("status") != "active" {
			t.Fatalf("after revoke: %s", u.raw)
		}
		byID := a.must(a.do(a.as(), "POST", "/users/"+ann+"/invite", map[string]any{"teams": []string{}}), http.StatusCreated)
		if byID.str("userId") != ann || byID.str("email") != "ann@acme.example" {
			t.Fatalf("invite by id: %s", byID.raw)
		}
		wantError(t, a.do(a.as(), "POST", "/users/"+ann+"/invite", nil), http.StatusConflict, "email")

		// Permissions: an Agent session is refused outright; a manage_users custom role
		// may invite Agents but not grant Admin or permissions it lacks.
		agent, _ := a.session("agent@acme.example", "Agent")
		wantError(t, a.do(agent, "POST", "/invitations", map[string]any{"email": "z@acme.example"}), http.StatusForbidden, "")
		wantError(t, a.do(agent, "GET", "/invitations", nil), http.StatusForbidden, "")
		lead, _ := helpdeskLead(a, "lead@acme.example")
		wantError(t, a.do(lead, "POST", "/invitations", map[string]any{"email": "boss@acme.example", "roles": []string{"Admin"}}), http.StatusForbidden, "")
		wantError(t, a.do(lead, "POST", "/invitations", map[string]any{"email": "boss@acme.example", "roles": []string{"Supervisor"}}), http.StatusForbidden, "")
		a.must(a.do(lead, "POST", "/invitations", map[string]any{"email": "new.agent@acme.example", "roles": []string{"Agent"}}), http.StatusCreated)
		outbox(t, acc)

		// List and filter.
		if l := a.must(a.do(a.as(), "GET", "/invitations", nil), http.StatusOK).list("invitations"); len(l) != 4 {
			t.Fatalf("%d invitations", len(l))
		}
		if l := a.must(a.do(a.as(), "GET", "/invitations?state=revoked", nil), http.StatusOK).list("invitations"); len(l) != 1 {
			t.Fatalf("%d revoked invitations", len(l))
		}

		// Resend: a new token and a new mail; the old link is dead.
		r = a.must(a.do(a.as(), "POST", "/invitations/"+invID+"/resend", nil), http.StatusOK)
		if r.num("sentCount") != 2 || r.str("deliveryStatus") != "queued" {
			t.Fatalf("resent: %s", r.raw)
		}
		mails = outbox(t, acc)
		if len(mails) != 1 || mails[0].Data.Token == "" || mails[0].Data.Token == firstToken {
			t.Fatalf("resend outbox: %+v", mails)
		}
		if _, err := acc.InvitationByToken(ctx, firstToken); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("old token after resend: %v", err)
		}

		// A permanent refusal suppresses the address; the invitation says why; resending is
		// refused until an admin clears the address.
		if err := acc.MailFailed(ctx, mails[0], "test-worker", "550 5.1.1 mailbox unavailable", true); err != nil {
			t.Fatal(err)
		}
		r = a.must(a.do(a.as(), "GET", "/invitations/"+invID, nil), http.StatusOK)
		if r.str("deliveryStatus") != "suppressed" || !strings.Contains(r.str("deliveryError"), "550") {
			t.Fatalf("suppressed invitation: %s", r.raw)
		}
		sup := a.must(a.do(a.as(), "GET", "/mail/suppressions", nil), http.StatusOK).list("suppressions")
		if len(sup) != 1 || sup[0].(map[string]any)["email"] != "Grace@acme.example" {
			t.Fatalf("suppressions: %v", sup)
		}
		wantError(t, a.do(a.as(), "POST", "/invitations/"+invID+"/resend", nil), http.StatusBadRequest, "email")
		if l := b.must(b.do(b.as(), "GET", "/mail/suppressions", nil), http.StatusOK).list("suppressions"); len(l) != 0 {
			t.Fatalf("globex sees acme's suppressions: %v", l)
		}
		wantError(t, b.do(b.as(), "DELETE", "/mail/suppressions/"+url.PathEscape("grace@acme.example"), nil), http.StatusNotFound, "")
		wantError(t, a.do(agent, "DELETE", "/mail/suppressions/"+url.PathEscape("grace@acme.example"), nil), http.StatusForbidden, "")
		a.must(a.do(a.as(), "DELETE", "/mail/suppressions/"+url.PathEscape("grace@acme.example"), nil), http.StatusNoContent)
		wantError(t, a.do(a.as(), "DELETE", "/mail/suppressions/"+url.PathEscape("grace@acme.example"), nil), http.StatusNotFound, "")
		a.must(a.do(a.as(), "POST", "/invitations/"+invID+"/resend", nil), http.StatusOK)
		outbox(t, acc)

		// Tenant isolation: globex neither sees nor changes acme's invitation.
		wantError(t, b.do(b.as(), "GET", "/invitations/"+invID, nil), http.StatusNotFound, "")
		wantError(t, b.do(b.as(), "POST", "/invitations/"+invID+"/resend", nil), http.StatusNotFound, "")
		wantError(t, b.do(b.as(), "POST", "/invitations/"+invID+"/revoke", nil), http.StatusNotFound, "")
		if l := b.must(b.do(b.as(), "GET", "/invitations", nil), http.StatusOK).list("invitations"); len(l) != 0 {
			t.Fatalf("globex sees %d invitations", len(l))
		}
		for _, path := range []string{"/invitations/nope", "/invitations/00000000-0000-4000-8000-000000000000"} {
			wantError(t, a.do(a.as(), "GET", path, nil), http.StatusNotFound, "")
			wantError(t, a.do(a.as(), "POST", path+"/resend", nil), http.StatusNotFound, "")
			wantError(t, a.do(a.as(), "POST", path+"/revoke", nil), http.StatusNotFound, "")
		}

		// Revoke is final: the user goes, a second revoke or a resend is 410.
		r = a.must(a.do(a.as(), "POST", "/invitations/"+invID+"/revoke", nil), http.StatusOK)
		if r.str("state") != "revoked" || r.str("revokedAt") == "" {
			t.Fatalf("revoked: %s", r.raw)
		}
		wantError(t, a.do(a.as(), "GET", "/users/"+userID, nil), http.StatusNotFound, "")
		wantError(t, a.do(a.as(), "POST", "/invitations/"+invID+"/revoke", nil), http.StatusGone, "state")
		wantError(t, a.do(a.as(), "POST", "/invitations/"+invID+"/resend", nil), http.StatusGone, "state")
		if l := a.must(a.do(a.as(), "GET", "/invitations?state=revoked", nil), http.StatusOK).list("invitations"); len(l) != 2 {
			t.Fatalf("%d revoked invitations", len(l))
		}

		// An accepted invitation can be neither resent nor revoked: 409.
		r = a.must(a.do(a.as(), "POST", "/invitations", map[string]any{"email": "joan@acme.example", "seat": true,
			"roles": []string{"Agent"}}), http.StatusCreated)
		joan := r.str("id")
		mails = outbox(t, acc)
		if len(mails) != 1 {
			t.Fatalf("outbox: %+v", mails)
		}
		if _, err := acc.AcceptInvitation(ctx, mails[0].Data.Token, provisioning.AcceptRequest{Password: "a long passphrase"}); err != nil {
			t.Fatal(err)
		}
		if r := a.must(a.do(a.as(), "GET", "/invitations/"+joan, nil), http.StatusOK); r.str("state") != "accepted" {
			t.Fatalf("accepted: %s", r.raw)
		}
		if r := a.do(a.as(), "POST", "/invitations/"+joan+"/resend", nil); r.str("error", "message") != "an accepted invitation cannot be resent" {
			t.Fatalf("resend accepted: %s", r.raw)
		}
		wantError(t, a.do(a.as(), "POST", "/invitations/"+joan+"/resend", nil), http.StatusConflict, "state")
		wantError(t, a.do(a.as(), "POST", "/invitations/"+joan+"/revoke", nil), http.StatusConflict, "state")
	})
}

func TestInvitationSeatLimit(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a, _ := newAccountsEnv(t, db, "tiny", 1)
		a.must(a.do(a.as(), "POST", "/invitations", map[string]any{"email": "one@tiny.example", "seat": true, "roles": []string{"Agent"}}), http.StatusCreated)
		r := a.do(a.as(), "POST", "/invitations", map[string]any{"email": "two@tiny.example", "seat": true, "roles": []string{"Agent"}})
		wantError(t, r, http.StatusConflict, "")
		if r.str("error", "code") != "seat_limit" {
			t.Fatalf("seat limit: %s", r.raw)
		}
	})
}

func TestLocalAccountsAPI(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a, acc := newAccountsEnv(t, db, "acme", 10)
		b := newTenant(t, db, a.eng, a.srv, "globex", 10)
		cli := provisioning.Actor{Kind: provisioning.ActorCLI, Name: "test"}
		if _, err := a.eng.UpdateTenant(ctx, cli, a.tenant.ID, func(t *provisioning.Tenant) error {
			t.Policy.AllowPasswordLogin = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		login := func(email, pw string) error {
			_, err := acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: a.tenant.ID, Email: email, Password: pw})
			return err
		}

		// "Add agent" with a generated password, the credentials mail and a forced change.
		r := a.must(a.do(a.as(), "POST", "/users/local", map[string]any{"email": "agent@acme.example", "displayName": "Ada Agent",
			"roles": []string{"Agent"}, "seat": true, "preferredLanguage": "de", "workPhone": "+49 30 1", "mobilePhone": "+49 170 2",
			"sendMail": true, "forceChange": true}), http.StatusCreated)
		agentID, temp := r.str("id"), r.str("temporaryPassword")
		if len(temp) != 16 || r.str("status") != "active" || r.str("seat") != "true" || r.str("preferredLanguage") != "de" ||
			r.str("workPhone") != "+49 30 1" || r.str("mobilePhone") != "+49 170 2" || r.header.Get("Location") != admin.Prefix+"/users/"+agentID {
			t.Fatalf("created: %s", r.raw)
		}
		mails := outbox(t, acc)
		if len(mails) != 1 || mails[0].Kind != provisioning.MailCredentials || mails[0].Data.Password != temp || !mails[0].Data.MustChange {
			t.Fatalf("credentials mail: %+v", mails)
		}
		var change *provisioning.PasswordChangeRequiredError
		if err := login("agent@acme.example", temp); !errors.As(err, &change) {
			t.Fatalf("first sign-in with the temporary password: %v", err)
		}
		// An admin-chosen password is not echoed, and no mail is queued unless asked.
		r = a.must(a.do(a.as(), "POST", "/users/local", map[string]any{"email": "desk@acme.example", "displayName": "Front desk", "password": "shared desk password",
			"roles": []string{"Agent"}, "seat": true}), http.StatusCreated)
		deskID := r.str("id")
		if r.str("temporaryPassword") != "" || strings.Contains(string(r.raw), "shared desk password") {
			t.Fatalf("password echoed: %s", r.raw)
		}
		if m := outbox(t, acc); len(m) != 0 {
			t.Fatalf("unasked mail: %+v", m)
		}
		if err := login("desk@acme.example", "shared desk password"); err != nil {
			t.Fatalf("sign-in: %v", err)
		}

		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"displayName": "x"}, "email"},
			{map[string]any{"email": "nope"}, "email"},
			{map[string]any{"email": "x@acme.example", "displayName": "X", "password": "short"}, "password"},
			{map[string]any{"email": "x@acme.example", "passwordRestricted": true, "forceChange": true}, "forceChange"},
			{map[string]any{"email": "x@acme.example"}, "displayName"},
			{map[string]any{"email": "x@acme.example", "displayName": "X", "password": "password123"}, "password"},
			{map[string]any{"email": "x@acme.example", "displayName": "X", "preferredLanguage": "not a tag"}, "preferredLanguage"},
			{map[string]any{"email": "x@acme.example", "displayName": "X", "roles": []string{"Nope"}}, "roles[0]"},
			{map[string]any{"email": "x@acme.example", "phoneNumbers": []string{"1"}}, "phoneNumbers"},
		} {
			wantError(t, a.do(a.as(), "POST", "/users/local", tc.body), http.StatusBadRequest, tc.field)
		}
		wantError(t, a.do(a.as(), "POST", "/users/local", map[string]any{"email": "AGENT@acme.example", "displayName": "A"}), http.StatusConflict, "")
		// PATCH never sets a password.
		wantError(t, a.do(a.as(), "PATCH", "/users/"+deskID, map[string]any{"password": "another long one"}), http.StatusBadRequest, "password")

		// Permissions: Agents are refused; a manage_users custom role cannot create Admins
		// nor touch an Admin's credentials.
		agent, _ := a.session("viewer@acme.example", "Agent")
		wantError(t, a.do(agent, "POST", "/users/local", map[string]any{"email": "y@acme.example"}), http.StatusForbidden, "")
		wantError(t, a.do(agent, "POST", "/users/"+deskID+"/password/reset", nil), http.StatusForbidden, "")
		lead, _ := helpdeskLead(a, "lead@acme.example")
		wantError(t, a.do(lead, "POST", "/users/local", map[string]any{"email": "y@acme.example", "displayName": "Y", "roles": []string{"Admin"}}), http.StatusForbidden, "")
		_, bossID := a.session("boss@acme.example", "Admin")
		wantError(t, a.do(lead, "POST", "/users/"+bossID+"/password/reset", nil), http.StatusForbidden, "")
		wantError(t, a.do(lead, "POST", "/users/"+bossID+"/unlock", nil), http.StatusForbidden, "")
		wantError(t, a.do(lead, "PUT", "/users/"+bossID+"/password-restricted", map[string]any{"passwordRestricted": true}), http.StatusForbidden, "")
		// The lead may manage the agent.
		r = a.must(a.do(lead, "POST", "/users/"+agentID+"/password/reset", map[string]any{"forceChange": true}), http.StatusOK)
		if len(r.str("temporaryPassword")) != 16 || r.str("temporaryPassword") == temp {
			t.Fatalf("reset: %s", r.raw)
		}
		temp = r.str("temporaryPassword")

		// Reset with and without a body; a given password is not echoed.
		r = a.must(a.do(a.as(), "POST", "/users/"+deskID+"/password/reset", nil), http.StatusOK)
		if len(r.str("temporaryPassword")) != 16 {
			t.Fatalf("reset without body: %s", r.raw)
		}
		r = a.must(a.do(a.as(), "POST", "/users/"+deskID+"/password/reset", map[string]any{"password": "the new desk password", "sendMail": true}), http.StatusOK)
		if r.str("temporaryPassword") != "" || r.str("mailQueued") != "true" {
			t.Fatalf("reset with password: %s", r.raw)
		}
		if m := outbox(t, acc); len(m) != 1 || m[0].Data.Password != "the new desk password" || m[0].To != "desk@acme.example" {
			t.Fatalf("reset mail: %+v", m)
		}
		wantError(t, a.do(a.as(), "POST", "/users/"+deskID+"/password/reset", map[string]any{"password": "short"}), http.StatusBadRequest, "password")
		wantError(t, a.do(a.as(), "POST", "/users/"+deskID+"/password/reset", map[string]any{"force": true}), http.StatusBadRequest, "force")

		// Lockout and unlock.
		for range acc.Lockout.MaxFailures {
			_ = login("desk@acme.example", "wrong password!")
		}
		var refused *provisioning.LoginRefusedError
		if err := login("desk@acme.example", "the new desk password"); !errors.As(err, &refused) || refused.Reason != provisioning.RefuseLockedOut {
			t.Fatalf("locked account signed in: %v", err)
		}
		a.must(a.do(a.as(), "POST", "/users/"+deskID+"/unlock", nil), http.StatusNoContent)
		if err := login("desk@acme.example", "the new desk password"); err != nil {
			t.Fatalf("after unlock: %v", err)
		}

		// Password-restricted: the user cannot change its own password any more.
		r = a.must(a.do(a.as(), "PUT", "/users/"+deskID+"/password-restricted", map[string]any{"passwordRestricted": true}), http.StatusOK)
		if r.str("passwordRestricted") != "true" {
			t.Fatalf("restricted: %s", r.raw)
		}
		if err := acc.ChangeOwnPassword(ctx, a.tenant.ID, deskID, "the new desk password", "my own new password", ""); !errors.Is(err, provisioning.ErrPasswordRestricted) {
			t.Fatalf("restricted user changed its password: %v", err)
		}
		wantError(t, a.do(a.as(), "PUT", "/users/"+deskID+"/password-restricted", map[string]any{}), http.StatusBadRequest, "passwordRestricted")
		wantError(t, a.do(a.as(), "POST", "/users/"+deskID+"/password/reset", map[string]any{"forceChange": true}), http.StatusBadRequest, "forceChange")
		a.must(a.do(a.as(), "PUT", "/users/"+deskID+"/password-restricted", map[string]any{"passwordRestricted": false}), http.StatusOK)

		// Not found, and tenant isolation: globex cannot touch acme's users.
		for _, id := range []string{"nope", "00000000-0000-4000-8000-000000000000"} {
			wantError(t, a.do(a.as(), "POST", "/users/"+id+"/password/reset", nil), http.StatusNotFound, "")
			wantError(t, a.do(a.as(), "POST", "/users/"+id+"/unlock", nil), http.StatusNotFound, "")
			wantError(t, a.do(a.as(), "PUT", "/users/"+id+"/password-restricted", map[string]any{"passwordRestricted": true}), http.StatusNotFound, "")
		}
		wantError(t, b.do(b.as(), "POST", "/users/"+agentID+"/password/reset", nil), http.StatusNotFound, "")
		wantError(t, b.do(b.as(), "POST", "/users/"+agentID+"/unlock", nil), http.StatusNotFound, "")
		wantError(t, b.do(b.as(), "PUT", "/users/"+agentID+"/password-restricted", map[string]any{"passwordRestricted": true}), http.StatusNotFound, "")
		if err := login("agent@acme.example", temp); !errors.As(err, &change) {
			t.Fatalf("the agent's password changed through another tenant: %v", err)
		}
	})
}

// Without Accounts the endpoints exist but answer 501.
func TestAccountsNotConfigured(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 1)
		for _, path := range []string{"/invitations", "/mail/suppressions"} {
			wantError(t, e.do(e.as(), "GET", path, nil), http.StatusNotImplemented, "")
		}
		wantError(t, e.do(e.as(), "POST", "/users/local", map[string]any{"email": "a@acme.example"}), http.StatusNotImplemented, "")
	})
}

// TestAdminGivenTeamsAreAdminGrants is the regression test of issue #12: the teams an admin
// gives when creating a local user, sending an invitation (then accepted) or inviting an
// existing account later are admin grants (source "admin"), so the admin API can take
// them away again.
func TestAdminGivenTeamsAreAdminGrants(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a, acc := newAccountsEnv(t, db, "acme", 10)
		team := a.must(a.do(a.as(), "POST", "/teams", map[string]any{"name": "Tier 1"}), http.StatusCreated).str("id")
		other := a.must(a.do(a.as(), "POST", "/teams", map[string]any{"name": "Tier 2"}), http.StatusCreated).str("id")

		local := a.must(a.do(a.as(), "POST", "/users/local", map[string]any{"email": "local@acme.example", "displayName": "Local",
			"teams": []string{"Tier 1"}}), http.StatusCreated).str("id")
		invited := a.must(a.do(a.as(), "POST", "/invitations", map[string]any{"email": "invited@acme.example",
			"teams": []string{"Tier 1"}}), http.StatusCreated).str("userId")
		// Invite later: the account already has an admin-granted team, which the
		// invitation's teams join rather than replace.
		later := a.user("later@acme.example", map[string]any{"teams": []string{"Tier 2"}})
		a.must(a.do(a.as(), "POST", "/users/"+later+"/invite", map[string]any{"teams": []string{"Tier 1"}}), http.StatusCreated)
		// The invitee accepts: its teams stay the admin's grants.
		accepted := false
		for _, m := range outbox(t, acc) {
			if m.To == "invited@acme.example" {
				if _, err := acc.AcceptInvitation(ctx, m.Data.Token, provisioning.AcceptRequest{Password: "a long passphrase"}); err != nil {
					t.Fatalf("accept: %v", err)
				}
				accepted = true
			}
		}
		if u := a.must(a.do(a.as(), "GET", "/users/"+invited, nil), http.StatusOK); !accepted || u.str("status") != "active" {
			t.Fatalf("invitation not accepted (mail found: %v): %s", accepted, u.raw)
		}

		for _, id := range []string{local, invited, later} {
			u := a.must(a.do(a.as(), "GET", "/users/"+id, nil), http.StatusOK)
			access, _ := u.body["access"].([]any)
			var teams []string
			for _, g := range access {
				m, _ := g.(map[string]any)
				if m["kind"] == "team" {
					teams = append(teams, fmt.Sprint(m["name"], "/", m["source"]))
				}
			}
			want := "[Tier 1/admin]"
			if id == later {
				want = "[Tier 1/admin Tier 2/admin]"
			}
			if got := fmt.Sprint(teams); got != want {
				t.Fatalf("user %s team grants %s, want %s: %s", id, got, want, u.raw)
			}
		}
		a.must(a.do(a.as(), "DELETE", "/teams/"+team+"/members/"+local, nil), http.StatusNoContent)
		if u := a.must(a.do(a.as(), "PUT", "/users/"+invited+"/teams", map[string]any{"teams": []string{}}), http.StatusOK); u.str("teams") != "[]" {
			t.Fatalf("teams after removing every admin grant: %s", u.raw)
		}
		a.must(a.do(a.as(), "DELETE", "/teams/"+team+"/members/"+later, nil), http.StatusNoContent)
		a.must(a.do(a.as(), "DELETE", "/teams/"+other+"/members/"+later, nil), http.StatusNoContent)
		for _, id := range []string{local, invited, later} {
			if u := a.must(a.do(a.as(), "GET", "/users/"+id, nil), http.StatusOK); u.str("teams") != "[]" {
				t.Fatalf("user %s keeps teams: %s", id, u.raw)
			}
		}
	})
}
