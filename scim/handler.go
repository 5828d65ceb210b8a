package scim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// Provisioner is what the SCIM door needs from the provisioning engine;
// *provisioning.Engine implements it.
type Provisioner interface {
	AuthenticateToken(ctx context.Context, presented string, kind provisioning.TokenKind) (*provisioning.APIToken, *provisioning.Tenant, error)

	CreateUser(ctx context.Context, actor provisioning.Actor, tenantID string, u *provisioning.User) (*provisioning.User, error)
	GetUser(ctx context.Context, tenantID, id string) (*provisioning.User, error)
	ListUsers(ctx context.Context, tenantID string, q provisioning.UserQuery) (*provisioning.UserPage, error)
	UpdateUser(ctx context.Context, actor provisioning.Actor, tenantID, id string, ifVersion int64, fn func(*provisioning.User) error) (*provisioning.User, error)
	DeleteUser(ctx context.Context, actor provisioning.Actor, tenantID, id string, ifVersion int64) error

	CreateGroup(ctx context.Context, actor provisioning.Actor, tenantID string, g *provisioning.Group) (*provisioning.Group, error)
	GetGroup(ctx context.Context, tenantID, id string, withMembers bool) (*provisioning.Group, error)
	ListGroups(ctx context.Context, tenantID string, q provisioning.GroupQuery) (*provisioning.GroupPage, error)
	PatchGroup(ctx context.Context, actor provisioning.Actor, tenantID, id string, ifVersion int64, ops []provisioning.GroupOp, withMembers bool) (*provisioning.Group, error)
	DeleteGroup(ctx context.Context, actor provisioning.Actor, tenantID, id string, ifVersion int64) error
}

var _ Provisioner = (*provisioning.Engine)(nil)

// Options configures the SCIM handler. Zero values get the defaults noted.
type Options struct {
	// BaseURL is the public origin ("https://seatbridge.example.com") used in
	// meta.location and Location headers; empty derives it from the request's Host.
	BaseURL string
	Logger  *slog.Logger
	// MaxBodyBytes limits a request body (default 1 MiB); larger bodies get 413.
	MaxBodyBytes int64
	// MaxPageSize caps count (default 1000); DefaultPageSize applies without count
	// (default 100).
	MaxPageSize     int
	DefaultPageSize int
	// MaxListBytes ends a list page early (itemsPerPage below count) once its resources
	// take this many bytes of JSON (default 8 MiB).
	MaxListBytes int
	// MaxBulkOperations (default 100) and MaxBulkBytes (default 4 MiB) limit /Bulk.
	MaxBulkOperations int
	MaxBulkBytes      int64
	// RateLimit is requests per second per token (0: unlimited) with bursts of RateBurst.
	RateLimit float64
	RateBurst int
	// TenantRateLimit caps all tokens of one tenant together (0: unlimited), with bursts
	// of TenantRateBurst. Both limits are token buckets of this process: with N replicas
	// behind a balancer, configure 1/N of the wanted total.
	TenantRateLimit float64
	TenantRateBurst int
	// AuthFailureRate is failed authentications (missing or invalid tokens) per second per
	// client IP (default 5; negative: unlimited) with bursts of AuthFailureBurst (default
	// 50). A client past it gets 429 before its token is looked up.
	AuthFailureRate  float64
	AuthFailureBurst int
	// TrustForwardedFor takes the client IP from X-Forwarded-For (behind a proxy only).
	TrustForwardedFor bool
	// Now is the clock for rate limiting (default time.Now).
	Now func() time.Time
	// Log, when set, receives every authenticated request with its captured bodies for the
	// tenant's provisioning log; it must not block (provisioning.ProvisioningLog buffers
	// and redacts off the request path).
	Log interface {
		Record(provisioning.ProvisioningLogEntry)
	}
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = 1000
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = 100
	}
	if o.DefaultPageSize > o.MaxPageSize {
		o.DefaultPageSize = o.MaxPageSize
	}
	if o.MaxListBytes <= 0 {
		o.MaxListBytes = 8 << 20
	}
	if o.MaxBulkOperations <= 0 {
		o.MaxBulkOperations = 100
	}
	if o.MaxBulkBytes <= 0 {
		o.MaxBulkBytes = 4 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AuthFailureRate == 0 {
		o.AuthFailureRate = 5
	}
	if o.AuthFailureBurst <= 0 {
		o.AuthFailureBurst = 50
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
}

// handler serves /scim/v2/{tenant}/….
type handler struct {
	p             Provisioner
	opts          Options
	log           *slog.Logger
	limiter       *httpx.RateLimiter
	tenantLimiter *httpx.RateLimiter
	authFailures  *httpx.RateLimiter // per client IP
	// mux serves the route table by method pattern; paths knows each path's pattern and
	// allow its methods, for the 404 and 405 answers (routes.go).
	mux   *http.ServeMux
	paths *http.ServeMux
	allow map[string][]string
}

// NewHandler returns the SCIM 2.0 service for every path under /scim/v2/{tenant}/. Each
// request needs a SCIM bearer token of that tenant; a token of another tenant gets 404,
// so that tenants cannot learn about each other.
func NewHandler(p Provisioner, opts Options) http.Handler {
	opts.defaults()
	h := &handler{p: p, opts: opts, log: opts.Logger, limiter: httpx.NewRateLimiter(opts.RateLimit, opts.RateBurst, opts.Now),
		tenantLimiter: httpx.NewRateLimiter(opts.TenantRateLimit, opts.TenantRateBurst, opts.Now),
		authFailures:  httpx.NewRateLimiter(opts.AuthFailureRate, opts.AuthFailureBurst, opts.Now)}
	h.mount()
	return h
}

// reqCtx is what authentication established for one request.
type reqCtx struct {
	token  *provisioning.APIToken
	tenant *provisioning.Tenant
	actor  provisioning.Actor
	loc    string // https://host/scim/v2/{slug}
	bulk   bool   // inside a /Bulk operation
}

type ctxKey struct{}

func rcOf(r *http.Request) *reqCtx {
	rc, _ := r.Context().Value(ctxKey{}).(*reqCtx)
	return rc
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := httpx.RequestID(r)
	w.Header().Set(httpx.RequestIDHeader, reqID)
	sw := &httpx.Recorder{ResponseWriter: w} // for the provisioning log and the panic answer
	defer func() {
		if v := recover(); v != nil {
			// A bug must not take the server down or show a stack to the client.
			h.log.ErrorContext(r.Context(), "scim: panic", "panic", v, "request_id", reqID, "method", r.Method, "path", r.URL.Path)
			if sw.Status == 0 {
				h.writeError(sw, r, errf(http.StatusInternalServerError, "", "internal error"))
			}
		}
	}()

	if p := canonicalPath(r.URL.Path); p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r = r.Clone(r.Context())
		r.URL = &u
	}
	// The server's access log names the endpoint's pattern, not the path with its ids.
	_, route := h.routeOf(r)
	httpx.SetRoute(r.Context(), route)
	rest, ok := strings.CutPrefix(r.URL.Path, "/scim/v2/")
	slug, _, _ := strings.Cut(rest, "/")
	if !ok || slug == "" {
		h.writeError(sw, r, errf(http.StatusNotFound, "", "no such endpoint"))
		return
	}
	// A client whose failed authentications used up its budget is refused before its
	// token costs a database lookup: floods of invalid tokens are throttled too.
	ip := httpx.ClientIP(r, h.opts.TrustForwardedFor)
	if wait := h.authFailures.Wait(ip); wait > 0 {
		sw.Header().Set("Retry-After", httpx.RetryAfterSeconds(wait))
		h.writeError(sw, r, errf(http.StatusTooManyRequests, "", "too many failed authentications; retry later"))
		return
	}
	bearer, ok := bearerToken(r)
	if !ok {
		h.authFailures.Allow(ip)
		sw.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		h.writeError(sw, r, errf(http.StatusUnauthorized, "", "a bearer token is required"))
		return
	}
	tok, tenant, err := h.p.AuthenticateToken(r.Context(), bearer, provisioning.TokenSCIM)
	if errors.Is(err, provisioning.ErrBadToken) {
		h.authFailures.Allow(ip)
		sw.Header().Set("WWW-Authenticate", `Bearer realm="scim", error="invalid_token"`)
		h.writeError(sw, r, errf(http.StatusUnauthorized, "", "the bearer token is not valid"))
		return
	}
	if err != nil {
		h.writeError(sw, r, err)
		return
	}
	if tenant.Slug != slug {
		h.writeError(sw, r, errf(http.StatusNotFound, "", "resource not found"))
		return
	}
	httpx.SetTenant(r.Context(), tenant.ID)
	ok, wait := h.limiter.Allow(tok.ID)
	if ok {
		ok, wait = h.tenantLimiter.Allow(tenant.ID)
	}
	if !ok {
		sw.Header().Set("Retry-After", httpx.RetryAfterSeconds(wait))
		h.writeError(sw, r, errf(http.StatusTooManyRequests, "", "too many requests; retry later"))
		return
	}
	limit := h.opts.MaxBodyBytes
	if strings.HasSuffix(r.URL.Path, "/Bulk") {
		limit = h.opts.MaxBulkBytes
	}
	if r.ContentLength > limit {
		h.writeError(sw, r, errf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", limit))
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, limit)
	rc := &reqCtx{token: tok, tenant: tenant, loc: h.location(r, slug), actor: provisioning.Actor{
		Kind: provisioning.ActorSCIMToken, ID: tok.ID, Name: tok.Name, IP: ip, RequestID: reqID}}
	if h.opts.Log != nil {
		reqCap := &capture{limit: provisioning.MaxCapturedBody}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, reqCap), r.Body}
		// A successful read is logged with its number of results only (provisioning.
		// ProvisioningLogEntry.finish), so a GET keeps no more than an error body needs.
		respCap := &capture{limit: provisioning.MaxCapturedBody}
		if r.Method == http.MethodGet {
			respCap.limit = provisioning.MaxLoggedBody
		}
		lw := &logWriter{Recorder: sw, body: respCap}
		completed := false
		defer func() {
			status := sw.Status
			switch {
			case !completed && status == 0:
				status = http.StatusInternalServerError // a panic: the recover above answers 500
			case status == 0:
				status = http.StatusOK // nothing written: net/http answers 200
			}
			h.opts.Log.Record(provisioning.ProvisioningLogEntry{TenantID: tenant.ID, At: start.UTC(), TokenID: tok.ID, RequestID: reqID,
				Method: r.Method, Path: r.URL.RequestURI(), Status: status, LatencyMS: float64(time.Since(start).Microseconds()) / 1000,
				RawRequest: reqCap.bytes(), RawResponse: respCap.bytes()})
		}()
		h.dispatch(lw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc)))
		completed = true
		return
	}
	h.dispatch(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc)))
}

// capture keeps the first limit bytes written to it.
type capture struct {
	buf   []byte
	limit int
}

func (c *capture) Write(b []byte) (int, error) {
	if room := c.limit - len(c.buf); room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// bytes returns the capture; a body that overflowed is returned at the cap's length so
// that the log records it by size only.
func (c *capture) bytes() []byte { return c.buf }

// logWriter copies the response body into a capture for the provisioning log.
type logWriter struct {
	*httpx.Recorder
	body *capture
}

func (l *logWriter) Write(b []byte) (int, error) {
	_, _ = l.body.Write(b)
	return l.Recorder.Write(b)
}

// endpoints are the path segments served under /scim/v2/{tenant}/, as registered.
var endpoints = []string{"Users", "Groups", "Schemas", "ResourceTypes", "ServiceProviderConfig", "Bulk", "Me", ".search"}

// canonicalPath spells the endpoint segments of a SCIM path as registered, whatever their
// case (Microsoft's clients send /users), and drops one trailing slash (/Users/), so that
// both reach the resource. Tenant slugs and resource ids are left as they are.
func canonicalPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/scim/v2/")
	if !ok {
		return p
	}
	if len(rest) > 1 {
		rest = strings.TrimSuffix(rest, "/")
	}
	segs := strings.Split(rest, "/")
	// segs[0] is the tenant; segs[1] the endpoint; segs[2] an id or .search.
	for i := 1; i < len(segs) && i <= 2; i++ {
		if i == 2 && segs[1] != "Users" && segs[1] != "Groups" {
			break
		}
		for _, e := range endpoints {
			if (i == 1 || e == ".search") && strings.EqualFold(segs[i], e) {
				segs[i] = e
				break
			}
		}
	}
	return "/scim/v2/" + strings.Join(segs, "/")
}

func bearerToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (h *handler) location(r *http.Request, slug string) string {
	base := h.opts.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + "/scim/v2/" + slug
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	se, ok := toSCIMError(err)
	if !ok {
		h.log.ErrorContext(r.Context(), "scim: internal error", "err", err, "request_id", w.Header().Get(httpx.RequestIDHeader),
			"method", r.Method, "path", r.URL.Path)
	}
	if se.Status == http.StatusServiceUnavailable {
		h.log.WarnContext(r.Context(), "scim: database unavailable", "err", err, "request_id", w.Header().Get(httpx.RequestIDHeader))
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", retryAfterUnavailable)
		}
	}
	httpx.WriteJSON(w, se.Status, contentTypeSCIM, se.body())
}

// retryAfterUnavailable is the Retry-After of a 503 for an unavailable database, in
// seconds: a PostgreSQL restart or fail-over takes a few.
const retryAfterUnavailable = "5"

func (h *handler) write(w http.ResponseWriter, status int, v any) {
	httpx.WriteJSON(w, status, contentTypeSCIM, v)
}

// decodeJSON reads exactly one JSON value from the body (already limited by ServeHTTP),
// its faults as SCIM invalidSyntax errors.
func decodeJSON(r *http.Request, v any) error {
	err := httpx.DecodeJSON(r.Body, v)
	var ute *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ute):
		return badRequest(scimInvalidSyntax, "the request body has the wrong JSON type at %q", ute.Field)
	case errors.Is(err, httpx.ErrEmptyBody):
		return badRequest(scimInvalidSyntax, "the request body is empty")
	case errors.Is(err, httpx.ErrTrailingData):
		return badRequest(scimInvalidSyntax, "the request body has data after the JSON value")
	case errors.Is(err, httpx.ErrInvalidJSON):
		return badRequest(scimInvalidSyntax, "the request body is not valid JSON")
	}
	return err // too large: toSCIMError answers 413
}

// ifMatch reads If-Match as a version for the engine. A tag that cannot be one of ours can
// never match: ErrVersionMismatch (412).
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return provisioning.AnyVersion, nil
	}
	first, _, _ := strings.Cut(v, ",")
	if n, ok := parseETag(first); ok {
		return n, nil
	}
	return 0, provisioning.ErrVersionMismatch
}

// writeResource answers one resource of type rt: its ETag always, its Location when
// created, and for a GET whose If-None-Match holds the version a 304 without building the
// body (RFC 7644 §3.14). resource builds the full representation at a location; the
// request's attributes / excludedAttributes project it.
func (h *handler) writeResource(w http.ResponseWriter, r *http.Request, rt *resourceType, status int, id string, version int64,
	resource func(loc string) map[string]any) {
	w.Header().Set("ETag", etag(version))
	if r.Method == http.MethodGet && notModified(r, version) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	rc := rcOf(r)
	if status == http.StatusCreated {
		w.Header().Set("Location", rc.loc+rt.Endpoint+"/"+id)
	}
	h.write(w, status, projectionOf(rt, r).apply(resource(rc.loc)))
}

// deleteOf serves DELETE of one resource with the engine's delete (DeleteUser,
// DeleteGroup): 204, or 412 when If-Match names another version.
func (h *handler) deleteOf(del func(ctx context.Context, actor provisioning.Actor, tenantID, id string, ifVersion int64) error) func(http.ResponseWriter, *http.Request, string) error {
	return func(w http.ResponseWriter, r *http.Request, id string) error {
		rc := rcOf(r)
		ver, err := ifMatch(r)
		if err != nil {
			return err
		}
		if err := del(r.Context(), rc.actor, rc.tenant.ID, id, ver); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// decodePatch reads and checks a PATCH request body (RFC 7644 §3.5.2).
func decodePatch(r *http.Request) (PatchRequest, error) {
	var req PatchRequest
	if err := decodeJSON(r, &req); err != nil {
		return req, err
	}
	return req, req.check()
}

func notModified(r *http.Request, version int64) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if n, ok := parseETag(t); ok && n == version {
			return true
		}
	}
	return false
}
