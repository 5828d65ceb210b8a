// Package sso is Seatbridge's one sign-in door. It owns every route a person signs in
// through: home-realm discovery (GET /sso/{tenant}/login), the wizard's test sign-in, the
// SAML SP metadata and ACS and the OIDC callback, the password sign-in (GET/POST
// /login/{tenant}, its forced password change and second factor), the invitation pages
// (GET/POST /invite/{token}) and where a sign-in lands (GET /, GET /account). With them it
// owns the request state of a started login (state rows, the cookie binding them to the
// browser), the completion (engine login, session cookie, redirect), one page shell for
// every page, one return-to guard (httpx.SafeReturnTo) and the refusal pages.
//
// The protocols are verifiers behind the Protocol interface (sso/saml, sso/oidc): they
// build the request to the IdP and check its answer, and hold no routes and no state.
// It imports provisioning and internal packages only. It must not import store, scim,
// admin or console, nor the protocol packages: only cmd/seatbridge and tests wire them.
package sso

import (
	"errors"
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
	// AttemptsPerSecond and AttemptsBurst throttle password and invitation POSTs per client
	// IP (0: no throttle). Account lockout stops guessing one account; this stops one
	// client from locking out many. The buckets are per replica.
	AttemptsPerSecond float64
	AttemptsBurst     int
}

// Service is the sign-in door. Create it with New, register the protocols, set Accounts
// for the password and invitation pages, then Mount.
type Service struct {
	Engine *provisioning.Engine
	States provisioning.Store
	Box    *secretbox.Box
	Log    *slog.Logger
	Config Config
	Now    func() time.Time
	// Accounts serves the password and invitation pages; nil leaves them unmounted.
	Accounts *provisioning.Accounts

	protocols map[provisioning.ConnectionType]Protocol
	csrf      *http.CrossOriginProtection
	attempts  *httpx.RateLimiter
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

// Mount registers every route of the door on mux. Sign-in form POSTs are refused when
// the browser says they come from another site (Sec-Fetch-Site / Origin), which stops
// login CSRF; the IdP's answers are bound to the browser by the state cookie instead.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /sso/{tenant}/login", s.handleLogin)
	mux.HandleFunc("GET /sso/{tenant}/test/{ticket}", s.handleTest)
	mux.HandleFunc("GET /sso/{tenant}/saml/{conn}/metadata", s.handleMetadata)
	for typ, a := range answers {
		if _, ok := s.protocols[typ]; ok {
			mux.HandleFunc(a.method+" /sso/{tenant}/"+string(typ)+"/{conn}/"+a.leaf, s.handleAnswer(typ))
		}
	}
	if s.Accounts == nil {
		return
	}
	s.csrf = http.NewCrossOriginProtection()
	s.attempts = httpx.NewRateLimiter(s.Config.AttemptsPerSecond, s.Config.AttemptsBurst, s.Now)
	mux.HandleFunc("GET /invite/{token}", s.showInvite)
	mux.Handle("POST /invite/{token}", s.form(s.acceptInvite))
	mux.HandleFunc("GET /login/{tenant}", s.showLogin)
	mux.Handle("POST /login/{tenant}", s.form(s.passwordLogin))
	mux.Handle("POST /login/{tenant}/change", s.form(s.changePassword))
	mux.Handle("POST /login/{tenant}/2fa", s.form(s.secondFactor))
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /account", s.account)
}

// ReturnTo applies the return-to guard with the door's default.
func (s *Service) ReturnTo(raw string) (string, bool) {
	return httpx.SafeReturnTo(raw, s.Config.DefaultReturnTo)
}

// refuseReturnTo is the page of a return address the guard refused.
func (s *Service) refuseReturnTo(w http.ResponseWriter) {
	s.Render(w, http.StatusBadRequest, Page{Title: "Sign-in not possible", Message: "The return address of this sign-in is not allowed."})
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
	t, err := s.Engine.Store.GetTenantBySlug(r.Context(), slug)
	if err != nil {
		return nil, err
	}
	httpx.SetTenant(r.Context(), t.ID)
	return t, nil
}

// handleLogin is home-realm discovery: GET /sso/{tenant}/login?email=…&connection=…&return_to=….
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	returnTo, ok := s.ReturnTo(r.URL.Query().Get("return_to"))
	if !ok {
		s.refuseReturnTo(w)
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
		s.Render(w, http.StatusOK, Page{Title: "Sign in to " + t.Name, Message: "Enter your work e-mail address.",
			Form: "email", Action: s.URL("/sso/" + t.Slug + "/login"), ReturnTo: returnTo})
		return
	}
	s.begin(w, r, t, pick, pending{ReturnTo: returnTo}, hintOf(email))
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
	rt, ok := s.ReturnTo(returnTo)
	if !ok {
		s.refuseReturnTo(w)
		return
	}
	conn, err := s.Engine.GetConnection(ctx, t.ID, connID)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "Unknown sign-in connection.", notFoundOr(err))
		return
	}
	s.begin(w, r, t, conn, pending{ReturnTo: rt, TestTicket: ticket}, "")
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

// RandomToken returns n random bytes, URL-safe base64 (provisioning.RandomToken).
func RandomToken(n int) (string, error) { return provisioning.RandomToken(n) }

// HashKey is the state key of a secret value: hex SHA-256 (provisioning.StateKey).
func HashKey(v string) string { return provisioning.StateKey(v) }

func notFoundOr(err error) error {
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil
	}
	return err
}
