package provisioning_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

var admin = provisioning.Actor{Kind: provisioning.ActorAdminToken, ID: "tok", Name: "Ada Admin"}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	ctx    context.Context
	db     *store.DB
	acc    *provisioning.Accounts
	clock  *clock
	tenant *provisioning.Tenant
}

// fastPasswords keeps argon2id real but cheap, so that tests exercise the same code.
var fastPasswords = provisioning.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1, Concurrency: 4}

func newFixture(t *testing.T, db *store.DB, seats int) *fixture {
	t.Helper()
	ctx := context.Background()
	eng := provisioning.NewEngine(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	clk := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	eng.Now = clk.Now
	box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	acc := provisioning.NewAccounts(eng, box)
	acc.Password = fastPasswords
	tn, err := eng.CreateTenant(ctx, admin, "acme", "Acme Inc", seats)
	if err != nil {
		t.Fatal(err)
	}
	tn, err = eng.UpdateTenant(ctx, admin, tn.ID, func(t *provisioning.Tenant) error {
		t.Policy.InvitationTTL = provisioning.Duration(24 * time.Hour)
		t.Policy.AllowPasswordLogin = true
		t.Policy.BlockFreeMail = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, db: db, acc: acc, clock: clk, tenant: tn}
}

// inviteToken creates an invitation and reads its token back from the sealed outbox, the
// way the mail worker does.
func (f *fixture) invite(t *testing.T, email string, seat bool) (*provisioning.Invitation, string) {
	t.Helper()
	inv, err := f.acc.CreateInvitation(f.ctx, admin, f.tenant.ID, provisioning.InvitationRequest{
		Email: email, DisplayName: "Grace Hopper", Roles: []string{"Agent"}, Seat: seat})
	if err != nil {
		t.Fatalf("create invitation: %v", err)
	}
	return inv, f.latestToken(t, inv.ID)
}

func (f *fixture) latestToken(t *testing.T, invID string) string {
	t.Helper()
	mails, err := f.acc.ClaimMail(f.ctx, "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	tok := ""
	for _, m := range mails {
		if m.RefID == invID {
			tok = m.Data.Token
		}
		if err := f.acc.MailSent(f.ctx, m, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if tok == "" {
		t.Fatalf("no queued invitation mail for %s", invID)
	}
	return tok
}

func unusableState(err error) provisioning.InvitationState {
	var ue *provisioning.InvitationUnusableError
	if errors.As(err, &ue) {
		return ue.State
	}
	return ""
}

func TestInvitationLifecycle(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 5)
		ctx := f.ctx

		t.Run("accept", func(t *testing.T) {
			inv, tok := f.invite(t, "Grace@Example.COM", true)
			if inv.Email != "Grace@example.com" || inv.State != provisioning.InvitePending || len(inv.TokenHash) != 32 {
				t.Fatalf("invitation = %+v", inv)
			}
			u, err := f.acc.GetUser(ctx, f.tenant.ID, inv.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Status != provisioning.StatusInvited || !u.Seat || len(u.Roles) != 1 || u.Roles[0] != "Agent" {
				t.Fatalf("invited user = status %s seat %v roles %v", u.Status, u.Seat, u.Roles)
			}
			view, err := f.acc.InvitationByToken(ctx, tok)
			if err != nil || view.Mode != provisioning.AcceptPassword || view.Tenant.ID != f.tenant.ID {
				t.Fatalf("view = %+v, %v", view, err)
			}
			if _, err := f.acc.AcceptInvitation(ctx, tok, provisioning.AcceptRequest{Password: "short"}); !isInvalid(err) {
				t.Fatalf("weak password: %v", err)
			}
			res, err := f.acc.AcceptInvitation(ctx, tok, provisioning.AcceptRequest{Password: "correct horse battery", DisplayName: "Grace B. Hopper"})
			if err != nil {
				t.Fatal(err)
			}
			if res.User.Status != provisioning.StatusActive || res.User.DisplayName != "Grace B. Hopper" || res.Invitation.State != provisioning.InviteAccepted {
				t.Fatalf("accepted = %+v / %+v", res.User, res.Invitation)
			}
			if _, err := f.acc.AcceptInvitation(ctx, tok, provisioning.AcceptRequest{Password: "correct horse battery"}); unusableState(err) != provisioning.InviteAccepted {
				t.Fatalf("second accept: %v", err)
			}
			if _, err := f.acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: f.tenant.ID, Email: "grace@example.com", Password: "correct horse battery"}); err != nil {
				t.Fatalf("login after accept: %v", err)
			}
		})

		t.Run("expire", func(t *testing.T) {
			inv, tok := f.invite(t, "late@example.com", false)
			f.clock.Add(24*time.Hour + time.Second)
			if _, err := f.acc.InvitationByToken(ctx, tok); unusableState(err) != provisioning.InviteExpired {
				t.Fatalf("expired view: %v", err)
			}
			if _, err := f.acc.AcceptInvitation(ctx, tok, provisioning.AcceptRequest{Password: "correct horse battery"}); unusableState(err) != provisioning.InviteExpired {
				t.Fatalf("expired accept: %v", err)
			}
			list, err := f.acc.ListInvitations(ctx, f.tenant.ID, provisioning.InviteExpired)
			if err != nil || len(list) != 1 || list[0].ID != inv.ID || list[0].State != provisioning.InviteExpired {
				t.Fatalf("expired list = %+v, %v", list, err)
			}
			// Resending an expired invitation revives it with a new token and expiry.
			if _, err := f.acc.ResendInvitation(ctx, admin, f.tenant.ID, inv.ID); err != nil {
				t.Fatal(err)
			}
			tok2 := f.latestToken(t, inv.ID)
			if _, err := f.acc.AcceptInvitation(ctx, tok2, provisioning.AcceptRequest{Password: "correct horse battery"}); err != nil {
				t.Fatalf("accept after resend: %v", err)
			}
		})

		t.Run("resend invalidates old token", func(t *testing.T) {
			inv, old := f.invite(t, "resend@example.com", false)
			got, err := f.acc.ResendInvitation(ctx, admin, f.tenant.ID, inv.ID)
			if err != nil || got.SentCount != 2 {
				t.Fatalf("resend = %+v, %v", got, err)
			}
			fresh := f.latestToken(t, inv.ID)
			if fresh == old {
				t.Fatal("resend reused the token")
			}
			if _, err := f.acc.AcceptInvitation(ctx, old, provisioning.AcceptRequest{Password: "correct horse battery"}); !errors.Is(err, provisioning.ErrNotFound) {
				t.Fatalf("old token: %v", err)
			}
			if _, err := f.acc.AcceptInvitation(ctx, fresh, provisioning.AcceptRequest{Password: "correct horse battery"}); err != nil {
				t.Fatalf("new token: %v", err)
			}
		})

		t.Run("revoke", func(t *testing.T) {
			before, _ := f.acc.GetTenant(ctx, f.tenant.ID)
			inv, tok := f.invite(t, "gone@example.com", true)
			got, err := f.acc.RevokeInvitation(ctx, admin, f.tenant.ID, inv.ID)
			if err != nil || got.State != provisioning.InviteRevoked {
				t.Fatalf("revoke = %+v, %v", got, err)
			}
			if _, err := f.acc.AcceptInvitation(ctx, tok, provisioning.AcceptRequest{Password: "correct horse battery"}); unusableState(err) != provisioning.InviteRevoked {
				t.Fatalf("accept after revoke: %v", err)
			}
			if _, err := f.acc.GetUser(ctx, f.tenant.ID, inv.UserID); !errors.Is(err, provisioning.ErrNotFound) {
				t.Fatalf("invited user still there: %v", err)
			}
			after, _ := f.acc.GetTenant(ctx, f.tenant.ID)
			if after.SeatsUsed != before.SeatsUsed {
				t.Fatalf("seat not freed: %d → %d", before.SeatsUsed, after.SeatsUsed)
			}
			if _, err := f.acc.RevokeInvitation(ctx, admin, f.tenant.ID, inv.ID); !isInvalid(err) {
				t.Fatalf("second revoke: %v", err)
			}
			if _, err := f.acc.ResendInvitation(ctx, admin, f.tenant.ID, inv.ID); !isInvalid(err) {
				t.Fatalf("resend revoked: %v", err)
			}
			// Irreversible, but the person can be invited from scratch.
			f.invite(t, "gone@example.com", false)
		})

		t.Run("concurrent double accept gives one account", func(t *testing.T) {
			inv, tok := f.invite(t, "twice@example.com", true)
			const n = 4
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = f.acc.AcceptInvitation(ctx, tok, provisioning.AcceptRequest{Password: "correct horse battery"})
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case unusableState(err) == provisioning.InviteAccepted:
				default:
					t.Errorf("accept: %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d accepts succeeded, want 1", ok)
			}
			found, err := f.acc.ListUsers(ctx, f.tenant.ID, provisioning.UserQuery{Search: "twice", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			count := 0
			for _, u := range found.Users {
				if provisioning.FoldKey(u.UserName) == "twice@example.com" {
					count++
					if u.ID != inv.UserID || u.Status != provisioning.StatusActive {
						t.Fatalf("user = %+v", u)
					}
				}
			}
			if count != 1 {
				t.Fatalf("%d accounts for one invitation", count)
			}
		})

		t.Run("policy and duplicates", func(t *testing.T) {
			for _, email := range []string{"not-an-address", "someone@gmail.com", "a@b"} {
				if _, err := f.acc.CreateInvitation(ctx, admin, f.tenant.ID, provisioning.InvitationRequest{Email: email}); !isInvalid(err) {
					t.Errorf("%s: %v", email, err)
				}
			}
			if _, err := f.acc.CreateInvitation(ctx, admin, f.tenant.ID, provisioning.InvitationRequest{Email: "GRACE@example.com"}); !errors.Is(err, provisioning.ErrConflict) {
				t.Errorf("existing user: %v", err)
			}
			if _, err := f.acc.CreateInvitation(ctx, admin, f.tenant.ID, provisioning.InvitationRequest{Email: "x@example.com", Roles: []string{"Nope"}}); !isInvalid(err) {
				t.Errorf("unknown role: %v", err)
			}
			user := provisioning.Actor{Kind: provisioning.ActorUser, ID: "someone"}
			if _, err := f.acc.CreateInvitation(ctx, user, f.tenant.ID, provisioning.InvitationRequest{Email: "y@example.com", Roles: []string{"Admin"}}); !errors.Is(err, provisioning.ErrForbidden) {
				t.Errorf("non-admin grants Admin: %v", err)
			}
		})

		t.Run("tenant isolation", func(t *testing.T) {
			other, err := f.acc.CreateTenant(ctx, admin, "other", "Other", 1)
			if err != nil {
				t.Fatal(err)
			}
			inv, _ := f.invite(t, "iso@example.com", false)
			if _, err := f.acc.RevokeInvitation(ctx, admin, other.ID, inv.ID); !errors.Is(err, provisioning.ErrNotFound) {
				t.Fatalf("revoke from other tenant: %v", err)
			}
			if list, _ := f.acc.ListInvitations(ctx, other.ID, ""); len(list) != 0 {
				t.Fatalf("other tenant sees %d invitations", len(list))
			}
		})
	})
}

func isInvalid(err error) bool {
	var ve *provisioning.ValidationError
	return errors.As(err, &ve)
}

func TestPasswords(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 5)
		ctx := f.ctx
		login := func(email, pw string) (*provisioning.LoginResult, error) {
			return f.acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: f.tenant.ID, Email: email, Password: pw, IP: "192.0.2.1"})
		}
		reason := func(err error) provisioning.RefusalReason {
			var r *provisioning.LoginRefusedError
			if errors.As(err, &r) {
				return r.Reason
			}
			return ""
		}

		t.Run("wrong password and forced change", func(t *testing.T) {
			u, temp, err := f.acc.CreateLocalUser(ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{
				Email: "agent@example.com", DisplayName: "Agent One", Seat: true, ForceChange: true, SendMail: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(temp) != 16 || u.PasswordHash == "" || u.Status != provisioning.StatusActive {
				t.Fatalf("user %+v temp %q", u, temp)
			}
			if _, err := login("agent@example.com", "wrong password!"); reason(err) != provisioning.RefuseBadCredentials {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := login("nobody@example.com", temp); reason(err) != provisioning.RefuseBadCredentials {
				t.Fatalf("unknown user: %v", err)
			}
			_, err = login("AGENT@example.com", temp)
			var change *provisioning.PasswordChangeRequiredError
			if !errors.As(err, &change) || change.Ticket == "" {
				t.Fatalf("temporary password: %v", err)
			}
			if _, err := f.acc.CompletePasswordChange(ctx, f.tenant.ID, change.Ticket, temp, "", ""); !isInvalid(err) {
				t.Fatalf("reusing the temporary password: %v", err)
			}
			res, err := f.acc.CompletePasswordChange(ctx, f.tenant.ID, change.Ticket, "my own new password", "", "")
			if err != nil || res.Session == nil || res.SessionSecret == "" {
				t.Fatalf("complete change: %+v, %v", res, err)
			}
			if _, err := f.acc.CompletePasswordChange(ctx, f.tenant.ID, change.Ticket, "another new password", "", ""); !errors.Is(err, provisioning.ErrSessionEnded) {
				t.Fatalf("ticket reuse: %v", err)
			}
			if _, err := login("agent@example.com", temp); reason(err) != provisioning.RefuseBadCredentials {
				t.Fatalf("old temporary password still works: %v", err)
			}
			res, err = login("agent@example.com", "my own new password")
			if err != nil {
				t.Fatal(err)
			}
			access, err := f.acc.SessionAccess(ctx, res.Session.ID, res.SessionSecret)
			if err != nil || access.User.ID != u.ID || access.Session.AMR != "pwd" {
				t.Fatalf("session access = %+v, %v", access, err)
			}
			logins, err := f.db.ListLogins(ctx, f.tenant.ID, provisioning.LoginQuery{})
			if err != nil {
				t.Fatal(err)
			}
			results := map[string]int{}
			for _, ev := range logins {
				if ev.Method == "password" {
					results[ev.Result+"/"+ev.Reason]++
				}
			}
			if results["refused/bad_credentials"] < 3 || results["challenge/password_change_required"] != 1 || results["success/"] != 2 {
				t.Fatalf("login events = %v", results)
			}
			if err := f.acc.ChangeOwnPassword(ctx, f.tenant.ID, u.ID, "my own new password", "a third good password", ""); err != nil {
				t.Fatalf("voluntary change: %v", err)
			}
		})

		t.Run("restricted role", func(t *testing.T) {
			if _, _, err := f.acc.CreateLocalUser(ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{
				Email: "dr@example.com", Restricted: true, ForceChange: true}); !isInvalid(err) {
				t.Fatalf("restricted + force change: %v", err)
			}
			u, _, err := f.acc.CreateLocalUser(ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{
				Email: "dr@example.com", DisplayName: "DR desk", Restricted: true, Seat: true, Password: "shared dr password"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := login("dr@example.com", "shared dr password"); err != nil {
				t.Fatalf("restricted login: %v", err)
			}
			err = f.acc.ChangeOwnPassword(ctx, f.tenant.ID, u.ID, "shared dr password", "my private password", "")
			if !errors.Is(err, provisioning.ErrPasswordRestricted) || !errors.Is(err, provisioning.ErrForbidden) {
				t.Fatalf("restricted change: %v", err)
			}
			// The admin still manages the shared password.
			if _, err := f.acc.ResetPassword(ctx, admin, f.tenant.ID, u.ID, provisioning.ResetPasswordRequest{Password: "new shared password"}); err != nil {
				t.Fatal(err)
			}
			if _, err := login("dr@example.com", "new shared password"); err != nil {
				t.Fatalf("after reset: %v", err)
			}
		})

		t.Run("lockout", func(t *testing.T) {
			u, _, err := f.acc.CreateLocalUser(ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{
				Email: "target@example.com", DisplayName: "Tara Target", Seat: true, Password: "the real password"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range f.acc.Lockout.MaxFailures {
				if _, err := login("target@example.com", "guess number "+string(rune('a'+i))); reason(err) != provisioning.RefuseBadCredentials {
					t.Fatalf("guess %d: %v", i, err)
				}
			}
			if _, err := login("target@example.com", "the real password"); reason(err) != provisioning.RefuseLockedOut {
				t.Fatalf("locked account accepted the right password: %v", err)
			}
			// The lock is in the database: another engine (another replica) sees it.
			other := provisioning.NewAccounts(provisioning.NewEngine(f.db, nil), nil)
			other.Password, other.Now = fastPasswords, f.clock.Now
			if _, err := other.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: f.tenant.ID, Email: "target@example.com", Password: "the real password"}); reason(err) != provisioning.RefuseLockedOut {
				t.Fatalf("other replica: %v", err)
			}
			f.clock.Add(16 * time.Minute)
			if _, err := login("target@example.com", "the real password"); err != nil {
				t.Fatalf("after the lock expired: %v", err)
			}
			// Another failure streak locks again; an admin can unlock.
			for range f.acc.Lockout.MaxFailures {
				_, _ = login("target@example.com", "wrong again")
			}
			if err := f.acc.UnlockAccount(ctx, admin, f.tenant.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := login("target@example.com", "the real password"); err != nil {
				t.Fatalf("after unlock: %v", err)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			if _, _, err := f.acc.CreateLocalUser(ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{
				Email: "noseat@example.com", DisplayName: "No Seat", Password: "a fine password"}); err != nil {
				t.Fatal(err)
			}
			if _, err := login("noseat@example.com", "a fine password"); reason(err) != provisioning.RefuseNoSeat {
				t.Fatalf("no seat: %v", err)
			}
			if _, err := f.acc.UpdateTenant(ctx, admin, f.tenant.ID, func(t *provisioning.Tenant) error {
				t.Policy.AllowPasswordLogin = false
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// Without an SSO connection passwords are the only way in: still allowed.
			if _, err := login("target@example.com", "the real password"); err != nil {
				t.Fatalf("no SSO connection, allowPasswordLogin false: %v", err)
			}
			if _, err := f.acc.CreateConnection(ctx, admin, f.tenant.ID, &provisioning.Connection{Type: provisioning.ConnOIDC,
				Mode: provisioning.ModeJIT, OIDC: &provisioning.OIDCSettings{Issuer: "https://idp.example.com", ClientID: "c"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := login("target@example.com", "the real password"); reason(err) != provisioning.RefusePasswordDisabled {
				t.Fatalf("password login disabled: %v", err)
			}
			// No dead ends: an invitation nobody could accept, or credentials that could
			// not sign in, are refused with the way out.
			if _, err := f.acc.CreateInvitation(ctx, admin, f.tenant.ID, provisioning.InvitationRequest{Email: "lost@example.com"}); !isInvalid(err) ||
				!strings.Contains(err.Error(), "turn on allowPasswordLogin") {
				t.Fatalf("unreachable invitation: %v", err)
			}
			if _, _, err := f.acc.CreateLocalUser(ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{Email: "mailed@example.com",
				DisplayName: "Mailed", SendMail: true}); !isInvalid(err) {
				t.Fatalf("credentials mail to an SSO-only tenant: %v", err)
			}
		})
	})
}

func TestPasswordHash(t *testing.T) {
	h, err := provisioning.HashPassword(provisioning.DefaultPasswordParams, "pässwörd with unicode")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := provisioning.VerifyPassword(h, "pässwörd with unicode"); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	if ok, _ := provisioning.VerifyPassword(h, "password with unicode"); ok {
		t.Fatal("wrong password verified")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA"} {
		if _, err := provisioning.VerifyPassword(bad, "x"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
