// Package sso owns Seatbridge's shared sign-in flow: home-realm discovery
// (GET /sso/{tenant}/login), the Protocol interface the SAML and OIDC doors implement, the
// hand-over of a verified upstream identity to the provisioning engine's Login, the
// server-side session and its cookie, the safe return_to rule and the refusal pages.
//
// It imports provisioning and internal packages only. It must not import store, scim or
// admin; the protocol implementations (sso/saml, sso/oidc) and the downstream OIDC provider
// (sso/provider) import it, never the other way round. Only cmd/seatbridge and tests wire
// them together.
package sso

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
)

// Config is the SSO door's configuration.
type Config struct {
	// BaseURL is Seatbridge's public URL (scheme and host, optional path prefix); every
	// URL given to IdPs and clients derives from it. https makes cookies Secure.
	BaseURL *url.URL
	// CookieKey (32 bytes or more) signs browser-binding cookies.
	CookieKey []byte
	// SessionTTL is the lifetime of a Seatbridge session (default 8 h).
	SessionTTL time.Duration
	// StateTTL is how long a started login may take (default 10 min).
	StateTTL time.Duration
	// DefaultReturnTo is where a login without return_to ends (default "/").
	DefaultReturnTo string
	// TrustForwarded reads the client IP from X-Forwarded-For (only behind a proxy that
	// overwrites it).
	TrustForwarded bool
}

// Protocol is one upstream protocol (SAML, OIDC).
type Protocol interface {
	// Begin sends the browser to the IdP of conn. returnTo is already validated; loginHint
	// is the e-mail the user typed (may be empty), passed on so that they do not type it
	// again at the IdP.
	Begin(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, conn *provisioning.Connection, returnTo, loginHint string) error
	// Mount registers the protocol's own routes (metadata, ACS, callback) on mux.
	Mount(mux *http.ServeMux)
}

// Service is the shared flow. Create it with New, add protocols, then Mount.
type Service struct {
	Engine *provisioning.Engine
	States provisioning.Store
	Box    *secretbox.Box
	Log    *slog.Logger
	Config Config
	Now    func() time.Time

	protocols map[provisioning.ConnectionType]Protocol
}

// New returns a Service.
func New(engine *provisioning.Engine, states provisioning.Store, box *secretbox.Box, log *slog.Logger, cfg Config) (*Service, error) {
	if cfg.BaseURL == nil || cfg.BaseURL.Host == "" {
		return nil, errors.New("sso: base URL is required")
	}
	if len(cfg.CookieKey) < 32 {
		return nil, errors.New("sso: cookie key must be at least 32 bytes")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = provisioning.DefaultSessionTTL
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.DefaultReturnTo == "" {
		cfg.DefaultReturnTo = "/"
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{Engine: engine, States: states, Box: box, Log: log, Config: cfg,
		Now: func() time.Time { return time.Now().UTC() }, protocols: map[provisioning.ConnectionType]Protocol{}}, nil
}

// Register adds the implementation of one connection type.
func (s *Service) Register(t provisioning.ConnectionType, p Protocol) { s.protocols[t] = p }

// Mount registers the shared routes and every protocol's routes on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /sso/{tenant}/login", s.handleLogin)
	mux.HandleFunc("GET /sso/{tenant}/test/{ticket}", s.handleTest)
	for _, p := range s.protocols {
		p.Mount(mux)
	}
}

// URL returns BaseURL joined with path (which starts with "/").
func (s *Service) URL(path string) string {
	return strings.TrimSuffix(s.Config.BaseURL.String(), "/") + path
}

// Secure reports whether cookies get the Secure attribute.
func (s *Service) Secure() bool { return s.Config.BaseURL.Scheme == "https" }

// Tenant resolves the {tenant} path value (a slug).
func (s *Service) Tenant(r *http.Request) (*provisioning.Tenant, error) {
	slug := r.PathValue("tenant")
	if slug == "" || len(slug) > 63 {
		return nil, provisioning.ErrNotFound
	}
	return s.Engine.Store.GetTenantBySlug(r.Context(), slug)
}

// Connection loads an enabled connection of the tenant of the given type.
func (s *Service) Connection(ctx context.Context, t *provisioning.Tenant, id string, typ provisioning.ConnectionType) (*provisioning.Connection, error) {
	if id == "" || len(id) > 64 {
		return nil, provisioning.ErrNotFound
	}
	c, err := s.Engine.GetConnection(ctx, t.ID, id)
	if err != nil {
		return nil, err
	}
	if c.Type != typ || c.Disabled {
		return nil, provisioning.ErrNotFound
	}
	return c, nil
}

// handleLogin is home-realm discovery: GET /sso/{tenant}/login?email=…&connection=…&return_to=….
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	returnTo, ok := s.SafeReturnTo(r.URL.Query().Get("return_to"))
	if !ok {
		s.Fail(w, r, http.StatusBadRequest, "The return address of this sign-in is not allowed.", nil)
		return
	}
	t, err := s.Tenant(r)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "Unknown organisation.", notFoundOr(err))
		return
	}
	conns, err := s.Engine.ListConnections(ctx, t.ID)
	if err != nil {
		s.Fail(w, r, http.StatusInternalServerError, "Sign-in is unavailable right now.", err)
		return
	}
	var enabled []provisioning.Connection
	for _, c := range conns {
		if !c.Disabled {
			enabled = append(enabled, c)
		}
	}
	var pick *provisioning.Connection
	email := strings.TrimSpace(r.URL.Query().Get("email"))
	if id := r.URL.Query().Get("connection"); id != "" {
		for i := range enabled {
			if enabled[i].ID == id {
				pick = &enabled[i]
			}
		}
		if pick == nil {
			s.Fail(w, r, http.StatusNotFound, "Unknown sign-in connection.", nil)
			return
		}
	} else if email != "" {
		for i := range enabled {
			if enabled[i].Serves(email) {
				pick = &enabled[i]
				break
			}
		}
		if pick == nil {
			s.Fail(w, r, http.StatusNotFound, "No single sign-on is set up for this e-mail domain in "+t.Name+".", nil)
			return
		}
	} else if len(enabled) == 1 {
		pick = &enabled[0]
	}
	if pick == nil {
		s.askEmail(w, t, returnTo)
		return
	}
	p, ok := s.protocols[pick.Type]
	if !ok {
		s.Fail(w, r, http.StatusNotImplemented, "This sign-in connection type is not available.", nil)
		return
	}
	if err := p.Begin(w, r, t, pick, returnTo, hintOf(email)); err != nil {
		s.Fail(w, r, http.StatusBadGateway, "The identity provider could not be reached.", err)
	}
}

// testKey carries a test sign-in's ticket from handleTest to the protocol's Begin.
type testKey struct{}

// TestTicket returns the test sign-in ticket Begin runs under, or "".
func TestTicket(ctx context.Context) string {
	v, _ := ctx.Value(testKey{}).(string)
	return v
}

// handleTest starts a test sign-in (the set-up wizard's): GET /sso/{tenant}/test/{ticket}.
// The single-use ticket, issued by the wizard to the set-up link's holder, is what allows
// a sign-in through a connection that is not active yet; its result is kept for the
// wizard instead of opening a session.
func (s *Service) handleTest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := s.Tenant(r)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "Unknown organisation.", notFoundOr(err))
		return
	}
	ticket := r.PathValue("ticket")
	connID, returnTo, err := s.Engine.RedeemTestTicket(ctx, t.ID, ticket)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "This test sign-in link was already used or has expired. Start the test again from the set-up page.", notFoundOr(err))
		return
	}
	rt, ok := s.SafeReturnTo(returnTo)
	if !ok {
		s.Fail(w, r, http.StatusBadRequest, "The return address of this sign-in is not allowed.", nil)
		return
	}
	conn, err := s.Engine.GetConnection(ctx, t.ID, connID)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "Unknown sign-in connection.", notFoundOr(err))
		return
	}
	p, ok := s.protocols[conn.Type]
	if !ok {
		s.Fail(w, r, http.StatusNotImplemented, "This sign-in connection type is not available.", nil)
		return
	}
	if err := p.Begin(w, r.WithContext(context.WithValue(ctx, testKey{}, ticket)), t, conn, rt, ""); err != nil {
		s.Fail(w, r, http.StatusBadGateway, "The identity provider could not be reached.", err)
	}
}

// CompleteTest finishes a test sign-in: the engine runs the login and rolls it back, the
// result is stored under the ticket, and the browser goes back to the wizard.
func (s *Service) CompleteTest(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, conn *provisioning.Connection,
	claims provisioning.Claims, attrs map[string][]string, ticket, returnTo string) {
	res, err := s.Engine.TestLogin(r.Context(), provisioning.LoginRequest{TenantID: t.ID, ConnectionID: conn.ID,
		Method: string(conn.Type), Claims: claims, IP: httpx.ClientIP(r, s.Config.TrustForwarded)}, attrs)
	if err == nil {
		err = s.Engine.SaveTestResult(r.Context(), t.ID, ticket, res)
	}
	if err != nil {
		s.Fail(w, r, http.StatusInternalServerError, "The test sign-in failed.", err)
		return
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// hintOf is the login hint sent upstream: the typed e-mail when it looks like one (a
// bounded, printable address), else nothing.
func hintOf(email string) string {
	if len(email) > 254 || strings.Count(email, "@") != 1 || strings.HasPrefix(email, "@") || strings.HasSuffix(email, "@") ||
		strings.ContainsFunc(email, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return ""
	}
	return email
}

// SafeReturnTo accepts only a path on this server (no scheme, no host, no "//" or "\"
// tricks); empty gives the default. Anything else is refused, never "fixed".
func (s *Service) SafeReturnTo(raw string) (string, bool) {
	if raw == "" {
		return s.Config.DefaultReturnTo, true
	}
	if len(raw) > 2048 || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") ||
		strings.ContainsAny(raw, "\\\r\n\t") || strings.HasPrefix(raw, "/%2f") || strings.HasPrefix(raw, "/%2F") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return raw, true
}

// Complete hands a verified upstream identity to the engine: on success it sets the
// session cookie and redirects to returnTo; on refusal it renders the reason.
func (s *Service) Complete(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, conn *provisioning.Connection, claims provisioning.Claims, returnTo string) {
	res, err := s.Engine.Login(r.Context(), provisioning.LoginRequest{
		TenantID: t.ID, ConnectionID: conn.ID, Method: string(conn.Type), Claims: claims,
		IP: httpx.ClientIP(r, s.Config.TrustForwarded), UserAgent: truncate(r.UserAgent(), 512), SessionTTL: s.Config.SessionTTL,
	})
	var refused *provisioning.LoginRefusedError
	switch {
	case errors.As(err, &refused):
		s.Log.InfoContext(r.Context(), "sso login refused", "tenant", t.ID, "connection", conn.ID, "reason", refused.Reason)
		s.render(w, http.StatusForbidden, "Sign-in refused", refused.Message, string(refused.Reason))
		return
	case err != nil:
		s.Fail(w, r, http.StatusInternalServerError, "Sign-in failed.", err)
		return
	}
	s.Log.InfoContext(r.Context(), "sso login", "tenant", t.ID, "connection", conn.ID, "user", res.User.ID, "created", res.Created)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: res.Session.ID + "." + res.SessionSecret, Path: "/",
		HttpOnly: true, Secure: s.Secure(), SameSite: http.SameSiteLaxMode, Expires: res.Session.ExpiresAt})
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// SessionCookie is the Seatbridge session cookie (httpx.SessionCookie).
const SessionCookie = httpx.SessionCookie

// CurrentAccess returns the access of the request's session, or ErrSessionEnded.
func (s *Service) CurrentAccess(r *http.Request) (*provisioning.Access, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, provisioning.ErrSessionEnded
	}
	id, secret, ok := strings.Cut(c.Value, ".")
	if !ok {
		return nil, provisioning.ErrSessionEnded
	}
	return s.Engine.SessionAccess(r.Context(), id, secret)
}

// ClearSession expires the session cookie.
func (s *Service) ClearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Secure(), SameSite: http.SameSiteLaxMode})
}

// RandomToken returns n random bytes, URL-safe base64.
func RandomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashKey is the state key of a secret value: hex SHA-256.
func HashKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// BindCookie sets a signed, expiring cookie binding a started login to this browser; the
// value must come back to CheckBinding with the same name.
func (s *Service) BindCookie(w http.ResponseWriter, name, path, value string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value + "." + s.mac(name, value), Path: path, MaxAge: int(s.Config.StateTTL.Seconds()),
		HttpOnly: true, Secure: s.Secure(), SameSite: http.SameSiteLaxMode})
}

// CheckBinding reports whether the request carries the signed cookie with that value.
func (s *Service) CheckBinding(r *http.Request, name, value string) bool {
	return s.checkCookie(r, name, name, value)
}

// BindCrossSite is BindCookie for a login whose answer comes back as a cross-site POST
// (the IdP's auto-submitted form to the SAML ACS). A SameSite=Lax cookie is not sent on
// such a POST, so over https the cookie is SameSite=None; Secure, with the __Host- prefix
// so that a sibling subdomain cannot plant one (cookie tossing would defeat the binding).
// Browsers drop SameSite=None cookies that are not Secure, so over plain http (local
// development) it stays Lax: the ACS then answers the cross-site POST with a page that
// re-posts the same form from Seatbridge's own origin (RenderRepost), and that same-site
// POST carries the cookie. The cookie is bound to the value by an HMAC under CookieKey,
// which every replica shares.
func (s *Service) BindCrossSite(w http.ResponseWriter, name, value string) {
	c := &http.Cookie{Name: s.crossSiteName(name), Value: value + "." + s.mac(name, value), Path: "/",
		MaxAge: int(s.Config.StateTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if s.Secure() {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
}

// CheckCrossSite reports whether the request carries the BindCrossSite cookie with that
// value.
func (s *Service) CheckCrossSite(r *http.Request, name, value string) bool {
	return s.checkCookie(r, s.crossSiteName(name), name, value)
}

// ClearCrossSite expires a BindCrossSite cookie (its login is answered).
func (s *Service) ClearCrossSite(w http.ResponseWriter, name string) {
	c := &http.Cookie{Name: s.crossSiteName(name), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if s.Secure() {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
}

func (s *Service) crossSiteName(name string) string {
	if s.Secure() {
		return "__Host-" + name
	}
	return name
}

func (s *Service) checkCookie(r *http.Request, cookieName, macName, value string) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	v, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	want := s.mac(macName, v)
	return hmac.Equal([]byte(mac), []byte(want)) && hmac.Equal([]byte(v), []byte(value))
}

func (s *Service) mac(name, value string) string {
	m := hmac.New(sha256.New, s.Config.CookieKey)
	m.Write([]byte(name + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Fail logs err (never shown) and renders a generic page. A database that is unavailable
// is a 503 with Retry-After whatever the step, never "unknown organisation" or a 500.
func (s *Service) Fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if errors.Is(err, provisioning.ErrUnavailable) {
		status, msg = http.StatusServiceUnavailable, "Sign-in is temporarily unavailable. Please try again in a moment."
		w.Header().Set("Retry-After", "5")
	}
	if err != nil {
		lvl := slog.LevelWarn
		if status >= 500 {
			lvl = slog.LevelError
		}
		s.Log.Log(r.Context(), lvl, "sso: "+msg, "status", status, "err", err, "path", r.URL.Path)
	}
	s.render(w, status, "Sign-in failed", msg, "")
}

func notFoundOr(err error) error {
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil
	}
	return err
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p id="message">{{.Message}}</p>{{if .Reason}}<p><small>Reason: <code id="reason">{{.Reason}}</code></small></p>{{end}}
{{if .Form}}<form method="get" action="{{.Form.Action}}"><label>Work e-mail <input type="email" name="email" required></label>
<input type="hidden" name="return_to" value="{{.Form.ReturnTo}}"><button type="submit">Continue</button></form>{{end}}
</main></body></html>`))

type page struct {
	Title, Message, Reason string
	Form                   *struct{ Action, ReturnTo string }
}

func (s *Service) render(w http.ResponseWriter, status int, title, msg, reason string) {
	s.renderPage(w, status, page{Title: title, Message: msg, Reason: reason})
}

// PageCSP is the Content-Security-Policy of the sign-in pages: nothing but the page itself
// (no script, no style, no framing), forms posting only to Seatbridge.
const PageCSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Service) renderPage(w http.ResponseWriter, status int, p page) {
	httpx.HTMLHeaders(w, PageCSP)
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, p); err != nil {
		s.Log.Error("sso: render page", "err", err)
	}
}

// RepostField is the form field that marks a form re-posted by RenderRepost, so that a
// re-posted form is never re-posted again.
const RepostField = "sb_repost"

var repostTmpl = template.Must(template.New("repost").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in</title></head>
<body><main><form id="repost" method="post" action="{{.Action}}">{{range $k, $vs := .Fields}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<noscript><p>Continue to finish signing in.</p><button type="submit">Continue</button></noscript></form>
<script nonce="{{.Nonce}}">document.getElementById("repost").submit()</script></main></body></html>`))

// RenderRepost answers a cross-site form POST with a page that posts the same fields to
// action again, this time from Seatbridge's own origin, so that the browser sends the
// SameSite=Lax binding cookie it withheld from the cross-site POST (see BindCrossSite).
// The fields are escaped by html/template; the only script is the auto-submit, allowed
// by a per-response CSP nonce.
func (s *Service) RenderRepost(w http.ResponseWriter, action string, fields url.Values) {
	nonce, err := RandomToken(18)
	if err != nil {
		http.Error(w, "Sign-in is unavailable right now.", http.StatusInternalServerError)
		return
	}
	f := url.Values{}
	for k, vs := range fields {
		if k != RepostField {
			f[k] = vs
		}
	}
	f.Set(RepostField, "1")
	httpx.HTMLHeaders(w, "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(http.StatusOK)
	if err := repostTmpl.Execute(w, struct {
		Action, Nonce string
		Fields        url.Values
	}{action, nonce, f}); err != nil {
		s.Log.Error("sso: render repost", "err", err)
	}
}

func (s *Service) askEmail(w http.ResponseWriter, t *provisioning.Tenant, returnTo string) {
	s.renderPage(w, http.StatusOK, page{Title: "Sign in to " + t.Name, Message: "Enter your work e-mail address.",
		Form: &struct{ Action, ReturnTo string }{Action: s.URL("/sso/" + t.Slug + "/login"), ReturnTo: returnTo}})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
