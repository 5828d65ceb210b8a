package admin_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// Hostile text (NUL bytes, invalid UTF-8, megabyte fields) in body fields, query
// parameters, path ids and CSV gets a clear 4xx with the same status on both databases:
// PostgreSQL used to answer 500 where SQLite stored the text.
func TestHostileTextIsRefusedAlike(t *testing.T) {
	big := strings.Repeat("a", 900<<10)
	cases := []struct {
		name, method, path string
		body               any
	}{
		{"user email NUL", "POST", "/users", map[string]any{"email": "a\x00b@acme.test"}},
		{"user given name NUL", "POST", "/users", map[string]any{"email": "nul@acme.test", "givenName": "Ann\x00"}},
		{"user given name 900 KB", "POST", "/users", map[string]any{"email": "big@acme.test", "givenName": big}},
		{"user display name 900 KB", "POST", "/users", map[string]any{"email": "big2@acme.test", "displayName": big}},
		{"user id NUL", "GET", "/users/a%00b", nil},
		{"user id invalid UTF-8", "GET", "/users/a%FFb", nil},
		{"patch user id invalid UTF-8", "PATCH", "/users/%FF", map[string]any{"givenName": "x"}},
		{"search NUL", "GET", "/users?q=a%00", nil},
		{"search invalid UTF-8", "GET", "/users?q=%FF%FE", nil},
		{"role filter invalid UTF-8", "GET", "/users?role=%FF", nil},
		{"team filter NUL", "GET", "/users?team=%00", nil},
		{"role name NUL", "POST", "/roles", map[string]any{"name": "r\x00"}},
		{"role description 900 KB", "POST", "/roles", map[string]any{"name": "big", "description": big}},
		{"team name NUL", "POST", "/teams", map[string]any{"name": "t\x00"}},
		{"team description 900 KB", "POST", "/teams", map[string]any{"name": "big", "description": big}},
		{"team id invalid UTF-8", "GET", "/teams/%FF", nil},
		{"bulk ids NUL", "POST", "/users/bulk", map[string]any{"action": "deactivate", "userIds": []string{"a\x00"}}},
		{"seat ids invalid", "POST", "/seats/assign", map[string]any{"userIds": []string{"a\x00"}}},
		{"policy domain NUL", "PATCH", "/policy", map[string]any{"allowedDomains": []string{"acme\x00.test"}}},
		{"invitation email NUL", "POST", "/invitations", map[string]any{"email": "x\x00@acme.test"}},
		{"suppression invalid UTF-8", "DELETE", "/mail/suppressions/%FF@acme.test", nil},
		{"CSV invalid UTF-8", "POST", "/users/import", "email,givenName\nbad@acme.test,\xff\xfe\n"},
		{"CSV NUL", "POST", "/users/import", "email,givenName\nnul@acme.test,a\x00b\n"},
		{"CSV 900 KB field", "POST", "/users/import", "email,givenName\nhuge@acme.test," + big + "\n"},
	}
	got := map[string]map[string]int{}
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e, _ := newAccountsEnv(t, db, "acme", 10)
		statuses := map[string]int{}
		for _, tc := range cases {
			r := e.do(e.as(), tc.method, tc.path, tc.body)
			if r.status < 400 || r.status >= 500 {
				t.Errorf("%s: status %d, want 4xx: %.300s", tc.name, r.status, r.raw)
			}
			statuses[tc.name] = r.status
		}
		got[t.Name()] = statuses
	})
	sq, pg := got[t.Name()+"/sqlite"], got[t.Name()+"/postgres"]
	for _, tc := range cases {
		if sq != nil && pg != nil && sq[tc.name] != pg[tc.name] {
			t.Errorf("%s: SQLite %d, PostgreSQL %d", tc.name, sq[tc.name], pg[tc.name])
		}
	}

	// A bearer token with a NUL byte (Go's client will not send one; a raw one can).
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 10)
		req := httptest.NewRequest("GET", admin.Prefix+"/users", nil)
		req.Header["Authorization"] = []string{"Bearer " + provisioning.TokenPrefix + "a\x00b_secret"}
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("NUL token: %d %s", rec.Code, rec.Body)
		}
	})
}

// While the database is down, a valid token gets 503 with Retry-After, never 401: the
// client must retry, not throw its credentials away.
func TestDatabaseOutageIs503NotUnauthorized(t *testing.T) {
	db, proxy := storetest.OpenPostgresProxied(t, url.Values{"connect_timeout": {"2"}})
	e := newEnv(t, db, "acme", 10)
	e.must(e.do(e.as(), "GET", "/users", nil), http.StatusOK)
	proxy.Drop()
	for _, path := range []string{"/users", "/me", "/roles"} {
		r := e.do(e.as(), "GET", path, nil)
		wantError(t, r, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", path)
		}
	}
	proxy.Heal()
	var r resp
	for range 5 {
		if r = e.do(e.as(), "GET", "/users", nil); r.status == http.StatusOK {
			break
		}
	}
	e.must(r, http.StatusOK)
}
