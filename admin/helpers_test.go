package admin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
)

var ctx = context.Background()

// env is one tenant with an admin token behind a real HTTP server on a real store.
type env struct {
	t      testing.TB
	db     *store.DB
	eng    *provisioning.Engine
	srv    *httptest.Server
	tenant *provisioning.Tenant
	token  string
}

func newEnv(t testing.TB, db *store.DB, slug string, seats int) *env {
	t.Helper()
	eng := provisioning.NewEngine(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	api := admin.New(eng, admin.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), States: db})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return newTenant(t, db, eng, srv, slug, seats)
}

// newTenant adds another tenant served by the same server.
func newTenant(t testing.TB, db *store.DB, eng *provisioning.Engine, srv *httptest.Server, slug string, seats int) *env {
	t.Helper()
	cli := provisioning.Actor{Kind: provisioning.ActorCLI, Name: "test"}
	tn, err := eng.CreateTenant(ctx, cli, slug, slug, seats)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := eng.CreateToken(ctx, cli, tn.ID, provisioning.TokenAdmin, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, eng: eng, srv: srv, tenant: tn, token: tok}
}

// resp is a decoded response.
type resp struct {
	status int
	body   map[string]any
	raw    []byte
	header http.Header
}

func (r resp) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func (r resp) num(path ...string) int {
	var n int
	fmt.Sscan(r.str(path...), &n)
	return n
}

func (r resp) list(key string) []any {
	l, _ := r.body[key].([]any)
	return l
}

// auth says how a request authenticates: a bearer token or a session cookie.
type auth struct {
	bearer string
	cookie string
	origin string
}

func (e *env) as() auth { return auth{bearer: e.token} }

func (e *env) do(a auth, method, path string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "text/csv"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+admin.Prefix+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if a.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+a.bearer)
	}
	if a.cookie != "" {
		req.AddCookie(&http.Cookie{Name: admin.SessionCookie, Value: a.cookie})
	}
	if a.origin != "" {
		req.Header.Set("Origin", a.origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, raw: raw, header: res.Header}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// must fails unless the response has the status.
func (e *env) must(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// user creates a user through the API and returns its id.
func (e *env) user(email string, extra map[string]any) string {
	e.t.Helper()
	body := map[string]any{"email": email}
	for k, v := range extra {
		body[k] = v
	}
	return e.must(e.do(e.as(), "POST", "/users", body), http.StatusCreated).str("id")
}

// session creates a seated user with the roles and a session for it, and returns its
// cookie auth and user id.
func (e *env) session(email string, roles ...string) (auth, string) {
	e.t.Helper()
	id := e.user(email, map[string]any{"seat": true, "roles": roles})
	secret := "secret-" + id
	sum := sha256.Sum256([]byte(secret))
	sid := "sess-" + id
	now := time.Now().UTC()
	err := e.db.InTx(ctx, func(tx provisioning.Tx) error {
		return tx.CreateSession(ctx, &provisioning.Session{ID: sid, TenantID: e.tenant.ID, UserID: id,
			SecretHash: sum[:], AMR: "oidc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return auth{cookie: sid + "." + secret}, id
}

// wantError checks an error response's status, code and field.
func wantError(t *testing.T, r resp, status int, field string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if r.str("error", "message") == "" {
		t.Fatalf("error without message: %s", r.raw)
	}
	if field != "" && r.str("error", "field") != field {
		t.Fatalf("field %q, want %q: %s", r.str("error", "field"), field, r.raw)
	}
}
