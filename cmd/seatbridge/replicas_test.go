package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/emersion/go-smtp"
	"golang.org/x/oauth2"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// This file proves that Seatbridge runs as several replicas over one PostgreSQL: two servers
// built with the real wiring (openApp + routes) share a database, a --secret-key and a
// public base URL, behind a test load balancer that the test points at one replica or the
// other between steps.

const (
	replicaSecretKey = "4242424242424242424242424242424242424242424242424242424242424242"
	replicaCallback  = "https://app.example.test/callback"
	replicaTestdata  = "../../testdata"
)

// freshPostgresDSN creates an empty schema for the test (dropped afterwards) and returns a
// DSN whose search_path points at it, as storetest.OpenPostgres does. Without PostgreSQL
// the test skips, or fails when SEATBRIDGE_REQUIRE_POSTGRES=1.
func freshPostgresDSN(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatalf("parse %s: %v", storetest.EnvPostgres, err)
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "sbreplicas_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	base := u.String()
	t.Cleanup(func() {
		c, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// replica is one Seatbridge server; served records the requests it handled.
type replica struct {
	name string
	app  *app
	srv  *httptest.Server

	mu     sync.Mutex
	served []string
}

func (r *replica) record(req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served = append(r.served, req.Method+" "+req.URL.Path)
}

// handled reports whether the replica served a request with this method and path prefix.
func (r *replica) handled(method, pathPrefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.served {
		if m, p, _ := strings.Cut(s, " "); m == method && strings.HasPrefix(p, pathPrefix) {
			return true
		}
	}
	return false
}

func (r *replica) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.served = nil
}

// cluster is two replicas behind one load balancer whose URL is both replicas' --base-url.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	dsn    string
	base   string
	lb     *httptest.Server
	a, b   *replica
	target atomic.Pointer[replica]
	logs   *syncBuffer
	// configure adjusts a replica's configuration before it opens.
	configure func(name string, cfg *Config)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newCluster(t *testing.T, configure func(name string, cfg *Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, ctx: context.Background(), dsn: freshPostgresDSN(t), logs: &syncBuffer{}, configure: configure}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", c.logs.String())
		}
	})
	c.lb = httptest.NewUnstartedServer(nil)
	c.base = "http://" + c.lb.Listener.Addr().String()
	c.a, c.b = c.replica("A"), c.replica("B")
	proxies := map[*replica]*httputil.ReverseProxy{}
	for _, r := range []*replica{c.a, c.b} {
		target, _ := url.Parse(r.srv.URL)
		proxies[r] = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		}}
	}
	c.to(c.a)
	c.lb.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[c.target.Load()].ServeHTTP(w, r)
	})
	c.lb.Start()
	t.Cleanup(c.lb.Close)
	return c
}

// replica opens the shared database with the real wiring and serves it.
func (c *cluster) replica(name string) *replica {
	c.t.Helper()
	cfg := Config{DB: c.dsn, BaseURL: c.base, SecretKey: replicaSecretKey, LogLevel: "warn", LogFormat: "text"}
	if c.configure != nil {
		c.configure(name, &cfg)
	}
	a, err := openApp(c.ctx, cfg, &cliEnv{stdout: io.Discard, stderr: c.logs, getenv: func(string) string { return "" }})
	if err != nil {
		c.t.Fatalf("replica %s: %v", name, err)
	}
	c.t.Cleanup(a.Close)
	h, err := routes(a)
	if err != nil {
		c.t.Fatalf("replica %s routes: %v", name, err)
	}
	r := &replica{name: name, app: a}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.record(req)
		h.ServeHTTP(w, req)
	}))
	c.t.Cleanup(r.srv.Close)
	return r
}

// to sends the following requests through the load balancer to r.
func (c *cluster) to(r *replica) { c.target.Store(r) }

// cli runs a seatbridge command against the shared database, as an operator would.
func (c *cluster) cli(args ...string) string {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(k string) string {
		return map[string]string{"SEATBRIDGE_DB": c.dsn, "SEATBRIDGE_SECRET_KEY": replicaSecretKey, "SEATBRIDGE_BASE_URL": c.base,
			"SEATBRIDGE_LOG_LEVEL": "warn"}[k]
	}}
	if code := run(c.ctx, args, env); code != 0 {
		c.t.Fatalf("seatbridge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// browser keeps cookies for the load balancer's host and follows redirects there only.
func (c *cluster) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	host := strings.TrimPrefix(c.base, "http://")
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// platformApp is the product application, a go-oidc relying party of Seatbridge (through
// the load balancer).
type platformApp struct {
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
	state    string
	nonce    string
	pkce     string
}

func (c *cluster) platformApp(clientID, secret string) *platformApp {
	c.t.Helper()
	p, err := oidc.NewProvider(c.ctx, c.base)
	if err != nil {
		c.t.Fatalf("discovery: %v", err)
	}
	return &platformApp{
		cfg: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: replicaCallback,
			Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
		state:    "st-" + oauth2.GenerateVerifier()[:10], nonce: "n-" + oauth2.GenerateVerifier()[:16], pkce: oauth2.GenerateVerifier(),
	}
}

func (p *platformApp) authURL(tenant, email string) string {
	return p.cfg.AuthCodeURL(p.state, oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.pkce),
		oauth2.SetAuthURLParam("tenant", tenant), oauth2.SetAuthURLParam("login_hint", email))
}

type idClaims struct {
	Sub    string   `json:"sub"`
	Email  string   `json:"email"`
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	Seat   bool     `json:"seat"`
	AMR    []string `json:"amr"`
	Nonce  string   `json:"nonce"`
}

// codeFrom checks the app callback and returns its code.
func (c *cluster) codeFrom(p *platformApp, resp *http.Response) string {
	c.t.Helper()
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc, replicaCallback) || u.Query().Get("code") == "" {
		body, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("expected the app callback with a code, got %d %q %.300s", resp.StatusCode, loc, body)
	}
	if u.Query().Get("state") != p.state {
		c.t.Fatalf("state %q, want %q", u.Query().Get("state"), p.state)
	}
	return u.Query().Get("code")
}

// exchange redeems the code (through the current replica) and verifies the ID token.
func (c *cluster) exchange(p *platformApp, code string) *idClaims {
	c.t.Helper()
	tok, err := p.cfg.Exchange(c.ctx, code, oauth2.VerifierOption(p.pkce))
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return c.verify(p, raw)
}

func (c *cluster) verify(p *platformApp, raw string) *idClaims {
	c.t.Helper()
	idt, err := p.verifier.Verify(c.ctx, raw)
	if err != nil {
		c.t.Fatalf("verify ID token: %v", err)
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		c.t.Fatal(err)
	}
	if cl.Nonce != p.nonce {
		c.t.Fatalf("nonce %q, want %q", cl.Nonce, p.nonce)
	}
	return &cl
}

func (c *cluster) resetServed() {
	c.a.reset()
	c.b.reset()
}

// mustServe checks that only the want replica served method+path.
func (c *cluster) mustServe(want *replica, method, path string) {
	c.t.Helper()
	other := c.a
	if want == c.a {
		other = c.b
	}
	if !want.handled(method, path) || other.handled(method, path) {
		c.t.Fatalf("%s %s: want it served by replica %s only (A: %v, B: %v)", method, path, want.name, c.a.served, c.b.served)
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReplicasSSO starts SSO logins on replica A and finishes them on replica B: the SAML
// request ID, the OIDC state, nonce and PKCE verifier, the browser binding, the session,
// the authorization code and the signing keys all have to live in the shared database (or
// in cookies sealed with the shared key) for this to work.
func TestReplicasSSO(t *testing.T) {
	c := newCluster(t, nil)
	c.cli("tenant", "create", "acme", "--name", "Acme Corp", "--seats", "10")
	var client struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal([]byte(c.cli("client", "create", "--redirect-uri", replicaCallback, "--json")), &client); err != nil {
		t.Fatal(err)
	}

	t.Run("saml", func(t *testing.T) {
		c.t = t
		idp, err := ssotest.NewSAMLIdP(replicaTestdata + "/saml")
		if err != nil {
			t.Fatal(err)
		}
		mapping := writeFile(t, "mapping.json", []byte(`{"seat":true,"rules":[{"group":"Support-Leads","roles":["Supervisor"]}]}`))
		var conn struct {
			ID   string            `json:"id"`
			URLs map[string]string `json:"urls"`
		}
		out := c.cli("connection", "create", "--tenant", "acme", "--type", "saml", "--name", "okta", "--domains", "acme.com",
			"--metadata-file", writeFile(t, "idp.xml", idp.Metadata()), "--mapping-file", mapping,
			"--sp-key", replicaTestdata+"/saml/sp.key", "--sp-cert", replicaTestdata+"/saml/sp.crt", "--json")
		if err := json.Unmarshal([]byte(out), &conn); err != nil {
			t.Fatalf("connection create: %v: %s", err, out)
		}
		c.resetServed()

		// Replica A: discovery, the app's authorize, the SP-initiated AuthnRequest.
		c.to(c.a)
		app := c.platformApp(client.ClientID, client.ClientSecret)
		br := c.browser()
		resp, err := br.Get(app.authURL("acme", "alice@acme.com"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, idp.SSOURL) {
			t.Fatalf("expected a redirect to the IdP, got %d %q", resp.StatusCode, loc)
		}
		req, relay, err := ssotest.AuthnRequest(loc)
		if err != nil {
			t.Fatal(err)
		}
		if req.AssertionConsumerServiceURL != conn.URLs["acs"] {
			t.Fatalf("ACS %q, want %q", req.AssertionConsumerServiceURL, conn.URLs["acs"])
		}
		c.mustServe(c.a, "GET", "/oauth2/authorize")
		c.mustServe(c.a, "GET", "/sso/acme/login")

		// Replica B: the IdP's signed response at the ACS, then the app's authorize again
		// with the new session: a code.
		c.to(c.b)
		sr, err := idp.Response(ssotest.Assertion{ACS: conn.URLs["acs"], Audience: conn.URLs["spEntityId"], InResponseTo: req.ID,
			NameID: "alice@acme.com", Attributes: map[string][]string{"email": {"alice@acme.com"}, "firstName": {"Alice"},
				"lastName": {"Archer"}, "groups": {"Support-Leads"}}})
		if err != nil {
			t.Fatal(err)
		}
		// Another browser (no binding cookie from A) posting it, even as a re-post, is
		// refused on B without consuming the request.
		other, err := c.browser().PostForm(conn.URLs["acs"], url.Values{"SAMLResponse": {sr}, "RelayState": {relay}, sso.RepostField: {"1"}})
		if err != nil {
			t.Fatal(err)
		}
		other.Body.Close()
		if other.StatusCode != http.StatusForbidden {
			t.Fatalf("unbound post on B: %d %q", other.StatusCode, other.Header.Get("Location"))
		}
		// The browser that started it on A completes it on B: the binding is a signed
		// cookie under a key both replicas derive from the shared secret.
		resp, err = br.PostForm(conn.URLs["acs"], url.Values{"SAMLResponse": {sr}, "RelayState": {relay}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code := c.codeFrom(app, resp)
		c.mustServe(c.b, "POST", "/sso/acme/saml/"+conn.ID+"/acs")

		// Replica A redeems the code B issued; B serves the keys to verify the token A signed.
		c.to(c.a)
		tok, err := app.cfg.Exchange(c.ctx, code, oauth2.VerifierOption(app.pkce))
		if err != nil {
			t.Fatalf("exchange on A: %v", err)
		}
		c.mustServe(c.a, "POST", "/oauth2/token")
		c.to(c.b)
		raw, _ := tok.Extra("id_token").(string)
		cl := c.verify(app, raw)
		c.mustServe(c.b, "GET", "/oauth2/jwks")
		if cl.Tenant != "acme" || cl.Email != "alice@acme.com" || !cl.Seat || !slices.Equal(cl.Roles, []string{"Supervisor"}) ||
			!slices.Equal(cl.AMR, []string{"saml"}) || cl.Sub == "" {
			t.Fatalf("claims %+v", cl)
		}

		// The request ID was consumed in the shared database: replaying the response on
		// replica A is refused.
		c.to(c.a)
		resp2, err := c.browser().PostForm(conn.URLs["acs"], url.Values{"SAMLResponse": {sr}, "RelayState": {relay}})
		if err != nil {
			t.Fatal(err)
		}
		resp2.Body.Close()
		if resp2.StatusCode != http.StatusForbidden {
			t.Fatalf("replay on the other replica: %d %q", resp2.StatusCode, resp2.Header.Get("Location"))
		}
		// The code, too, was single-use across replicas.
		c.to(c.b)
		if _, err := app.cfg.Exchange(c.ctx, code, oauth2.VerifierOption(app.pkce)); err == nil {
			t.Fatal("a code redeemed on A was accepted again on B")
		}
	})

	t.Run("oidc upstream", func(t *testing.T) {
		c.t = t
		op, err := ssotest.NewOIDCProvider(replicaTestdata+"/oidc/idp.key", "seatbridge-at-entra", "entra-secret")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(op.Close)
		op.SetUser(map[string]any{"sub": "entra-123", "email": "kim@acme.org", "email_verified": true, "name": "Kim Kale"})
		var conn struct {
			ID string `json:"id"`
		}
		out := c.cli("connection", "create", "--tenant", "acme", "--type", "oidc", "--name", "entra", "--domains", "acme.org",
			"--issuer", op.Issuer(), "--client-id", op.ClientID, "--client-secret-file", writeFile(t, "secret", []byte(op.ClientSecret)),
			"--seat", "--json")
		if err := json.Unmarshal([]byte(out), &conn); err != nil {
			t.Fatalf("connection create: %v: %s", err, out)
		}
		c.resetServed()

		// Replica A starts: state, nonce and PKCE verifier stored, binding cookie set.
		c.to(c.a)
		app := c.platformApp(client.ClientID, client.ClientSecret)
		br := c.browser()
		resp, err := br.Get(app.authURL("acme", "kim@acme.org"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, op.Issuer()+"/authorize?") {
			t.Fatalf("expected a redirect to the upstream OP, got %d %q", resp.StatusCode, loc)
		}
		c.mustServe(c.a, "GET", "/sso/acme/login")

		// The OP sends the browser back; replica B finishes and issues the code.
		c.to(c.b)
		resp, err = br.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code := c.codeFrom(app, resp)
		c.mustServe(c.b, "GET", "/sso/acme/oidc/"+conn.ID+"/callback")

		cl := c.exchange(app, code) // on B
		if cl.Tenant != "acme" || cl.Email != "kim@acme.org" || !cl.Seat || !slices.Equal(cl.Roles, []string{"Agent"}) ||
			!slices.Equal(cl.AMR, []string{"oidc"}) {
			t.Fatalf("claims %+v", cl)
		}
	})
}

// mailSink is an in-process SMTP server that records every message and takes a while to
// accept each one, so that both replicas' workers are busy at the same time.
type mailSink struct {
	mu    sync.Mutex
	got   []sunkMail
	delay time.Duration
	addr  string
}

type sunkMail struct{ from, to string }

type sinkSession struct {
	s        *mailSink
	from, to string
}

func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	time.Sleep(s.s.delay)
	s.s.mu.Lock()
	s.s.got = append(s.s.got, sunkMail{from: s.from, to: s.to})
	s.s.mu.Unlock()
	return nil
}

func startMailSink(t *testing.T, delay time.Duration) *mailSink {
	t.Helper()
	sink := &mailSink{delay: delay}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: sink}, nil }))
	srv.Domain = "mx.replicas.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return sink
}

func (m *mailSink) mails() []sunkMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sunkMail(nil), m.got...)
}

// TestReplicasOutbox enqueues invitation mail through both replicas, then runs both
// replicas' background workers (the ones serve starts) at once against one SMTP server:
// every mail arrives exactly once, and both replicas took part.
func TestReplicasOutbox(t *testing.T) {
	sink := startMailSink(t, 25*time.Millisecond)
	host, portStr, _ := net.SplitHostPort(sink.addr)
	port, _ := strconv.Atoi(portStr)
	c := newCluster(t, func(name string, cfg *Config) {
		// The sender address tells which replica delivered a message.
		cfg.Mail = MailConfig{SMTPHost: host, SMTPPort: port, SMTPTLS: "none", From: "replica-" + name + "@seatbridge.test",
			PollInterval: 20 * time.Millisecond}
	})
	c.cli("tenant", "create", "acme", "--name", "Acme Corp", "--seats", "0")
	tn, err := tenantBySlug(c.ctx, c.a.app, "acme")
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	want := map[string]bool{}
	for i := range n {
		r := []*replica{c.a, c.b}[i%2]
		acc, err := r.app.accounts()
		if err != nil {
			t.Fatal(err)
		}
		email := "invitee-" + strconv.Itoa(i) + "@example.com"
		if _, err := acc.CreateInvitation(c.ctx, cliActor(), tn.ID, provisioning.InvitationRequest{Email: email}); err != nil {
			t.Fatalf("invite %s on %s: %v", email, r.name, err)
		}
		want[email] = true
	}

	ctx, cancel := context.WithCancel(c.ctx)
	stopA := startWorkers(ctx, c.a.app)
	stopB := startWorkers(ctx, c.b.app)
	deadline := time.Now().Add(60 * time.Second)
	for len(sink.mails()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Give a duplicate, if there were one, time to arrive: several more polls of both workers.
	time.Sleep(300 * time.Millisecond)
	cancel()
	stopA()
	stopB()

	seen := map[string]int{}
	by := map[string]int{}
	for _, m := range sink.mails() {
		seen[m.to]++
		by[m.from]++
	}
	for to := range want {
		if seen[to] != 1 {
			t.Errorf("%s received %d mails, want 1", to, seen[to])
		}
	}
	if len(seen) != n {
		t.Errorf("%d recipients, want %d: %v", len(seen), n, seen)
	}
	t.Logf("delivered by replica: %v", by)
	if by["replica-A@seatbridge.test"] == 0 || by["replica-B@seatbridge.test"] == 0 {
		t.Errorf("both replicas should have delivered mail: %v", by)
	}
	// The outbox agrees: every message sent, on its first attempt, no claim left behind.
	var rows []struct {
		Status   string `db:"status"`
		Attempts int    `db:"attempts"`
		Claimed  string `db:"claimed_by"`
	}
	if err := c.a.app.db.SQL().SelectContext(c.ctx, &rows, "SELECT status, attempts, claimed_by FROM mail_outbox"); err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d outbox rows, want %d", len(rows), n)
	}
	for _, r := range rows {
		if r.Status != provisioning.OutboxSent || r.Attempts != 1 || r.Claimed != "" {
			t.Errorf("outbox row %+v", r)
		}
	}
}
