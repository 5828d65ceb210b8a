package console_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"github.com/seatbridge/seatbridge/console"
	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	smail "github.com/seatbridge/seatbridge/mail"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/scim"
	"github.com/seatbridge/seatbridge/sso"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/store"
)

// -screenshots writes the browser tests' screenshots to docs/screenshots (for the README);
// without it they go to a temporary directory.
var screenshots = flag.Bool("screenshots", false, "write screenshots to docs/screenshots")

var cli = provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test", Name: "test"}

const adminPassword = "correct horse battery"

// env is one Seatbridge with the doors a browser uses (password sign-in and invitations,
// the console, SCIM), a mail worker delivering to an in-process SMTP server, and a tenant
// with an Admin who signs in with a password.
type env struct {
	t      testing.TB
	db     *store.DB
	eng    *provisioning.Engine
	acc    *provisioning.Accounts
	srv    *httptest.Server
	tenant *provisioning.Tenant
	admin  *provisioning.User
	smtp   *smtpServer
	mailer *smail.Worker
	conns  provisioning.ConnectionPreparer
	wh     *provisioning.Webhooks
	// access collects the access log entries of the served requests (the server's access
	// log wraps every door, as cmd/seatbridge does).
	access *accessLog
}

type accessLog struct {
	mu      sync.Mutex
	entries []httpx.Access
}

// tenantOf returns the tenant the access log named for the last request to path. The log
// is written after the response, which the client may have read already: it waits for it.
func (l *accessLog) tenantOf(t testing.TB, path string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if tenant, ok := l.last(path); ok {
			return tenant
		}
	}
	t.Fatalf("no access log entry for %s", path)
	return ""
}

func (l *accessLog) last(path string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.entries) - 1; i >= 0; i-- {
		if l.entries[i].Path == path {
			return l.entries[i].Tenant, true
		}
	}
	return "", false
}

func newEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := provisioning.NewEngine(db, log)
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	acc := provisioning.NewAccounts(eng, box)
	acc.Password = provisioning.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}
	tn, err := eng.CreateTenant(ctx, cli, "acme", "Acme Inc", 10)
	if err != nil {
		t.Fatal(err)
	}
	if tn, err = eng.UpdateTenant(ctx, cli, tn.ID, func(t *provisioning.Tenant) error { t.Policy.AllowPasswordLogin = true; return nil }); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	door, err := sso.New(eng, db, box, log, sso.Config{BaseURL: &url.URL{Scheme: "http", Host: "127.0.0.1"}, CookieKey: box.Derive("sso-cookie")})
	if err != nil {
		t.Fatal(err)
	}
	door.Accounts = acc
	door.Mount(mux)
	conns := wizardPreparer{ssaml.Preparer{Box: box}, ssooidc.Preparer{Box: box}}
	wh := provisioning.NewWebhooks(eng, box)
	(&console.Handler{Accounts: acc, Log: log, Connections: conns, Webhooks: wh}).Mount(mux)
	mux.Handle("/scim/v2/", scim.NewHandler(eng, scim.Options{Logger: log}))
	access := &accessLog{}
	srv := httptest.NewServer(httpx.AccessLog(mux, httpx.AccessLogOptions{Observe: func(_ *http.Request, a *httpx.Access) {
		access.mu.Lock()
		defer access.mu.Unlock()
		access.entries = append(access.entries, *a)
	}}))
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, eng: eng, acc: acc, srv: srv, tenant: tn, conns: conns, wh: wh, access: access}
	e.admin = e.localUser("ada@acme.test", "Ada Admin", adminPassword, provisioning.RoleAdmin)
	e.smtp = startSMTP(t)
	host, port, _ := net.SplitHostPort(e.smtp.addr)
	sender, err := smail.NewSender(smail.Config{Host: host, Port: atoi(port), TLS: smail.TLSNone, From: "Seatbridge <no-reply@acme.test>"})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := smail.NewTemplates(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.mailer = &smail.Worker{Outbox: acc, Transport: sender, Templates: tpl, Log: log, ID: "test"}
	return e
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// localUser creates a seated user who signs in with a password.
func (e *env) localUser(email, name, password string, roles ...string) *provisioning.User {
	e.t.Helper()
	u, _, err := e.acc.CreateLocalUser(context.Background(), cli, e.tenant.ID, provisioning.LocalUserRequest{
		Email: email, DisplayName: name, Password: password, Roles: roles, Seat: true})
	if err != nil {
		e.t.Fatalf("create %s: %v", email, err)
	}
	return u
}

// deliverMail runs the mail worker once and returns the messages the SMTP server got.
func (e *env) deliverMail() []received {
	e.t.Helper()
	if _, err := e.mailer.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return e.smtp.messages()
}

var inviteLink = regexp.MustCompile(`https?://[0-9.:a-z]+/invite/[A-Za-z0-9_-]+`)

// invitationLink finds the invitation link in the mail sent to addr.
func (e *env) invitationLink(addr string) string {
	e.t.Helper()
	for _, m := range e.deliverMail() {
		if m.To != addr {
			continue
		}
		// Undo quoted-printable soft line breaks before looking for the link.
		body := strings.ReplaceAll(string(m.Data), "=\r\n", "")
		if l := inviteLink.FindString(body); l != "" {
			return l
		}
	}
	e.t.Fatalf("no invitation mail to %s", addr)
	return ""
}

// browser starts headless Chromium for one test. Without /usr/bin/chromium the test is
// skipped, unless SEATBRIDGE_REQUIRE_BROWSER=1 (set by .ci/run) makes that a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("SEATBRIDGE_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("SEATBRIDGE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("chromium not found at %s (SEATBRIDGE_REQUIRE_BROWSER=1)", path)
		}
		t.Skipf("chromium not found at %s: apt-get install chromium", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs browser actions and fails the test with the current page's text on error.
func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		browserFail(t, ctx, err)
	}
}

// get runs one browser action that returns a value.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		browserFail(t, ctx, err)
	}
	return v
}

func browserFail(t *testing.T, ctx context.Context, err error) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	text, _ := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("browser: %v\nat %s\n%s", err, loc, text)
}

// pageText returns the visible text of the page.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, chromedp.Text(chromedp.CSS("body")))
}

// location is the page's current URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, chromedp.Location())
}

// signIn signs in through the tenant's password page, starting from a console URL.
func signIn(t *testing.T, ctx context.Context, e *env, email, password string) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(e.srv.URL+"/admin/acme/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=email]`), email),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form button`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top`)),
	)
}

// shot saves a screenshot of the current page (full length) under name.png.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	if *screenshots {
		dir = filepath.Join("..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	buf := get(t, ctx, chromedp.FullScreenshot(100))
	if len(buf) < 1000 {
		t.Fatalf("screenshot %s: only %d bytes", name, len(buf))
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// smtpServer is a real SMTP server in-process that keeps what it receives.
type smtpServer struct {
	mu       sync.Mutex
	received []received
	addr     string
}

type received struct {
	To   string
	Data []byte
}

type smtpSession struct {
	s  *smtpServer
	to string
}

func (s *smtpSession) Reset()                                    {}
func (s *smtpSession) Logout() error                             { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	s.s.received = append(s.s.received, received{To: s.to, Data: b})
	s.s.mu.Unlock()
	return nil
}

func startSMTP(t testing.TB) *smtpServer {
	t.Helper()
	srv := &smtpServer{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: srv}, nil }))
	s.Domain = "mx.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return srv
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}
