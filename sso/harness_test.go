package sso_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	"github.com/seatbridge/seatbridge/sso/provider"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store"
)

const appCallback = "https://app.example.test/callback"

var admin = provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test"}

// env is Seatbridge on a real store behind a real HTTP server, with a SAML IdP and a
// registered platform app.
type env struct {
	t      testing.TB
	ctx    context.Context
	db     *store.DB
	engine *provisioning.Engine
	svc    *sso.Service
	prov   *provider.Provider
	srv    *httptest.Server
	base   string
	box    *secretbox.Box
	tenant *provisioning.Tenant
	idp    *ssotest.SAMLIdP
	app    *provisioning.OAuthClient
	secret string
}

func newEnv(t testing.TB, db *store.DB, seats int) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SSO_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	engine := provisioning.NewEngine(db, log)
	box, err := secretbox.New(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	bu, _ := url.Parse(base)
	svc, err := sso.New(engine, db, box, log, sso.Config{BaseURL: bu, CookieKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(provisioning.ConnSAML, ssaml.New(svc.Box, 0))
	svc.Register(provisioning.ConnOIDC, ssooidc.New(svc.Box))
	prov := provider.New(svc)
	mux := http.NewServeMux()
	svc.Mount(mux)
	prov.Mount(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)

	tenant, err := engine.CreateTenant(ctx, admin, "acme", "Acme Corp", seats)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := ssotest.NewSAMLIdP("../testdata/saml")
	if err != nil {
		t.Fatal(err)
	}
	app, secret, err := provider.CreateClient(ctx, db, "platform", []string{appCallback}, []string{"https://app.example.test/bye"}, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, db: db, engine: engine, svc: svc, prov: prov, srv: srv, base: base, box: box, tenant: tenant,
		idp: idp, app: app, secret: secret}
}

// samlConn creates a SAML connection for acme.com with the given mode and mapping.
func (e *env) samlConn(mode provisioning.Mode, m provisioning.Mapping, mut ...func(*provisioning.Connection)) *provisioning.Connection {
	e.t.Helper()
	sp, err := ssotest.LoadKeyPair("../testdata/saml", "sp")
	if err != nil {
		e.t.Fatal(err)
	}
	c := &provisioning.Connection{Name: "okta", Mode: mode, Domains: []string{"acme.com"}, Mapping: m}
	for _, f := range mut {
		f(c)
	}
	if err := ssaml.Prepare(e.box, c, e.idp.Metadata(), sp.KeyPEM, sp.CertPEM); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.engine.CreateConnection(e.ctx, admin, e.tenant.ID, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) spEntityID(c *provisioning.Connection) string {
	return e.base + "/sso/acme/saml/" + c.ID + "/metadata"
}

func (e *env) acs(c *provisioning.Connection) string {
	return e.base + "/sso/acme/saml/" + c.ID + "/acs"
}

// browser is a cookie-keeping client that follows redirects on Seatbridge only.
type browser struct {
	c    *http.Client
	host string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	host := strings.TrimPrefix(e.base, "http://")
	b := &browser{host: host}
	b.c = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) get(t testing.TB, u string) *http.Response {
	t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *browser) post(t testing.TB, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := b.c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// app is the platform application: a go-oidc relying party of Seatbridge.
type app struct {
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
	state    string
	nonce    string
	pkce     string
}

func (e *env) platformApp() *app {
	e.t.Helper()
	p, err := oidc.NewProvider(e.ctx, e.base)
	if err != nil {
		e.t.Fatal(err)
	}
	return &app{
		cfg: oauth2.Config{ClientID: e.app.ID, ClientSecret: e.secret, Endpoint: p.Endpoint(), RedirectURL: appCallback,
			Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: p.Verifier(&oidc.Config{ClientID: e.app.ID}),
		state:    "st-" + oauth2.GenerateVerifier()[:10], nonce: "n-" + oauth2.GenerateVerifier()[:16], pkce: oauth2.GenerateVerifier(),
	}
}

func (a *app) authURL(email string) string {
	return a.cfg.AuthCodeURL(a.state, oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.pkce),
		oauth2.SetAuthURLParam("tenant", "acme"), oauth2.SetAuthURLParam("login_hint", email))
}

// claims is what the platform app reads from a verified ID token.
type claims struct {
	Sub         string   `json:"sub"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	Tenant      string   `json:"tenant"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
	Teams       []string `json:"teams"`
	Seat        bool     `json:"seat"`
	AMR         []string `json:"amr"`
	Nonce       string   `json:"nonce"`
}

// finish exchanges the code in the app callback URL and verifies the ID token.
func (e *env) finish(a *app, callback string) (*claims, *oauth2.Token) {
	e.t.Helper()
	u, err := url.Parse(callback)
	if err != nil || !strings.HasPrefix(callback, appCallback) {
		e.t.Fatalf("not at the app callback: %q", callback)
	}
	if u.Query().Get("state") != a.state {
		e.t.Fatalf("state = %q", u.Query().Get("state"))
	}
	if u.Query().Get("error") != "" {
		e.t.Fatalf("authorize error %s: %s", u.Query().Get("error"), u.Query().Get("error_description"))
	}
	return e.exchange(a, u.Query().Get("code"))
}

// codeFrom returns the code of an app callback URL.
func (e *env) codeFrom(callback string) string {
	e.t.Helper()
	u, err := url.Parse(callback)
	if err != nil || !strings.HasPrefix(callback, appCallback) || u.Query().Get("code") == "" {
		e.t.Fatalf("no code in %q", callback)
	}
	return u.Query().Get("code")
}

// exchange redeems a code and verifies the ID token as the platform app.
func (e *env) exchange(a *app, code string) (*claims, *oauth2.Token) {
	e.t.Helper()
	tok, err := a.cfg.Exchange(e.ctx, code, oauth2.VerifierOption(a.pkce))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(e.ctx, raw)
	if err != nil {
		e.t.Fatalf("verify ID token: %v", err)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		e.t.Fatal(err)
	}
	if c.Nonce != a.nonce {
		e.t.Fatalf("nonce = %q, want %q", c.Nonce, a.nonce)
	}
	return &c, tok
}

// startSAML sends the browser from the app to the IdP and returns the AuthnRequest ID.
func (e *env) startSAML(b *browser, a *app, email string) (reqID string) {
	e.t.Helper()
	resp := b.get(e.t, a.authURL(email))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.idp.SSOURL) {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("expected redirect to the IdP, got %d %q %s", resp.StatusCode, loc, body)
	}
	req, _, err := ssotest.AuthnRequest(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	return req.ID
}

// postSAML posts a response to the ACS and returns the final response (a redirect to the
// app callback on success, a page otherwise).
func (e *env) postSAML(b *browser, c *provisioning.Connection, samlResponse, relay string) *http.Response {
	e.t.Helper()
	return b.post(e.t, e.acs(c), url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relay}})
}

func (e *env) assertion(c *provisioning.Connection, reqID, email string, groups ...string) ssotest.Assertion {
	attrs := map[string][]string{"email": {email}, "firstName": {"Alice"}, "lastName": {"Archer"}}
	if len(groups) > 0 {
		attrs["groups"] = groups
	}
	return ssotest.Assertion{ACS: e.acs(c), Audience: e.spEntityID(c), InResponseTo: reqID, NameID: email, Attributes: attrs}
}

// samlLogin runs the whole flow and returns the claims the app gets.
func (e *env) samlLogin(c *provisioning.Connection, email string, groups ...string) *claims {
	e.t.Helper()
	b, a := e.browser(), e.platformApp()
	id := e.startSAML(b, a, email)
	resp := e.mustSAML(b, c, e.assertion(c, id, email, groups...), id)
	cl, _ := e.finish(a, resp.Header.Get("Location"))
	return cl
}

func (e *env) mustSAML(b *browser, c *provisioning.Connection, as ssotest.Assertion, relay string) *http.Response {
	e.t.Helper()
	sr, err := e.idp.Response(as)
	if err != nil {
		e.t.Fatal(err)
	}
	resp := e.postSAML(b, c, sr, relay)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), appCallback) {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("SAML login: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return resp
}

// refused posts a response and expects a refusal page with the reason (or any 4xx when
// reason is "").
func (e *env) refused(b *browser, c *provisioning.Connection, as ssotest.Assertion, relay string, status int, reason string) {
	e.t.Helper()
	sr, err := e.idp.Response(as)
	if err != nil {
		e.t.Fatal(err)
	}
	resp := e.postSAML(b, c, sr, relay)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		e.t.Fatalf("status %d, want %d: %q %s", resp.StatusCode, status, resp.Header.Get("Location"), body)
	}
	if reason != "" && !bytes.Contains(body, []byte(`<code id="reason">`+reason+`</code>`)) {
		e.t.Fatalf("want reason %s in %s", reason, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sso.SessionCookie && ck.Value != "" {
			e.t.Fatal("a refused login set a session cookie")
		}
	}
}

func (e *env) lastLogin() provisioning.LoginEvent {
	e.t.Helper()
	evs, err := e.db.ListLogins(e.ctx, e.tenant.ID, provisioning.LoginQuery{Limit: 1})
	if err != nil || len(evs) == 0 {
		e.t.Fatalf("login events: %v %d", err, len(evs))
	}
	return evs[0]
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func oidcNonce(n string) oauth2.AuthCodeOption      { return oidc.Nonce(n) }
func s256(v string) oauth2.AuthCodeOption           { return oauth2.S256ChallengeOption(v) }
func tenantParam(slug string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("tenant", slug) }

// newPasswordDoor is the set-up the password, invitation and session tests share: an
// engine over db with quiet logs (its clock now, when given), its accounts with cheap
// password hashing, and the tenant "acme".
func newPasswordDoor(t *testing.T, db *store.DB, now func() time.Time) (*slog.Logger, *provisioning.Engine, *provisioning.Accounts, *provisioning.Tenant) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	eng := provisioning.NewEngine(db, log)
	if now != nil {
		eng.Now = now
	}
	box, err := secretbox.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	acc := provisioning.NewAccounts(eng, box)
	acc.Password = provisioning.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}
	tn, err := eng.CreateTenant(context.Background(), admin, "acme", "Acme Inc", 5)
	if err != nil {
		t.Fatal(err)
	}
	return log, eng, acc, tn
}
