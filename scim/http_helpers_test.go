package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
)

var testActor = provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test", Name: "scim test"}

// env is one SCIM server on a real store with a tenant and its SCIM token.
type env struct {
	t      *testing.T
	eng    *provisioning.Engine
	srv    *httptest.Server
	tenant *provisioning.Tenant
	token  string
	base   string // server URL + /scim/v2/{slug}
}

func newEnv(t *testing.T, db *store.DB, opts Options, slug string) *env {
	t.Helper()
	eng := provisioning.NewEngine(db, slog.New(slog.DiscardHandler))
	return newEnvWith(t, eng, opts, slug)
}

func newEnvWith(t *testing.T, eng *provisioning.Engine, opts Options, slug string) *env {
	t.Helper()
	ctx := context.Background()
	tn, err := eng.CreateTenant(ctx, testActor, slug, strings.ToUpper(slug), 100)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := eng.CreateToken(ctx, testActor, tn.ID, provisioning.TokenSCIM, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv := httptest.NewServer(NewHandler(eng, opts))
	t.Cleanup(srv.Close)
	return &env{t: t, eng: eng, srv: srv, tenant: tn, token: secret, base: srv.URL + "/scim/v2/" + slug}
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(path ...string) string {
	var cur any = r.body
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// do sends a request with the env's token. body may be nil, a string or a value to encode.
func (e *env) do(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	return e.doToken(e.token, method, path, body, hdr...)
}

func (e *env) doToken(token, method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// wantError checks a SCIM error response (RFC 7644 §3.12).
func wantError(t *testing.T, r resp, status int, scimType string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("Content-Type %q", ct)
	}
	if r.str("status") != itoa(status) {
		t.Errorf("status member %q, want %q", r.str("status"), itoa(status))
	}
	if schemas, _ := r.body["schemas"].([]any); len(schemas) != 1 || schemas[0] != URNError {
		t.Errorf("schemas %v", r.body["schemas"])
	}
	if got := r.str("scimType"); got != scimType {
		t.Errorf("scimType %q, want %q (%s)", got, scimType, r.raw)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (e *env) createUser(userName string, extra map[string]any) string {
	e.t.Helper()
	body := map[string]any{"schemas": []string{URNUser}, "userName": userName, "emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}}}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do("POST", "/Users", body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", userName, r.status, r.raw)
	}
	return r.str("id")
}
