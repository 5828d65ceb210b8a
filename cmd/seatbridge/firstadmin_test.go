package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTenantCreateFirstAdmin: 'tenant create --admin-email' gives a new tenant an Admin who
// signs in with the printed temporary password, must choose a new one, and then reaches the
// console: a tenant run from the browser without a single API call. A bad address creates
// nothing.
func TestTenantCreateFirstAdmin(t *testing.T) {
	dbs := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "fa.db") },
		"postgres": freshPostgresDSN,
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			w := &wf{t: t, db: dbs[name](t)}
			if code, _, errOut := cli(t, w.db, "tenant", "create", "bad", "--admin-email", "not-an-address"); code != 2 || !strings.Contains(errOut, "is not an e-mail address") {
				t.Fatalf("bad address: exit %d: %s", code, errOut)
			}
			if out := w.cli("tenant", "list"); strings.Contains(out, "bad") {
				t.Fatalf("a refused --admin-email left its tenant behind:\n%s", out)
			}
			var created struct {
				Slug      string `json:"slug"`
				SeatLimit int    `json:"seatLimit"`
				Admin     struct {
					Email             string `json:"email"`
					TemporaryPassword string `json:"temporaryPassword"`
					ConsoleURL        string `json:"consoleUrl"`
				} `json:"admin"`
			}
			out := w.cli("tenant", "create", "acme", "--name", "Acme Inc", "--admin-email", "Ada@Acme.example", "--admin-name", "Ada Admin",
				"--base-url", "https://sb.example.com", "--json")
			if err := json.Unmarshal([]byte(out), &created); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if created.Admin.TemporaryPassword == "" || created.Admin.ConsoleURL != "https://sb.example.com/admin/acme/" {
				t.Fatalf("first admin: %+v", created.Admin)
			}
			a, err := openApp(context.Background(), Config{DB: w.db, SecretKey: workflowKey, BaseURL: "http://seatbridge.test",
				LogLevel: "error", LogFormat: "text"}, &cliEnv{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			h, err := routes(a)
			if err != nil {
				t.Fatal(err)
			}
			w.srv = httptest.NewServer(h)
			t.Cleanup(w.srv.Close)

			admin := w.browser()
			if r := w.get(admin, "/admin/acme/"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login/acme") {
				t.Fatalf("console before sign-in: %d %s", r.StatusCode, r.Header.Get("Location"))
			}
			resp, body := w.post(admin, "/login/acme", url.Values{"email": {created.Admin.Email}, "password": {created.Admin.TemporaryPassword}})
			ticket := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(body)
			if resp.StatusCode != http.StatusOK || ticket == nil {
				t.Fatalf("the temporary password must ask for a new one: %d\n%s", resp.StatusCode, body)
			}
			resp, _ = w.post(admin, "/login/acme/change", url.Values{"ticket": {ticket[1]}, "password": {"quartz lagoon ember tide"}, "password2": {"quartz lagoon ember tide"}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("password change: %d", resp.StatusCode)
			}
			r, err := admin.Get(w.srv.URL + "/admin/acme/users")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusOK || !strings.Contains(string(page), "Ada Admin") || !strings.Contains(string(page), "Users") {
				t.Fatalf("console after sign-in: %d\n%.400s", r.StatusCode, page)
			}
		})
	}
}
