package sso_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestTestSignIn: a disabled connection answers only a test sign-in started with a
// single-use ticket; the test runs the engine's login and keeps nothing.
func TestTestSignIn(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, provisioning.Mapping{Rules: []provisioning.GroupRule{{Group: "Support", Seat: true}}},
			func(c *provisioning.Connection) { c.Disabled = true })
		tok, link, err := e.engine.CreateSetupLink(e.ctx, admin, e.tenant.ID, time.Hour)
		if err != nil || tok == "" {
			t.Fatal(err)
		}
		link.Progress.ConnectionID = c.ID
		ticket, err := e.engine.StartTestSignIn(e.ctx, link, func(k string) string { return "/setup/x/test/" + k })
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		resp := b.get(t, e.base+"/sso/acme/test/"+ticket)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.idp.SSOURL) {
			t.Fatalf("test start: %d %q", resp.StatusCode, loc)
		}
		req, _, err := ssotest.AuthnRequest(loc)
		if err != nil {
			t.Fatal(err)
		}
		// The ticket is single use.
		if again := b.get(t, e.base+"/sso/acme/test/"+ticket); again.StatusCode != http.StatusNotFound {
			t.Fatalf("ticket reused: %d", again.StatusCode)
		}
		sr, err := e.idp.Response(e.assertion(c, req.ID, "bob@acme.com", "Support"))
		if err != nil {
			t.Fatal(err)
		}
		resp = e.postSAML(b, c, sr, "")
		// The browser follows the redirect back to the wizard (not mounted here: 404).
		if resp.Request.URL.Path != "/setup/x/test/"+ticket {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("test ACS ended at %s: %d %s", resp.Request.URL, resp.StatusCode, body)
		}
		for _, ck := range b.c.Jar.Cookies(resp.Request.URL) {
			if ck.Name == sso.SessionCookie {
				t.Fatal("a test sign-in set a session cookie")
			}
		}
		res, err := e.engine.TestResult(e.ctx, e.tenant.ID, ticket)
		if err != nil || !res.OK || !res.WouldCreate || !res.Grants.Seat || res.Email != "bob@acme.com" || res.Attributes["firstName"][0] != "Alice" {
			t.Fatalf("result: %+v %v", res, err)
		}
		if page, _ := e.engine.ListUsers(e.ctx, e.tenant.ID, provisioning.UserQuery{Limit: 1}); page.Total != 0 {
			t.Fatalf("test sign-in created %d users", page.Total)
		}
		if ls, _ := db.ListLogins(e.ctx, e.tenant.ID, provisioning.LoginQuery{}); len(ls) != 0 {
			t.Fatalf("test sign-in logged %d attempts", len(ls))
		}
		// Without a ticket the disabled connection takes no response (here an unsolicited one).
		e.refused(e.browser(), c, e.assertion(c, "", "bob@acme.com", "Support"), "", http.StatusForbidden, "")
		// Another tenant cannot redeem this tenant's ticket.
		t2, _ := e.engine.StartTestSignIn(e.ctx, link, func(k string) string { return "/" })
		if _, _, err := e.engine.RedeemTestTicket(e.ctx, "other-tenant", t2); err == nil {
			t.Fatal("ticket redeemed for another tenant")
		}
	})
}

// TestCertificateRotation: a response signed with the IdP's next key is refused until the
// next certificate is added to the connection, and the current key keeps working.
func TestCertificateRotation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, provisioning.Mapping{Seat: true})
		next, err := ssotest.LoadKeyPair("../testdata/saml", "idp-next")
		if err != nil {
			t.Fatal(err)
		}
		b, a := e.browser(), e.platformApp()
		id := e.startSAML(b, a, "carol@acme.com")
		as := e.assertion(c, id, "carol@acme.com")
		as.Signer = next
		e.refused(b, c, as, id, http.StatusForbidden, "")

		err = e.engine.Store.InTx(e.ctx, func(tx provisioning.Tx) error {
			cur, err := tx.GetConnection(e.ctx, e.tenant.ID, c.ID)
			if err != nil {
				return err
			}
			cur.SAML.IdPCertificatesPEM = []string{string(next.CertPEM)}
			return tx.UpdateConnection(e.ctx, cur)
		})
		if err != nil {
			t.Fatal(err)
		}
		b, a = e.browser(), e.platformApp()
		id = e.startSAML(b, a, "carol@acme.com")
		as = e.assertion(c, id, "carol@acme.com")
		as.Signer = next
		e.mustSAML(b, c, as, id)
		e.samlLogin(c, "dave@acme.com") // the current key still signs
	})
}

// TestTestSignInOIDC: the same test sign-in through an OIDC connection not yet active.
func TestTestSignInOIDC(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		op := newOP(t)
		c := e.oidcConn(op, provisioning.ModePreProvisioned, leadsRule)
		err := e.engine.Store.InTx(e.ctx, func(tx provisioning.Tx) error {
			c.Disabled = true
			return tx.UpdateConnection(e.ctx, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		op.SetUser(map[string]any{"sub": "entra-9", "email": "lee@acme.com", "email_verified": true, "groups": []string{"Support-Leads"}})
		_, link, err := e.engine.CreateSetupLink(e.ctx, admin, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		link.Progress.ConnectionID = c.ID
		ticket, err := e.engine.StartTestSignIn(e.ctx, link, func(k string) string { return "/setup/y/test/" + k })
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		r1 := b.get(t, e.base+"/sso/acme/test/"+ticket)
		loc := r1.Header.Get("Location")
		if r1.StatusCode != http.StatusFound || !strings.Contains(loc, "/authorize?") {
			t.Fatalf("test start: %d %q", r1.StatusCode, loc)
		}
		resp := b.get(t, loc)
		if resp.Request.URL.Path != "/setup/y/test/"+ticket {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("callback ended at %s: %d %s", resp.Request.URL, resp.StatusCode, body)
		}
		res, err := e.engine.TestResult(e.ctx, e.tenant.ID, ticket)
		// Pre-provisioned: nobody called lee exists, so the sign-in would be refused, with
		// the reason; the claims and the mapping's grant are shown all the same.
		if err != nil || res.OK || res.Reason != provisioning.RefuseUnknownUser || res.Email != "lee@acme.com" ||
			len(res.Grants.Roles) != 1 || res.Attributes["sub"][0] != "entra-9" {
			t.Fatalf("result: %+v %v", res, err)
		}
		// Without a ticket the disabled connection is not offered at all.
		if r := b.get(t, e.base+"/sso/acme/login?connection="+c.ID); r.StatusCode != http.StatusNotFound {
			t.Fatalf("login through a disabled connection: %d", r.StatusCode)
		}
	})
}
