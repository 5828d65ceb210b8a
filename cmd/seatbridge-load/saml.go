package main

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/seatbridge/seatbridge/sso/ssotest"
)

var getenv = os.Getenv

// maxSAMLDuration bounds the timed phase whatever --duration says.
const maxSAMLDuration = 10 * time.Minute

// samlLoad logs users in through Seatbridge's SAML SP the way browsers and an IdP would, with
// responses freshly signed by an in-process IdP (sso/ssotest) whose key the server trusts.
type samlLoad struct {
	base        *url.URL // where requests go
	public      *url.URL // the server's --base-url (IdP-initiated Destination and Audience)
	tenant      string
	domain      string
	run         string
	idp         *ssotest.SAMLIdP
	flow        string
	connection  string
	clientID    string
	secret      string
	redirectURI string
	exchange    bool
	users       int
	tr          *http.Transport

	// acs times the POST of the signed response alone (verification, replay cache, engine
	// login, session).
	acs *recorder

	mu      sync.Mutex
	refused map[string]int
}

// refusal is a login the server turned down with a page (a reason code when it gave one).
type refusal struct {
	status int
	reason string
}

func (r *refusal) Error() string { return fmt.Sprintf("refused (%d %s)", r.status, r.reason) }

func runSAML(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("saml", flag.ContinueOnError)
	fs.SetOutput(out)
	base := fs.String("url", "http://127.0.0.1:8080", "Seatbridge's URL")
	publicURL := fs.String("base-url", "", "the server's --base-url, when it differs from --url (default --url)")
	tenant := fs.String("tenant", "loadtest", "tenant slug")
	domain := fs.String("domain", "load.example.test", "e-mail domain of the load users (the connection must serve it)")
	users := fs.Int("users", 200, "distinct users; each logs in once first (JIT creates them), then at random")
	idpKey := fs.String("idp-key", "testdata/saml/idp.key", "IdP signing key (PKCS#8 or PKCS#1 PEM)")
	idpCert := fs.String("idp-cert", "testdata/saml/idp.crt", "IdP certificate (PEM) the connection trusts")
	entityID := fs.String("idp-entity-id", "https://idp.seatbridge-load.test/saml/metadata", "IdP entity ID (the Issuer)")
	flow := fs.String("flow", "sp", "sp: app authorize → SP-initiated AuthnRequest → ACS → code; idp: IdP-initiated ACS → authorize → code")
	connection := fs.String("connection", "", "SAML connection ID (needed by --flow idp)")
	clientID := fs.String("client-id", "", "OIDC client of the platform app (seatbridge client create)")
	secret := fs.String("client-secret", "", "its secret (only with --exchange; or env SEATBRIDGE_LOAD_CLIENT_SECRET)")
	redirectURI := fs.String("redirect-uri", "http://localhost/seatbridge-load/callback", "the client's registered redirect URI (never contacted)")
	exchange := fs.Bool("exchange", false, "also redeem each code at /oauth2/token (a login then includes the ID token)")
	conc := fs.Int("concurrency", 8, "parallel logins")
	duration := fs.Duration("duration", 10*time.Second, "length of the timed phase (at most 10m)")
	maxLogins := fs.Int("max-logins", 0, "stop the timed phase after this many logins (0: only --duration)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file ('-' for stdout)")
	setup := fs.String("setup", "", "print: print the seatbridge commands creating the tenant, SAML connection and client this mode expects; "+
		"run: run them with --seatbridge, then the load")
	sbCmd := fs.String("seatbridge", "go run ./cmd/seatbridge", "how to run the seatbridge CLI for --setup run")
	db := fs.String("db", "", "--db for the seatbridge CLI in --setup (default: its own, or SEATBRIDGE_DB)")
	metaOut := fs.String("metadata-out", filepath.Join(os.TempDir(), "seatbridge-load-idp.xml"), "where --setup writes the IdP metadata")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *conc < 1 || *users < 1 || *duration <= 0 || *maxLogins < 0 {
		return errors.New("--concurrency, --users and --duration must be positive")
	}
	if *duration > maxSAMLDuration {
		*duration = maxSAMLDuration
	}
	if *flow != "sp" && *flow != "idp" {
		return fmt.Errorf("--flow %q: want sp or idp", *flow)
	}
	bu, err := parseBase(*base)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	pu := bu
	if *publicURL != "" {
		if pu, err = parseBase(*publicURL); err != nil {
			return fmt.Errorf("--base-url: %w", err)
		}
	}
	kp, err := loadKeyPair(*idpKey, *idpCert)
	if err != nil {
		return err
	}
	idp := &ssotest.SAMLIdP{EntityID: *entityID, SSOURL: strings.TrimSuffix(*entityID, "/metadata") + "/sso", Signing: kp,
		Published: []*x509.Certificate{kp.Cert}}
	if *secret == "" {
		*secret = strings.TrimSpace(getenv("SEATBRIDGE_LOAD_CLIENT_SECRET"))
	}

	switch *setup {
	case "":
	case "print", "run":
		if err := os.WriteFile(*metaOut, idp.Metadata(), 0o644); err != nil {
			return fmt.Errorf("write IdP metadata: %w", err)
		}
		list, cmds := setupCommands(*tenant, *domain, *metaOut, pu.String(), *redirectURI, *db, *users)
		if *setup == "print" {
			fmt.Fprintf(out, "# IdP metadata (entity %s, certificate %s) written to %s\n", *entityID, *idpCert, *metaOut)
			for _, c := range cmds {
				fmt.Fprintf(out, "%s %s\n", *sbCmd, shellJoin(c))
			}
			fmt.Fprintf(out, "# then: seatbridge-load saml --url %s --tenant %s --domain %s --client-id CLIENT_ID [--flow idp --connection CONNECTION_ID]\n",
				bu, *tenant, *domain)
			return nil
		}
		conn, client, err := runSetup(ctx, *sbCmd, *tenant, list, cmds, out)
		if err != nil {
			return err
		}
		*connection, *clientID = conn, client.ID
		if *secret == "" {
			*secret = client.Secret
		}
	default:
		return fmt.Errorf("--setup %q: want print or run", *setup)
	}
	if *clientID == "" {
		return errors.New("--client-id is required (create one with 'seatbridge client create --redirect-uri URI', or use --setup run)")
	}
	if *flow == "idp" && *connection == "" {
		return errors.New("--flow idp needs --connection")
	}
	if *exchange && *secret == "" {
		return errors.New("--exchange needs --client-secret")
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = *conc*2, *conc*2, *conc*2
	l := &samlLoad{base: bu, public: pu, tenant: *tenant, domain: *domain, run: randomHex(3), idp: idp, flow: *flow,
		connection: *connection, clientID: *clientID, secret: *secret, redirectURI: *redirectURI, exchange: *exchange,
		users: *users, tr: tr, refused: map[string]int{}}
	defer tr.CloseIdleConnections()

	// Every user once (bounded by --users, not --duration): the first run creates them (JIT),
	// later runs update them.
	var results []Result
	first := newRecorder(fmt.Sprintf("first logins (%s flow, JIT)", *flow), "logins/s")
	l.acs = newRecorder("  of which ACS POST", "")
	fctx, cancel := context.WithTimeout(ctx, maxSAMLDuration)
	parallel(fctx, *users, *conc, func(i int) { l.measure(fctx, first, i) })
	cancel()
	for _, r := range []*recorder{first, l.acs} {
		r.finish()
		results = append(results, r.result())
	}
	firstRefused := l.takeRefusals()

	// The timed phase: random returning users.
	steady := newRecorder(fmt.Sprintf("logins (%s flow)", *flow), "logins/s")
	l.acs = newRecorder("  of which ACS POST", "")
	n := 1 << 30
	if *maxLogins > 0 {
		n = *maxLogins
	}
	sctx, cancel := context.WithTimeout(ctx, *duration)
	parallel(sctx, n, *conc, func(int) { l.measure(sctx, steady, randInt(*users)) })
	cancel()
	for _, r := range []*recorder{steady, l.acs} {
		r.finish()
		results = append(results, r.result())
	}
	refused := l.takeRefusals()
	meta := map[string]any{"mode": "saml", "url": bu.String(), "tenant": *tenant, "flow": *flow, "users": *users,
		"concurrency": *conc, "exchange": *exchange, "run": l.run, "at": time.Now().UTC().Format(time.RFC3339),
		"refusedFirst": firstRefused, "refused": refused}
	if err := report(out, results, meta, *jsonOut); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		m    map[string]int
	}{{"first logins", firstRefused}, {"logins", refused}} {
		if len(p.m) > 0 {
			fmt.Fprintf(out, "%s refused by the server: %s\n", p.name, formatCounts(p.m))
		}
	}
	return nil
}

// measure runs one login and records it; a login cut short by the deadline is not counted.
func (l *samlLoad) measure(ctx context.Context, rec *recorder, user int) {
	t0 := time.Now()
	err := l.login(ctx, user)
	if ctx.Err() != nil {
		return
	}
	var ref *refusal
	if errors.As(err, &ref) {
		l.mu.Lock()
		l.refused[ref.reason]++
		l.mu.Unlock()
	}
	if err == nil {
		rec.units.Add(1)
	}
	rec.observe(time.Since(t0), err)
}

func (l *samlLoad) takeRefusals() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.refused
	l.refused = map[string]int{}
	return m
}

// at is an absolute path on the server.
func (l *samlLoad) at(path string) *url.URL {
	return l.base.ResolveReference(&url.URL{Path: path})
}

func (l *samlLoad) email(user int) string { return fmt.Sprintf("load-%d@%s", user, l.domain) }

// browser is one login's client: its own cookies, redirects not followed (each hop is checked).
func (l *samlLoad) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: l.tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login runs one whole login and returns nil when the app got a code (and, with
// --exchange, an ID token for it).
func (l *samlLoad) login(ctx context.Context, user int) error {
	c := l.browser()
	email := l.email(user)
	state, nonce, verifier := randomHex(8), randomHex(8), randomHex(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {l.clientID}, "redirect_uri": {l.redirectURI}, "response_type": {"code"},
		"scope": {"openid email profile"}, "state": {state}, "nonce": {nonce}, "tenant": {l.tenant}, "login_hint": {email},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	authorize := l.at("/oauth2/authorize")
	authorize.RawQuery = q.Encode()

	var acs *url.URL
	var form url.Values
	switch l.flow {
	case "sp":
		// The app sends the browser to Seatbridge, which sends it to the login page, which
		// sends it to the IdP with an AuthnRequest.
		loc, err := l.redirect(ctx, c, "GET", authorize, nil, http.StatusFound)
		if err != nil {
			return err
		}
		if loc, err = l.redirect(ctx, c, "GET", loc, nil, http.StatusFound); err != nil {
			return err
		}
		req, relay, err := ssotest.AuthnRequest(loc.String())
		if err != nil {
			return fmt.Errorf("not an AuthnRequest at %s: %w", loc.Redacted(), err)
		}
		acsURL, err := url.Parse(req.AssertionConsumerServiceURL)
		if err != nil || req.Issuer == nil {
			return fmt.Errorf("AuthnRequest without ACS or issuer")
		}
		sr, err := l.idp.Response(l.assertion(req.AssertionConsumerServiceURL, req.Issuer.Value, req.ID, email))
		if err != nil {
			return err
		}
		acs = l.at(acsURL.Path)
		form = url.Values{"SAMLResponse": {sr}, "RelayState": {relay}}
	case "idp":
		path := "/sso/" + url.PathEscape(l.tenant) + "/saml/" + url.PathEscape(l.connection)
		sr, err := l.idp.Response(l.assertion(l.public.String()+path+"/acs", l.public.String()+path+"/metadata", "", email))
		if err != nil {
			return err
		}
		acs = l.at(path + "/acs")
		form = url.Values{"SAMLResponse": {sr}}
	}
	t0 := time.Now()
	next, err := l.redirect(ctx, c, "POST", acs, form, http.StatusSeeOther)
	if ctx.Err() == nil {
		l.acs.observe(time.Since(t0), err)
	}
	if err != nil {
		return err
	}
	if l.flow == "idp" {
		next = authorize // the browser now has a session; the app sends it to authorize
	}
	cb, err := l.redirect(ctx, c, "GET", next, nil, http.StatusFound)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(cb.String(), l.redirectURI) || cb.Query().Get("state") != state || cb.Query().Get("code") == "" {
		return fmt.Errorf("not at the app callback with a code: %s", cb.Redacted())
	}
	if l.exchange {
		return l.redeem(ctx, c, cb.Query().Get("code"), verifier)
	}
	return nil
}

func (l *samlLoad) assertion(acs, audience, inResponseTo, email string) ssotest.Assertion {
	return ssotest.Assertion{ACS: acs, Audience: audience, InResponseTo: inResponseTo, NameID: email,
		Attributes: map[string][]string{"email": {email}, "firstName": {"Load"}, "lastName": {"User"}}}
}

var reasonRE = regexp.MustCompile(`<code id="reason">([a-z_]+)</code>`)

// redirect sends one request and returns the Location of the expected redirect. A page
// with another status is a refusal (4xx) or an error.
func (l *samlLoad) redirect(ctx context.Context, c *http.Client, method string, u *url.URL, form url.Values, want int) (*url.URL, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != want {
		if resp.StatusCode/100 == 4 {
			reason := "no reason given"
			if m := reasonRE.FindSubmatch(page); m != nil {
				reason = string(m[1])
			}
			return nil, &refusal{status: resp.StatusCode, reason: fmt.Sprintf("%s %s: %s", method, routeOf(u.Path), reason)}
		}
		return nil, fmt.Errorf("%s %s: %d, want %d: %.200s", method, routeOf(u.Path), resp.StatusCode, want, page)
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %d without Location", method, routeOf(u.Path), resp.StatusCode)
	}
	return loc, nil
}

// routeOf shortens a path for error reports (connection IDs vary).
func routeOf(p string) string {
	if i := strings.Index(p, "/saml/"); i >= 0 {
		return p[:i] + "/saml/…" + p[strings.LastIndex(p, "/"):]
	}
	return p
}

// redeem exchanges the code as the platform app's back end would.
func (l *samlLoad) redeem(ctx context.Context, c *http.Client, code, verifier string) error {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {l.redirectURI}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(ctx, "POST", l.at("/oauth2/token").String(), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(l.clientID), url.QueryEscape(l.secret))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.IDToken == "" {
		return fmt.Errorf("token: %d %s %v", resp.StatusCode, tok.Error, err)
	}
	return nil
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want http(s)://host[:port]", raw)
	}
	return u, nil
}

// loadKeyPair reads an RSA key (PKCS#8 or PKCS#1) and its certificate from PEM files.
func loadKeyPair(keyFile, certFile string) (*ssotest.KeyPair, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--idp-key: %w", err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--idp-cert: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return nil, errors.New("--idp-key / --idp-cert: not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("--idp-key: not an RSA key")
		}
		key = rk
	} else if key, err = x509.ParsePKCS1PrivateKey(kb.Bytes); err != nil {
		return nil, fmt.Errorf("--idp-key: %w", err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("--idp-cert: %w", err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("--idp-cert does not belong to --idp-key")
	}
	return &ssotest.KeyPair{Key: key, Cert: cert, KeyPEM: keyPEM, CertPEM: certPEM}, nil
}

// setupCommands are the seatbridge CLI calls creating what the load expects: a tenant with a
// seat per user, a JIT SAML connection trusting the IdP (IdP-initiated allowed, for --flow
// idp) and the platform app as OIDC client; list is the call that lists the tenants (as
// JSON), so that a tenant that exists already is reused.
func setupCommands(tenant, domain, metadata, baseURL, redirectURI, db string, users int) (list []string, cmds [][]string) {
	dbArgs := []string{}
	if db != "" {
		dbArgs = []string{"--db", db}
	}
	return append([]string{"tenant", "list", "--json"}, dbArgs...), [][]string{
		append([]string{"tenant", "create", tenant, "--name", "Load test " + tenant, "--seats", fmt.Sprint(users)}, dbArgs...),
		append([]string{"connection", "create", "--tenant", tenant, "--type", "saml", "--name", "seatbridge-load", "--mode", "jit",
			"--domains", domain, "--metadata-file", metadata, "--seat", "--allow-idp-initiated", "--base-url", baseURL, "--json"}, dbArgs...),
		append([]string{"client", "create", "--name", "seatbridge-load", "--redirect-uri", redirectURI, "--base-url", baseURL, "--json"}, dbArgs...),
	}
}

type setupClient struct {
	ID     string `json:"clientId"`
	Secret string `json:"clientSecret"`
}

// runSetup runs the setup commands; a tenant that already exists (in the JSON list the
// list command prints) is reused: the tenant create command is skipped.
func runSetup(ctx context.Context, sbCmd, tenant string, list []string, cmds [][]string, out io.Writer) (string, setupClient, error) {
	var client setupClient
	var connID string
	base := strings.Fields(sbCmd)
	if len(base) == 0 {
		return "", client, errors.New("--seatbridge is empty")
	}
	run := func(args []string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, base[0], append(base[1:], args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("setup: seatbridge %s: %w: %s", strings.Join(args[:2], " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout, nil
	}
	stdout, err := run(list)
	if err != nil {
		return "", client, err
	}
	var tenants []struct{ Slug string }
	if err := json.Unmarshal(stdout, &tenants); err != nil {
		return "", client, fmt.Errorf("setup: tenant list printed %q: %w", stdout, err)
	}
	for i, args := range cmds {
		if i == 0 && slices.ContainsFunc(tenants, func(t struct{ Slug string }) bool { return t.Slug == tenant }) {
			fmt.Fprintf(out, "setup: tenant exists, reusing it\n")
			continue
		}
		stdout, err := run(args)
		if err != nil {
			return "", client, err
		}
		switch i {
		case 1:
			var c struct{ ID string }
			if err := json.Unmarshal(stdout, &c); err != nil || c.ID == "" {
				return "", client, fmt.Errorf("setup: connection create printed %q", stdout)
			}
			connID = c.ID
		case 2:
			if err := json.Unmarshal(stdout, &client); err != nil || client.ID == "" {
				return "", client, fmt.Errorf("setup: client create printed %q", stdout)
			}
		}
	}
	fmt.Fprintf(out, "setup: connection %s, client %s\n", connID, client.ID)
	return connID, client, nil
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$&;|<>()*?[]#~`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d× %s", m[k], k)
	}
	return strings.Join(parts, "; ")
}
