package scim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestMethodNotAllowed sends every method the route table does not list for a path, for
// each resource, through the real router: a SCIM error 405 with the path's methods in
// Allow. Endpoint case and a trailing slash do not change the answer (issue 11).
func TestMethodNotAllowed(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		user := e.createUser("ann@example.com", nil)
		group := e.do("POST", "/Groups", map[string]any{"displayName": "Support"}).str("id")
		if group == "" {
			t.Fatal("no group created")
		}
		all := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
		for _, tc := range []struct {
			path, allow string
		}{
			{"/Users", "GET, POST"},
			{"/users/", "GET, POST"},
			{"/Users/.search", "POST"},
			{"/Users/" + user, "GET, PUT, PATCH, DELETE"},
			{"/Groups", "GET, POST"},
			{"/Groups/.SEARCH", "POST"},
			{"/Groups/" + group, "GET, PUT, PATCH, DELETE"},
			{"/.search", "POST"},
			{"/Bulk", "POST"},
			{"/ServiceProviderConfig", "GET"},
			{"/Schemas", "GET"},
			{"/Schemas/" + URNUser, "GET"},
			{"/resourcetypes", "GET"},
			{"/ResourceTypes/User", "GET"},
		} {
			allowed := map[string]bool{}
			for _, m := range strings.Split(tc.allow, ", ") {
				allowed[m] = true
			}
			for _, m := range all {
				if allowed[m] {
					continue
				}
				r := e.do(m, tc.path, nil)
				if m == "HEAD" {
					// A HEAD answer has no body to hold the SCIM error.
					if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
						t.Errorf("HEAD %s: %d Allow %q, want 405 %q", tc.path, r.status, r.header.Get("Allow"), tc.allow)
					}
					continue
				}
				wantError(t, r, http.StatusMethodNotAllowed, "")
				if got := r.header.Get("Allow"); got != tc.allow {
					t.Errorf("%s %s: Allow %q, want %q", m, tc.path, got, tc.allow)
				}
			}
		}
		// Any method on /Me is 501; an unknown endpoint is a SCIM 404 whatever the method.
		for _, m := range []string{"GET", "POST", "DELETE"} {
			wantError(t, e.do(m, "/Me", nil), http.StatusNotImplemented, "")
			wantError(t, e.do(m, "/Nope", nil), http.StatusNotFound, "")
			wantError(t, e.do(m, "/Users/"+user+"/extra", nil), http.StatusNotFound, "")
		}
	})
}
