package sso_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// Concurrent JIT logins never take more seats than the tenant has: the losers exist
// without a seat and are refused with tenant_full.
func TestConcurrentJITSeats(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 3)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, full := 0, 0
		var other []error
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				email := fmt.Sprintf("u%d@acme.com", i)
				_, err := e.engine.Login(e.ctx, provisioning.LoginRequest{TenantID: e.tenant.ID, ConnectionID: c.ID, Method: "saml",
					Claims: provisioning.Claims{Subject: email, Email: email, EmailVerified: true}})
				var r *provisioning.LoginRefusedError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &r) && r.Reason == provisioning.RefuseTenantFull:
					full++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if len(other) > 0 || ok != 3 || full != n-3 {
			t.Fatalf("ok %d, full %d, errors %v", ok, full, other)
		}
		ten, err := e.db.GetTenant(e.ctx, e.tenant.ID)
		if err != nil || ten.SeatsUsed != 3 {
			t.Fatalf("seats used %d, %v", ten.SeatsUsed, err)
		}
	})
}

// A connection and a session of one tenant are useless in another.
func TestTenantIsolation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		if _, err := e.engine.CreateTenant(e.ctx, admin, "beta", "Beta", 5); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		// acme's connection under beta's URLs.
		if r := b.get(t, e.base+"/sso/beta/saml/"+c.ID+"/metadata"); r.StatusCode != http.StatusNotFound {
			t.Fatalf("metadata across tenants: %d", r.StatusCode)
		}
		if r := b.get(t, e.base+"/sso/beta/login?connection="+c.ID); r.StatusCode != http.StatusNotFound {
			t.Fatalf("login across tenants: %d", r.StatusCode)
		}
		// A session in acme does not sign the user into beta.
		a := e.platformApp()
		id := e.startSAML(b, a, "nina@acme.com")
		e.mustSAML(b, c, e.assertion(c, id, "nina@acme.com"), id)
		u := a.cfg.AuthCodeURL(a.state, oidcNonce(a.nonce), s256(a.pkce), tenantParam("beta"))
		r := b.get(t, u)
		// The browser was sent to beta's login (which has no connection), not to the app.
		if r.Request.URL.Path != "/sso/beta/login" || r.Header.Get("Location") != "" {
			t.Fatalf("authorize for beta with an acme session: %d %s %q", r.StatusCode, r.Request.URL, r.Header.Get("Location"))
		}
	})
}

// A sign-in burns its assertion in its login's transaction: a second use fails with
// ErrReplayed and opens no session, also when both race; a refusal keeps the assertion
// burnt (its transaction commits); a dry run (test sign-in) keeps nothing.
func TestLoginBurnsAssertion(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		login := func(email, assertion string, dry bool) (*provisioning.LoginResult, error) {
			return e.engine.Login(e.ctx, provisioning.LoginRequest{TenantID: e.tenant.ID, ConnectionID: c.ID, Method: "saml",
				Claims: provisioning.Claims{Subject: email, Email: email, EmailVerified: true}, DryRun: dry,
				Assertion: &provisioning.AssertionUse{ID: assertion, Until: time.Now().Add(5 * time.Minute)}})
		}
		res, err := login("ada@acme.com", "as-1", false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := login("ada@acme.com", "as-1", false); !errors.Is(err, provisioning.ErrReplayed) || !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("second use: %v", err)
		}
		if ss, err := e.db.ListUserSessions(e.ctx, e.tenant.ID, res.User.ID, time.Now()); err != nil || len(ss) != 1 {
			t.Fatalf("sessions after a replay: %d, %v", len(ss), err)
		}
		// The same ID on another connection is another assertion.
		other := e.samlConn(provisioning.ModeJIT, leadsRule, func(c *provisioning.Connection) { c.Domains = []string{"acme.org"} })
		if _, err := e.engine.Login(e.ctx, provisioning.LoginRequest{TenantID: e.tenant.ID, ConnectionID: other.ID, Method: "saml",
			Claims:    provisioning.Claims{Subject: "bo@acme.org", Email: "bo@acme.org", EmailVerified: true},
			Assertion: &provisioning.AssertionUse{ID: "as-1", Until: time.Now().Add(5 * time.Minute)}}); err != nil {
			t.Fatalf("same ID, other connection: %v", err)
		}

		// Refused (an address outside the connection's domains): the assertion stays burnt.
		var refused *provisioning.LoginRefusedError
		if _, err := login("eve@elsewhere.test", "as-2", false); !errors.As(err, &refused) {
			t.Fatalf("outside address: %v", err)
		}
		if _, err := login("ada@acme.com", "as-2", false); !errors.Is(err, provisioning.ErrReplayed) {
			t.Fatalf("use after a refusal: %v", err)
		}

		// A dry run rolls its assertion back with everything else.
		if _, err := login("ada@acme.com", "as-3", true); err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if _, err := login("ada@acme.com", "as-3", false); err != nil {
			t.Fatalf("use after a dry run: %v", err)
		}

		// Racing uses of one assertion: exactly one session.
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, replayed := 0, 0
		var others []error
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := login("ada@acme.com", "as-4", false)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, provisioning.ErrReplayed):
					replayed++
				default:
					others = append(others, err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || replayed != n-1 || len(others) > 0 {
			t.Fatalf("racing uses: %d ok, %d replayed, %v", ok, replayed, others)
		}
	})
}
