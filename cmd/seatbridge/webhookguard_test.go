package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebhookURLGuardWiring: without --webhook-allow-private the server refuses, when an
// endpoint is registered through the admin API, URLs that reach loopback, private or
// link-local addresses (SSRF), nothing stored; with it the same URL is accepted. The
// console gets the same webhook service (its tests drive the screens).
func TestWebhookURLGuardWiring(t *testing.T) {
	for _, allow := range []bool{false, true} {
		name := "refused"
		if allow {
			name = "allowed"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "guard.db")
			var out, errb bytes.Buffer
			cli := func(args ...string) string {
				t.Helper()
				out.Reset()
				env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(k string) string {
					return map[string]string{"SEATBRIDGE_DB": dsn, "SEATBRIDGE_SECRET_KEY": replicaSecretKey}[k]
				}}
				if code := run(ctx, args, env); code != 0 {
					t.Fatalf("seatbridge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
				}
				return out.String()
			}
			cli("tenant", "create", "acme", "--seats", "10")
			var tok struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal([]byte(cli("token", "create", "--tenant", "acme", "--kind", "admin", "--json")), &tok); err != nil {
				t.Fatal(err)
			}
			a, err := openApp(ctx, Config{DB: dsn, SecretKey: replicaSecretKey, LogLevel: "warn", LogFormat: "text", Events: EventsConfig{AllowPrivate: allow}},
				&cliEnv{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			h, err := routes(a)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			post := func(u string) (int, string) {
				t.Helper()
				b, _ := json.Marshal(map[string]any{"url": u, "events": []string{"user.*"}})
				req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/webhooks", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+tok.Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			for _, u := range []string{"http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/hook", "http://[::1]/hook"} {
				status, body := post(u)
				switch {
				case allow && status != http.StatusCreated:
					t.Fatalf("%s with --webhook-allow-private: %d %s", u, status, body)
				case !allow && (status != http.StatusBadRequest || !strings.Contains(body, "url") || !strings.Contains(body, "private")):
					t.Fatalf("%s: %d %s", u, status, body)
				}
			}
			wh, err := a.webhooks()
			if err != nil {
				t.Fatal(err)
			}
			eps, err := wh.ListWebhooks(ctx, mustTenantID(t, a, "acme"))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 0, true: 4}[allow]; len(eps) != want {
				t.Fatalf("%d endpoints stored, want %d", len(eps), want)
			}
		})
	}
}

func mustTenantID(t *testing.T, a *app, slug string) string {
	t.Helper()
	tn, err := a.eng.Store.GetTenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}
