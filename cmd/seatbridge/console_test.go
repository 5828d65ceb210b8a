package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
)

// TestConsoleMounted: the server serves the console, which sends an anonymous visitor to
// the tenant's sign-in.
func TestConsoleMounted(t *testing.T) {
	a, err := openApp(context.Background(), Config{DB: "sqlite:" + filepath.Join(t.TempDir(), "c.db"), LogLevel: "error", LogFormat: "text"},
		&cliEnv{stderr: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.cfg.BaseURL = "http://example.test"
	if _, err := a.eng.CreateTenant(context.Background(), provisioning.Actor{Kind: provisioning.ActorCLI}, "acme", "Acme", 5); err != nil {
		t.Fatal(err)
	}
	h, err := routes(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{
		"/admin/acme":  "/admin/acme/",
		"/admin/acme/": "/login/acme?return_to=%2Fadmin%2Facme%2F", // no SSO connection: passwords
	} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, err := c.Get(srv.URL + "/admin/nobody/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", resp.StatusCode)
	}
}
