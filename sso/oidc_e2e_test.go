package sso_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/seatbridge/seatbridge/provisioning"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func (e *env) oidcConn(op *ssotest.OIDCProvider, mode provisioning.Mode, m provisioning.Mapping) *provisioning.Connection {
	e.t.Helper()
	c := &provisioning.Connection{Name: "entra", Mode: mode, Domains: []string{"acme.com"}, Mapping: m}
	if err := ssooidc.Prepare(e.box, c, op.Issuer(), op.ClientID, op.ClientSecret, e.engine.NewID); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.engine.CreateConnection(e.ctx, admin, e.tenant.ID, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func newOP(t *testing.T) *ssotest.OIDCProvider {
	op, err := ssotest.NewOIDCProvider("../testdata/oidc/idp.key", "seatbridge-at-entra", "entra-secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	return op
}

// oidcFlow runs app → Seatbridge → upstream OP → Seatbridge and returns the last response.
func (e *env) oidcFlow(b *browser, a *app, email string) *http.Response {
	e.t.Helper()
	r1 := b.get(e.t, a.authURL(email))
	loc := r1.Header.Get("Location")
	if r1.StatusCode != http.StatusFound || !strings.Contains(loc, "/authorize?") {
		body, _ := io.ReadAll(r1.Body)
		e.t.Fatalf("expected redirect to the upstream OP: %d %q %s", r1.StatusCode, loc, body)
	}
	return b.get(e.t, loc)
}

func TestOIDCUpstreamJIT(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		op := newOP(t)
		c := e.oidcConn(op, provisioning.ModeJIT, leadsRule)
		op.SetUser(map[string]any{"sub": "entra-123", "email": "kim@acme.com", "email_verified": true, "name": "Kim Kale",
			"given_name": "Kim", "family_name": "Kale", "groups": []string{"Support-Leads"}})
		b, a := e.browser(), e.platformApp()
		resp := e.oidcFlow(b, a, "kim@acme.com")
		cl, _ := e.finish(a, resp.Header.Get("Location"))
		if cl.Email != "kim@acme.com" || cl.Name != "Kim Kale" || !sameStrings(cl.AMR, []string{"oidc"}) ||
			!sameStrings(cl.Roles, []string{"Supervisor"}) || !sameStrings(cl.Teams, []string{"Tier 2"}) || !cl.Seat {
			t.Fatalf("claims %s", mustJSON(cl))
		}
		id, err := e.db.GetIdentity(e.ctx, e.tenant.ID, c.ID, op.Issuer()+"|entra-123")
		if err != nil || id.UserID != cl.Sub {
			t.Fatalf("identity %+v %v", id, err)
		}
	})
}

func TestOIDCUpstreamSecurity(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		op := newOP(t)
		c := e.oidcConn(op, provisioning.ModeJIT, leadsRule)
		user := map[string]any{"sub": "entra-666", "email": "mallory@acme.com", "email_verified": true}
		rogue, err := ssotest.LoadKeyPair("../testdata/saml", "rogue")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			tweak func(map[string]any)
		}{
			{"wrong nonce", func(m map[string]any) { m["nonce"] = "not-the-nonce" }},
			{"missing nonce", func(m map[string]any) { delete(m, "nonce") }},
			{"wrong issuer", func(m map[string]any) { m["iss"] = "https://evil.example.test" }},
			{"wrong audience", func(m map[string]any) { m["aud"] = "someone-else" }},
			{"expired", func(m map[string]any) {
				m["iat"], m["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				op.SetUser(user)
				op.SetTweak(tc.tweak)
				resp := e.oidcFlow(e.browser(), e.platformApp(), "mallory@acme.com")
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d %q", resp.StatusCode, resp.Header.Get("Location"))
				}
			})
		}
		t.Run("signed by unknown key", func(t *testing.T) {
			op.SetUser(user)
			op.SetSignWith(rogue.Key)
			defer op.SetSignWith(nil)
			if resp := e.oidcFlow(e.browser(), e.platformApp(), "mallory@acme.com"); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
		t.Run("wrong state", func(t *testing.T) {
			op.SetUser(user)
			b, a := e.browser(), e.platformApp()
			r1 := b.get(t, a.authURL("mallory@acme.com"))
			u, _ := url.Parse(r1.Header.Get("Location"))
			q := u.Query()
			q.Set("state", "forged-state")
			u.RawQuery = q.Encode()
			if resp := b.get(t, u.String()); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
		t.Run("state from another browser", func(t *testing.T) {
			op.SetUser(user)
			r1 := e.browser().get(t, e.platformApp().authURL("mallory@acme.com"))
			// The victim's browser finishes a login the attacker started.
			if resp := e.browser().get(t, r1.Header.Get("Location")); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, "mallory@acme.com"); err == nil {
			t.Fatal("a refused OIDC login created a user")
		}

		t.Run("unverified e-mail never links", func(t *testing.T) {
			pre := e.oidcConn(op, provisioning.ModePreProvisioned, provisioning.Mapping{})
			if _, err := e.engine.CreateUser(e.ctx, admin, e.tenant.ID, &provisioning.User{UserName: "boss@acme.com", Seat: true,
				Emails: []provisioning.MultiValue{{Value: "boss@acme.com", Primary: true}}}); err != nil {
				t.Fatal(err)
			}
			op.SetUser(map[string]any{"sub": "attacker", "email": "boss@acme.com", "email_verified": false})
			b := e.browser()
			resp := b.get(t, e.base+"/sso/acme/login?connection="+pre.ID)
			resp = b.get(t, resp.Header.Get("Location"))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "unknown_user") {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
		})
		if c.Mode != provisioning.ModeJIT {
			t.Fatal("connection changed")
		}
	})
}

func TestProviderSessionsCodesAndLogout(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		b, a := e.browser(), e.platformApp()
		id := e.startSAML(b, a, "lena@acme.com")
		resp := e.mustSAML(b, c, e.assertion(c, id, "lena@acme.com", "Support-Leads"), id)
		code := e.codeFrom(resp.Header.Get("Location"))

		// Wrong PKCE verifier, then the right one, then the same code again.
		bad := *a
		bad.pkce = oauth2.GenerateVerifier()
		if _, err := bad.cfg.Exchange(e.ctx, code, oauth2.VerifierOption(bad.pkce)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("wrong verifier: %v", err)
		}
		// The failed attempt consumed the code (single use, fail closed): log in again.
		r2 := b.get(t, a.authURL(""))
		code = e.codeFrom(r2.Header.Get("Location"))
		wrongSecret := a.cfg
		wrongSecret.ClientSecret = "sbcs_nope"
		if _, err := wrongSecret.Exchange(e.ctx, code, oauth2.VerifierOption(a.pkce)); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("wrong secret: %v", err)
		}
		p, err := oidc.NewProvider(e.ctx, e.base)
		if err != nil {
			t.Fatal(err)
		}
		_, stolen := e.exchange(a, code)
		if _, err := p.UserInfo(e.ctx, oauth2.StaticTokenSource(stolen)); err != nil {
			t.Fatalf("userinfo before reuse: %v", err)
		}
		if _, err := a.cfg.Exchange(e.ctx, code, oauth2.VerifierOption(a.pkce)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("code redeemed twice: %v", err)
		}
		// RFC 6749 §4.1.2: the second redemption revokes what the first one issued.
		if _, err := p.UserInfo(e.ctx, oauth2.StaticTokenSource(stolen)); err == nil {
			t.Fatal("the access token of a reused code still works")
		}
		cl, tok := e.exchange(a, e.codeFrom(b.get(t, a.authURL("")).Header.Get("Location")))

		// userinfo answers with the same claims.
		ui, err := p.UserInfo(e.ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var uc claims
		if err := ui.Claims(&uc); err != nil || uc.Sub != cl.Sub || !sameStrings(uc.Roles, cl.Roles) {
			t.Fatalf("userinfo %s %v", mustJSON(uc), err)
		}

		// An unregistered redirect URI is never redirected to.
		evil := a.cfg
		evil.RedirectURL = "https://evil.example.test/cb"
		r3 := b.get(t, evil.AuthCodeURL("s", oauth2.S256ChallengeOption(a.pkce)))
		if r3.StatusCode != http.StatusBadRequest || r3.Header.Get("Location") != "" {
			t.Fatalf("unregistered redirect: %d %q", r3.StatusCode, r3.Header.Get("Location"))
		}

		// Key rotation: new tokens use the new key, old ones still verify.
		oldRaw, _ := tok.Extra("id_token").(string)
		if _, err := e.prov.RotateKey(e.ctx); err != nil {
			t.Fatal(err)
		}
		r4 := b.get(t, a.authURL(""))
		if _, tok2 := e.exchange(a, e.codeFrom(r4.Header.Get("Location"))); tok2 == nil {
			t.Fatal("no token after rotation")
		}
		if _, err := a.verifier.Verify(e.ctx, oldRaw); err != nil {
			t.Fatalf("old token after rotation: %v", err)
		}
		jr := b.get(t, e.base+"/oauth2/jwks")
		var set struct{ Keys []json.RawMessage }
		if err := json.NewDecoder(jr.Body).Decode(&set); err != nil || len(set.Keys) != 4 { // the old and the new key of RS256 and of ES256
			t.Fatalf("jwks: %d keys, %v", len(set.Keys), err)
		}

		// Logout ends the session: userinfo refuses the access token, authorize asks the IdP again.
		lo := url.Values{"id_token_hint": {oldRaw}, "post_logout_redirect_uri": {"https://app.example.test/bye"}, "state": {"xyz"}}
		r5 := b.get(t, e.base+"/oauth2/logout?"+lo.Encode())
		if r5.StatusCode != http.StatusFound || r5.Header.Get("Location") != "https://app.example.test/bye?state=xyz" {
			t.Fatalf("logout: %d %q", r5.StatusCode, r5.Header.Get("Location"))
		}
		if _, err := p.UserInfo(e.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("userinfo after logout")
		}
		r6 := b.get(t, a.authURL("lena@acme.com"))
		if !strings.HasPrefix(r6.Header.Get("Location"), e.idp.SSOURL) {
			t.Fatalf("authorize after logout: %q", r6.Header.Get("Location"))
		}
		lo.Set("post_logout_redirect_uri", "https://evil.example.test/")
		if r7 := b.get(t, e.base+"/oauth2/logout?"+lo.Encode()); r7.StatusCode != http.StatusBadRequest {
			t.Fatalf("unregistered post-logout URI: %d %q", r7.StatusCode, r7.Header.Get("Location"))
		}
	})
}

func TestDeactivationEndsSessions(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		b, a := e.browser(), e.platformApp()
		id := e.startSAML(b, a, "omar@acme.com")
		resp := e.mustSAML(b, c, e.assertion(c, id, "omar@acme.com"), id)
		cl, tok := e.finish(a, resp.Header.Get("Location"))
		p, err := oidc.NewProvider(e.ctx, e.base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.engine.UpdateUser(e.ctx, admin, e.tenant.ID, cl.Sub, provisioning.AnyVersion, func(u *provisioning.User) error {
			u.Status = provisioning.StatusDeactivated
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.UserInfo(e.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("userinfo for a deactivated user")
		}
		r := b.get(t, a.authURL("omar@acme.com"))
		if !strings.HasPrefix(r.Header.Get("Location"), e.idp.SSOURL) {
			t.Fatalf("authorize for a deactivated user's session: %q", r.Header.Get("Location"))
		}
		// Seat removal ends access too.
		b2, a2 := e.browser(), e.platformApp()
		id2 := e.startSAML(b2, a2, "pia@acme.com")
		r2 := e.mustSAML(b2, c, e.assertion(c, id2, "pia@acme.com"), id2)
		cl2, tok2 := e.finish(a2, r2.Header.Get("Location"))
		if _, err := e.engine.UpdateUser(e.ctx, admin, e.tenant.ID, cl2.Sub, provisioning.AnyVersion, func(u *provisioning.User) error {
			u.Seat = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.UserInfo(e.ctx, oauth2.StaticTokenSource(tok2)); err == nil {
			t.Fatal("userinfo for a user without seat")
		}
	})
}
