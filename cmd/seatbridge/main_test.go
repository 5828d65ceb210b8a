package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the real command dispatcher with an environment that only sets the database.
func cli(t *testing.T, db string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "SEATBRIDGE_DB" {
			return db
		}
		return ""
	}}
	code = run(context.Background(), args, env)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string
		stderr  string
		oneLine bool
	}{
		{"create tenant", []string{"tenant", "create", "acme", "--name", "Acme Inc", "--seats", "5"}, 0, "created tenant acme (Acme Inc) with 5 seats", "", false},
		{"flags before slug", []string{"tenant", "create", "--seats=2", "beta"}, 0, "created tenant beta", "", false},
		{"duplicate slug", []string{"tenant", "create", "acme"}, 1, "", `a tenant with slug "acme" already exists`, true},
		{"bad slug", []string{"tenant", "create", "Not A Slug"}, 1, "", "invalid slug", true},
		{"missing slug", []string{"tenant", "create"}, 2, "", "want exactly one SLUG", true},
		{"negative seats", []string{"tenant", "create", "gamma", "--seats", "-1"}, 1, "", "invalid seats", true},
		{"unknown tenant", []string{"token", "create", "--tenant", "nope", "--kind", "scim"}, 1, "", `no tenant with slug "nope"`, true},
		{"bad kind", []string{"token", "create", "--tenant", "acme", "--kind", "root"}, 2, "", `--kind "root"`, true},
		{"scim token", []string{"token", "create", "--tenant", "acme", "--kind", "scim", "--name", "okta"}, 0, "sbt_", "", false},
		{"unknown flag", []string{"tenant", "list", "--colour"}, 2, "", "flag provided but not defined", true},
		{"unknown command", []string{"frobnicate"}, 2, "", "unknown command", true},
		{"bad database URL", []string{"tenant", "list", "--db", "mysql://x"}, 1, "", "want sqlite:PATH or postgres://", true},
		{"unreachable postgres", []string{"tenant", "list", "--db", "postgres://seatbridge:secret@127.0.0.1:1/x"}, 1, "", "connect to postgres", true},
		{"revoke unknown token", []string{"token", "revoke", "nope", "--tenant", "acme"}, 1, "", `has no token "nope"`, true},
		{"update settings", []string{"tenant", "update", "acme", "--allow-password-login", "--invitation-ttl", "24h", "--default-role", ""}, 0, "invitation TTL    24h", "", false},
		{"update nothing", []string{"tenant", "update", "acme"}, 2, "", "nothing to change", true},
		{"update bad TTL", []string{"tenant", "update", "acme", "--invitation-ttl", "90d"}, 1, "", "from 1h to 30d", true},
		{"update bad role", []string{"tenant", "update", "acme", "--default-role", "Pilot"}, 1, "", `no role "Pilot"`, true},
		{"update bad app URL", []string{"tenant", "update", "acme", "--app-url", "ftp://x"}, 1, "", "https", true},
		{"show tenant", []string{"tenant", "show", "acme"}, 0, "allow-password-login true", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, db, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.oneLine && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("error is not one line: %q", errOut)
			}
			if strings.Contains(errOut, "secret@") || strings.Contains(errOut, "goroutine") {
				t.Fatalf("error leaks a password or a stack: %q", errOut)
			}
		})
	}

	// JSON output of list and create, and revocation through the CLI.
	code, out, _ := cli(t, db, "token", "create", "--tenant", "acme", "--kind", "admin", "--json")
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
		Kind  string `json:"kind"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil || tok.Kind != "admin" || !strings.HasPrefix(tok.Token, "sbt_") {
		t.Fatalf("token create --json: %d %s", code, out)
	}
	if code, out, _ := cli(t, db, "token", "revoke", tok.ID, "--tenant", "acme"); code != 0 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	code, out, _ = cli(t, db, "token", "list", "--tenant", "acme", "--json")
	var toks []struct {
		ID        string  `json:"id"`
		RevokedAt *string `json:"revokedAt"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &toks) != nil || len(toks) != 2 || toks[1].RevokedAt == nil {
		t.Fatalf("token list --json: %d %s", code, out)
	}
	if strings.Contains(out, tok.Token) {
		t.Fatal("token list shows a secret")
	}
	code, out, _ = cli(t, db, "tenant", "list", "--json")
	var tenants []struct{ Slug string }
	if code != 0 || json.Unmarshal([]byte(out), &tenants) != nil || len(tenants) != 2 {
		t.Fatalf("tenant list --json: %d %s", code, out)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "serve.db")
	var errb bytes.Buffer
	a, err := openApp(context.Background(), Config{DB: db, LogLevel: "error", LogFormat: "text"}, &cliEnv{stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	a.cfg.BaseURL = "http://example.test"
	h, err := routes(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	a.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with a closed database: %d", resp.StatusCode)
	}
}

func TestSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "k.db")
	open := func() *app {
		a, err := openApp(context.Background(), Config{DB: db, LogLevel: "error", LogFormat: "text"}, &cliEnv{stderr: &bytes.Buffer{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a
	}
	b1, err := open().secretBox()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b1.Seal([]byte("client-secret"), "test")
	if err != nil {
		t.Fatal(err)
	}
	// A second process reads the same key file and opens what the first sealed.
	b2, err := open().secretBox()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b2.Open(sealed, "test"); err != nil || string(got) != "client-secret" {
		t.Fatalf("open with the key file: %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "k.db.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	// An explicit key that is not 32 bytes is refused.
	a := open()
	a.cfg.SecretKey = "too-short"
	if _, err := a.secretBox(); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestMetricsAndAccessLog(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	a, err := openApp(ctx, Config{DB: "sqlite:" + filepath.Join(t.TempDir(), "m.db"), LogLevel: "info", LogFormat: "json", AccessLog: true, MetricsToken: "m3trics"}, &cliEnv{stderr: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tn, err := a.eng.CreateTenant(ctx, cliActor(), "acme", "Acme", 5)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.eng.CreateToken(ctx, cliActor(), tn.ID, "scim", "okta")
	if err != nil {
		t.Fatal(err)
	}
	h, err := routes(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/scim/v2/acme/Users?filter=userName%20eq%20%22x%22", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("X-Request-Id", "trace-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") != "trace-123" {
		t.Fatalf("scim list: %d, request id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	if resp, _ := http.Get(srv.URL + "/metrics"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d", resp.StatusCode)
	}
	a.eng.LoginObserver("saml", "refused") // the engine calls this for every login event it records
	req, _ = http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer m3trics")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`seatbridge_scim_operations_total{code="200",method="GET",resource="Users",tenant="acme"} 1`,
		`seatbridge_http_requests_total{code="200",method="GET",route="/scim/v2/{tenant}/Users"} 1`,
		`seatbridge_http_request_duration_seconds_bucket`,
		`go_sql_open_connections`,
		`seatbridge_mail_outbox_pending 0`,
		`seatbridge_logins_total{method="saml",result="refused"} 1`,
	} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// One line for the request, from the server's access log, naming the token's tenant.
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"trace-123"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"route":"/scim/v2/{tenant}/Users"`) || !strings.Contains(lines[0], `"tenant_id":"`+tn.ID+`"`) ||
		!strings.Contains(lines[0], `"status":200`) {
		t.Errorf("access log lines of the request: %q", lines)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "filter=") {
		t.Error("access log contains the token or the query string")
	}
}
