package sso_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

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
