package sso_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/seatbridge/seatbridge/store/storetest"
)

// While PostgreSQL is down a sign-in page answers 503 with Retry-After, not "unknown
// organisation" (404) or 500.
func TestDatabaseOutageSignInIs503(t *testing.T) {
	db, proxy := storetest.OpenPostgresProxied(t, url.Values{"connect_timeout": {"2"}})
	e := newEnv(t, db, 10)
	login := e.base + "/sso/acme/login?email=" + url.QueryEscape("ann@acme.com")
	if resp := e.browser().get(t, login); resp.StatusCode >= 500 {
		t.Fatalf("before the outage: %d", resp.StatusCode)
	}
	proxy.Drop()
	resp := e.browser().get(t, login)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	proxy.Heal()
}
