package console_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestAccessLogNamesTheTenant: the console's pages (behind a session or a set-up link) and
// the sign-in pages report their tenant to the access log once they have resolved it, and
// a request that resolves none (no session, unknown tenant) reports none.
func TestAccessLogNamesTheTenant(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		anon := &client{t: t, e: e}
		admin := e.session("ada@acme.test", adminPassword)
		token, _, err := e.eng.CreateSetupLink(context.Background(), cli, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			who    *client
			path   string
			status int
			tenant string
		}{
			{admin, "/admin/acme/users", http.StatusOK, e.tenant.ID},
			{anon, "/setup/" + token, http.StatusOK, e.tenant.ID},
			{anon, "/login/acme", http.StatusOK, e.tenant.ID},
			{anon, "/sso/acme/login", http.StatusOK, e.tenant.ID},
			{anon, "/admin/acme/users", http.StatusSeeOther, ""},
			{anon, "/sso/nobody/login", http.StatusNotFound, ""},
			{anon, "/setup/sbs_nope_nope", http.StatusNotFound, ""},
		} {
			if r := c.who.get(c.path); r.status != c.status {
				t.Fatalf("GET %s: %d, want %d\n%s", c.path, r.status, c.status, r.body)
			}
			if got := e.access.tenantOf(t, c.path); got != c.tenant {
				t.Errorf("access log of GET %s names tenant %q, want %q", c.path, got, c.tenant)
			}
		}
	})
}
