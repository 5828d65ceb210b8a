package admin_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// passwordSession signs a local user in through the engine the password page uses and
// returns the session as cookie auth.
func passwordSession(t *testing.T, acc *provisioning.Accounts, tenantID, email, pw string) auth {
	t.Helper()
	res, err := acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: tenantID, Email: email, Password: pw})
	if err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	return auth{cookie: res.Session.ID + "." + res.SessionSecret}
}

// Self-service: an Agent (no manage_users) manages their own account under /me and
// nothing else.
func TestMeSelfService(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a, acc := newAccountsEnv(t, db, "acme", 10)
		if _, _, err := acc.CreateLocalUser(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, a.tenant.ID, provisioning.LocalUserRequest{
			Email: "agent@acme.example", DisplayName: "Ada Agent", Password: "violet kayak thunder", Seat: true, Roles: []string{"Agent"}}); err != nil {
			t.Fatal(err)
		}
		me := passwordSession(t, acc, a.tenant.ID, "agent@acme.example", "violet kayak thunder")

		// Read the profile; the admin API proper stays closed to an Agent.
		r := a.must(a.do(me, "GET", "/me", nil), http.StatusOK)
		if r.str("user", "email") != "agent@acme.example" || r.str("twoFactor", "totp") != "false" {
			t.Fatalf("me: %s", r.raw)
		}
		wantError(t, a.do(me, "GET", "/users", nil), http.StatusForbidden, "")

		// Edit names, external ID and language (canonical BCP 47); the address is not editable.
		r = a.must(a.do(me, "PATCH", "/me", map[string]any{"givenName": "Ada", "familyName": "Lovelace", "externalId": "SF-42",
			"preferredLanguage": "de-ch"}), http.StatusOK)
		if r.str("user", "givenName") != "Ada" || r.str("user", "externalId") != "SF-42" || r.str("user", "preferredLanguage") != "de-CH" {
			t.Fatalf("edited: %s", r.raw)
		}
		wantError(t, a.do(me, "PATCH", "/me", map[string]any{"preferredLanguage": "english!"}), http.StatusBadRequest, "preferredLanguage")
		wantError(t, a.do(me, "PATCH", "/me", map[string]any{"email": "x@acme.example"}), http.StatusBadRequest, "email")
		wantError(t, a.do(a.as(), "PATCH", "/me", map[string]any{"givenName": "Token"}), http.StatusForbidden, "")

		// Change the password: the current one is required, the new one must be strong.
		wantError(t, a.do(me, "POST", "/me/password", map[string]any{"currentPassword": "wrong one", "newPassword": "orange piano glacier"}),
			http.StatusBadRequest, "currentPassword")
		wantError(t, a.do(me, "POST", "/me/password", map[string]any{"currentPassword": "violet kayak thunder", "newPassword": "password123"}),
			http.StatusBadRequest, "newPassword")
		a.must(a.do(me, "POST", "/me/password", map[string]any{"currentPassword": "violet kayak thunder", "newPassword": "orange piano glacier"}),
			http.StatusNoContent)
		other := passwordSession(t, acc, a.tenant.ID, "agent@acme.example", "orange piano glacier")
		third := passwordSession(t, acc, a.tenant.ID, "agent@acme.example", "orange piano glacier")
		// A password change signs the other devices out.
		a.must(a.do(other, "POST", "/me/password", map[string]any{"currentPassword": "orange piano glacier", "newPassword": "orange piano glacier 2"}),
			http.StatusNoContent)
		wantError(t, a.do(me, "GET", "/me", nil), http.StatusUnauthorized, "")
		wantError(t, a.do(third, "GET", "/me", nil), http.StatusUnauthorized, "")
		me = passwordSession(t, acc, a.tenant.ID, "agent@acme.example", "orange piano glacier 2")
		a.must(a.do(me, "POST", "/me/password", map[string]any{"currentPassword": "orange piano glacier 2", "newPassword": "orange piano glacier"}),
			http.StatusNoContent)
		wantError(t, a.do(other, "GET", "/me", nil), http.StatusUnauthorized, "")
		other = passwordSession(t, acc, a.tenant.ID, "agent@acme.example", "orange piano glacier")

		// List and end own sessions; another user's session is not found.
		ss := a.must(a.do(me, "GET", "/me/sessions", nil), http.StatusOK).list("sessions")
		if len(ss) != 2 {
			t.Fatalf("%d sessions", len(ss))
		}
		var otherID string
		for _, s := range ss {
			m := s.(map[string]any)
			if m["current"] != true {
				otherID = m["id"].(string)
			}
		}
		_, adminSessID := a.session("boss@acme.example", "Admin")
		wantError(t, a.do(me, "DELETE", "/me/sessions/sess-"+adminSessID, nil), http.StatusNotFound, "")
		a.must(a.do(me, "DELETE", "/me/sessions/"+otherID, nil), http.StatusNoContent)
		wantError(t, a.do(other, "GET", "/me", nil), http.StatusUnauthorized, "")
		passwordSession(t, acc, a.tenant.ID, "agent@acme.example", "orange piano glacier")
		if n := a.must(a.do(me, "DELETE", "/me/sessions", nil), http.StatusOK).num("ended"); n != 1 {
			t.Fatalf("ended %d other sessions, want 1", n)
		}
		if ss := a.must(a.do(me, "GET", "/me/sessions", nil), http.StatusOK).list("sessions"); len(ss) != 1 {
			t.Fatalf("%d sessions left", len(ss))
		}

		// TOTP: set up, a wrong first code is refused, the right one returns recovery codes.
		en := a.must(a.do(me, "POST", "/me/2fa/totp", nil), http.StatusCreated)
		secret := en.str("secret")
		if secret == "" || en.str("qrPng") == "" || en.str("otpauthUri") == "" {
			t.Fatalf("enrolment: %s", en.raw)
		}
		wantError(t, a.do(me, "POST", "/me/2fa/totp/confirm", map[string]any{"code": "000000x"}), http.StatusBadRequest, "code")
		code, _ := totp.GenerateCode(secret, time.Now())
		rc := a.must(a.do(me, "POST", "/me/2fa/totp/confirm", map[string]any{"code": code}), http.StatusOK).list("recoveryCodes")
		if len(rc) != 10 {
			t.Fatalf("%d recovery codes", len(rc))
		}
		if st := a.must(a.do(me, "GET", "/me/2fa", nil), http.StatusOK); st.str("totp") != "true" || st.num("recoveryCodesLeft") != 10 {
			t.Fatalf("2fa status: %s", st.raw)
		}
		wantError(t, a.do(me, "POST", "/me/2fa/totp", nil), http.StatusConflict, "totp")

		// Sign-in now asks for the second factor; the code already used is refused
		// (no replay), a recovery code works once.
		_, err := acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: a.tenant.ID, Email: "agent@acme.example", Password: "orange piano glacier"})
		var second *provisioning.SecondFactorRequiredError
		if !errors.As(err, &second) || second.Enrol {
			t.Fatalf("password alone: %v", err)
		}
		var refused *provisioning.LoginRefusedError
		if _, err := acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, code, "", ""); !errors.As(err, &refused) ||
			refused.Reason != provisioning.RefuseBadSecondFactor {
			t.Fatalf("replayed code: %v", err)
		}
		res, err := acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, rc[0].(string), "", "")
		if err != nil || res.Session == nil {
			t.Fatalf("recovery code: %v", err)
		}
		if _, err := acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, rc[0].(string), "", ""); !errors.Is(err, provisioning.ErrSessionEnded) {
			t.Fatalf("ticket reused: %v", err)
		}

		// Lockout covers the second factor: five wrong codes lock the account, after which
		// even a right code is refused.
		_, err = acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: a.tenant.ID, Email: "agent@acme.example", Password: "orange piano glacier"})
		if !errors.As(err, &second) {
			t.Fatalf("second sign-in: %v", err)
		}
		for range 5 {
			_, _ = acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, "123456", "", "")
		}
		next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		if _, err := acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, next, "", ""); !errors.As(err, &refused) ||
			refused.Reason != provisioning.RefuseLockedOut {
			t.Fatalf("after five wrong codes: %v", err)
		}

		// An admin resets a lost authenticator (and unlocks).
		uid := r.str("user", "id")
		if st := a.must(a.do(a.as(), "GET", "/users/"+uid+"/2fa", nil), http.StatusOK); st.str("totp") != "true" || st.num("recoveryCodesLeft") != 9 {
			t.Fatalf("admin view of 2FA: %s", st.raw)
		}
		a.must(a.do(a.as(), "DELETE", "/users/"+uid+"/2fa", nil), http.StatusNoContent)
		if st := a.must(a.do(a.as(), "GET", "/users/"+uid+"/2fa", nil), http.StatusOK); st.str("totp") != "false" {
			t.Fatalf("after reset: %s", st.raw)
		}
		wantError(t, a.do(a.as(), "GET", "/users/nobody/2fa", nil), http.StatusNotFound, "")
		a.must(a.do(a.as(), "POST", "/users/"+uid+"/unlock", nil), http.StatusNoContent)

		// A tenant that requires a second factor enrols the user at the next sign-in.
		a.must(a.do(a.as(), "PATCH", "/policy", map[string]any{"requireTwoFactor": true}), http.StatusOK)
		_, err = acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: a.tenant.ID, Email: "agent@acme.example", Password: "orange piano glacier"})
		if !errors.As(err, &second) || !second.Enrol {
			t.Fatalf("required, not enrolled: %v", err)
		}
		en2, err := acc.EnrolForTicket(ctx, a.tenant.ID, second.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		code, _ = totp.GenerateCode(en2.Secret, time.Now())
		res, err = acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, code, "", "")
		if err != nil || res.Session == nil || len(res.RecoveryCodes) != 10 {
			t.Fatalf("enrolment at sign-in: %v", err)
		}
		me = auth{cookie: res.Session.ID + "." + res.SessionSecret}
		wantError(t, a.do(me, "DELETE", "/me/2fa/totp", map[string]any{"code": res.RecoveryCodes[0]}), http.StatusConflict, "totp")

		// A temporary password under required 2FA: factor first, then the new password,
		// and the recovery codes travel with the change so that they are not lost.
		_, temp, err := acc.CreateLocalUser(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, a.tenant.ID, provisioning.LocalUserRequest{
			Email: "new.agent@acme.example", DisplayName: "New Agent", Seat: true, ForceChange: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = acc.PasswordLogin(ctx, provisioning.PasswordLoginRequest{TenantID: a.tenant.ID, Email: "new.agent@acme.example", Password: temp})
		if !errors.As(err, &second) || !second.Enrol {
			t.Fatalf("temporary password, 2FA required: %v", err)
		}
		en3, err := acc.EnrolForTicket(ctx, a.tenant.ID, second.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		code, _ = totp.GenerateCode(en3.Secret, time.Now())
		var change *provisioning.PasswordChangeRequiredError
		if _, err := acc.CompleteSecondFactor(ctx, a.tenant.ID, second.Ticket, code, "", ""); !errors.As(err, &change) || len(change.RecoveryCodes) != 10 {
			t.Fatalf("after the factor: %v", err)
		}
	})
}
