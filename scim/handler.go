package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
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
	mux           *http.ServeMux
}

// NewHandler returns the SCIM 2.0 service for every path under /scim/v2/{tenant}/. Each
// request needs a SCIM bearer token of that tenant; a token of another tenant gets 404,
// so that tenants cannot learn about each other.
func NewHandler(p Provisioner, opts Options) http.Handler {
	opts.defaults()
	h := &handler{p: p, opts: opts, log: opts.Logger, limiter: httpx.NewRateLimiter(opts.RateLimit, opts.RateBurst, opts.Now),
		tenantLimiter: httpx.NewRateLimiter(opts.TenantRateLimit, opts.TenantRateBurst, opts.Now),
		authFailures:  httpx.NewRateLimiter(opts.AuthFailureRate, opts.AuthFailureBurst, opts.Now), mux: http.NewServeMux()}
	const base = "/scim/v2/{tenant}"
	h.mux.HandleFunc(base+"/Users", h.collection(userType, h.createUser))
	h.mux.HandleFunc(base+"/Users/.search", h.search(userType))
	h.mux.HandleFunc(base+"/Users/{id}", h.item(itemMethods{h.getUser, h.putUser, h.patchUser, h.deleteUser}))
	h.mux.HandleFunc(base+"/Groups", h.collection(groupType, h.createGroup))
	h.mux.HandleFunc(base+"/Groups/.search", h.search(groupType))
	h.mux.HandleFunc(base+"/Groups/{id}", h.item(itemMethods{h.getGroup, h.putGroup, h.patchGroup, h.deleteGroup}))
	h.mux.HandleFunc(base+"/.search", h.rootSearch)
	h.mux.HandleFunc(base+"/Me", h.me)
	h.mux.HandleFunc(base+"/ServiceProviderConfig", h.serviceProviderConfig)
	h.mux.HandleFunc(base+"/Schemas", h.schemas)
	h.mux.HandleFunc(base+"/Schemas/{id}", h.schemas)
	h.mux.HandleFunc(base+"/ResourceTypes", h.resourceTypes)
	h.mux.HandleFunc(base+"/ResourceTypes/{id}", h.resourceTypes)
	h.mux.HandleFunc(base+"/Bulk", h.bulk)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, errf(http.StatusNotFound, "", "no such endpoint"))
	})
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

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := httpx.RequestID(r)
	w.Header().Set(httpx.RequestIDHeader, reqID)
	sw := &statusWriter{ResponseWriter: w}
	var tenantID string
	defer func() {
		if v := recover(); v != nil {
			// A bug must not take the server down or show a stack to the client.
			h.log.ErrorContext(r.Context(), "scim: panic", "panic", v, "request_id", reqID, "method", r.Method, "path", r.URL.Path)
			if sw.status == 0 {
				h.writeError(sw, r, errf(http.StatusInternalServerError, "", "internal error"))
			}
		}
		lvl := slog.LevelDebug
		if sw.status >= 500 {
			lvl = slog.LevelWarn
		}
		h.log.Log(r.Context(), lvl, "scim request", "request_id", reqID, "method", r.Method, "path", r.URL.Path,
			"tenant_id", tenantID, "status", sw.status, "duration", time.Since(start))
	}()

	if p := canonicalPath(r.URL.Path); p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r = r.Clone(r.Context())
		r.URL = &u
	}
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
	tenantID = tenant.ID
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
	if h.opts.Log != nil {
		reqCap := &capture{}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, reqCap), r.Body}
		respCap := &capture{}
		lw := &logWriter{statusWriter: sw, body: respCap}
		completed := false
		defer func() {
			status := sw.status
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
		rc := &reqCtx{token: tok, tenant: tenant, loc: h.location(r, slug), actor: provisioning.Actor{
			Kind: provisioning.ActorSCIMToken, ID: tok.ID, Name: tok.Name, IP: httpx.ClientIP(r, h.opts.TrustForwardedFor), RequestID: reqID}}
		h.mux.ServeHTTP(lw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc)))
		completed = true
		return
	}
	rc := &reqCtx{token: tok, tenant: tenant, loc: h.location(r, slug), actor: provisioning.Actor{
		Kind: provisioning.ActorSCIMToken, ID: tok.ID, Name: tok.Name, IP: ip, RequestID: reqID}}
	h.mux.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc)))
}

// capture keeps the first provisioning.MaxCapturedBody bytes written to it.
type capture struct{ buf []byte }

func (c *capture) Write(b []byte) (int, error) {
	if room := provisioning.MaxCapturedBody - len(c.buf); room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// bytes returns the capture; a body that overflowed is returned at the cap's length so
// that the log records it by size only.
func (c *capture) bytes() []byte { return c.buf }

// logWriter copies the response body into a capture for the provisioning log.
type logWriter struct {
	*statusWriter
	body *capture
}

func (l *logWriter) Write(b []byte) (int, error) {
	_, _ = l.body.Write(b)
	return l.statusWriter.Write(b)
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

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return errf(http.StatusMethodNotAllowed, "", "method not allowed; use %s", allow)
}

// decodeJSON reads exactly one JSON value from the body.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest(scimInvalidSyntax, "the request body is empty")
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest(scimInvalidSyntax, "the request body has the wrong JSON type at %q", ute.Field)
		}
		return badRequest(scimInvalidSyntax, "the request body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest(scimInvalidSyntax, "the request body has data after the JSON value")
	}
	return nil
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

// --- Users ---

// validID screens ids from the URL: one that no server could have issued is a 404 here
// rather than a database error.
func validID(id string) bool { return id != "" && len(id) <= 128 && storableText(id) }

// collection dispatches /Users and /Groups: GET lists, POST creates.
func (h *handler) collection(rt *resourceType, create func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch r.Method {
		case http.MethodGet:
			err = h.list(w, r, rt, queryParams(r))
		case http.MethodPost:
			err = create(w, r)
		default:
			err = methodNotAllowed(w, "GET, POST")
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	}
}

// itemMethods are the handlers of one resource type's /{id} endpoint.
type itemMethods struct {
	get, put, patch, del func(http.ResponseWriter, *http.Request, string) error
}

// item dispatches /Users/{id} and /Groups/{id} by method.
func (h *handler) item(m itemMethods) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !validID(id) {
			h.writeError(w, r, errf(http.StatusNotFound, "", "resource not found"))
			return
		}
		var err error
		switch r.Method {
		case http.MethodGet:
			err = m.get(w, r, id)
		case http.MethodPut:
			err = m.put(w, r, id)
		case http.MethodPatch:
			err = m.patch(w, r, id)
		case http.MethodDelete:
			err = m.del(w, r, id)
		default:
			err = methodNotAllowed(w, "GET, PUT, PATCH, DELETE")
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	}
}

func projectionOf(rt *resourceType, r *http.Request) projection {
	q := r.URL.Query()
	return newProjection(rt, q.Get("attributes"), q.Get("excludedAttributes"))
}

func (h *handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u *provisioning.User) {
	rc := rcOf(r)
	res := projectionOf(userType, r).apply(userResource(u, rc.loc))
	w.Header().Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", rc.loc+"/Users/"+u.ID)
	}
	h.write(w, status, res)
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	u, err := h.p.GetUser(r.Context(), rc.tenant.ID, id)
	if err != nil {
		return err
	}
	if notModified(r, u.Version) {
		w.Header().Set("ETag", etag(u.Version))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.writeUser(w, r, http.StatusOK, u)
	return nil
}

func decodeResource(r *http.Request, rt *resourceType) (map[string]any, error) {
	m, _, err := decodeResourceRaw(r, rt)
	return m, err
}

func decodeResourceRaw(r *http.Request, rt *resourceType) (norm, raw map[string]any, err error) {
	if err := decodeJSON(r, &raw); err != nil {
		return nil, nil, err
	}
	if raw == nil {
		return nil, nil, badRequest(scimInvalidSyntax, "the request body must be a JSON object")
	}
	if err := checkSchemas(rt, raw); err != nil {
		return nil, nil, err
	}
	norm, err = normalizeResource(rt, raw)
	return norm, raw, err
}

// checkSchemas refuses a POST or PUT body whose schemas names the core schema of another
// resource type (a Group on /Users): the client is sending the wrong resource (RFC 7644
// §3.3, §3.5.1). A body without schemas is accepted, as clients send it, and so are URNs
// this server does not define (their attributes are ignored like unknown attributes).
func checkSchemas(rt *resourceType, raw map[string]any) error {
	for k, v := range raw {
		if !strings.EqualFold(k, "schemas") || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return badRequest(scimInvalidSyntax, "schemas must be an array of schema URNs")
		}
		for _, x := range list {
			urn, ok := x.(string)
			if !ok {
				return badRequest(scimInvalidSyntax, "schemas must be an array of schema URNs")
			}
			for _, other := range []*resourceType{userType, groupType} {
				if other != rt && strings.EqualFold(urn, other.Core.ID) {
					return badRequest(scimInvalidSyntax, "schemas names %s, the schema of a %s, on the %s endpoint", other.Core.ID, other.Name, rt.Endpoint)
				}
			}
		}
	}
	return nil
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	rc := rcOf(r)
	m, err := decodeResource(r, userType)
	if err != nil {
		return err
	}
	if getStr(m, "userName") == "" {
		return badRequest(scimInvalidValue, "userName is required")
	}
	u := &provisioning.User{Source: provisioning.SourceSCIM, ManagedByIdP: true, Status: provisioning.StatusActive}
	applyUserResource(m, u)
	if active, ok := activeOf(m); ok {
		applyActive(u, active)
	}
	created, err := h.p.CreateUser(r.Context(), rc.actor, rc.tenant.ID, u)
	if err != nil {
		return err
	}
	h.writeUser(w, r, http.StatusCreated, created)
	return nil
}

func (h *handler) putUser(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	m, err := decodeResource(r, userType)
	if err != nil {
		return err
	}
	if getStr(m, "userName") == "" {
		return badRequest(scimInvalidValue, "userName is required")
	}
	u, err := h.p.UpdateUser(r.Context(), rc.actor, rc.tenant.ID, id, ver, func(u *provisioning.User) error {
		applyUserResource(m, u)
		// A PUT without active leaves the status alone: Okta's PUTs omit it.
		if active, ok := activeOf(m); ok {
			applyActive(u, active)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return h.respondUpdatedUser(w, r, u)
}

func (h *handler) respondUpdatedUser(w http.ResponseWriter, r *http.Request, u *provisioning.User) error {
	rc := rcOf(r)
	if projectionOf(userType, r).wants("groups") && u.Groups == nil {
		// The groups are a read view: fetch them after the write rather than trust the
		// update's copy.
		fresh, err := h.p.GetUser(r.Context(), rc.tenant.ID, u.ID)
		if err != nil {
			return err
		}
		u = fresh
	}
	h.writeUser(w, r, http.StatusOK, u)
	return nil
}

func (h *handler) patchUser(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	var req PatchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	u, err := h.p.UpdateUser(r.Context(), rc.actor, rc.tenant.ID, id, ver, func(u *provisioning.User) error {
		m := userResource(u, rc.loc)
		if err := applyUserPatch(m, u.ID, req.Operations); err != nil {
			return err
		}
		applyUserResource(m, u)
		if active, ok := activeOf(m); ok {
			applyActive(u, active)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return h.respondUpdatedUser(w, r, u)
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := h.p.DeleteUser(r.Context(), rc.actor, rc.tenant.ID, id, ver); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- Groups ---

func (h *handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *provisioning.Group, withMembers bool) {
	rc := rcOf(r)
	res := projectionOf(groupType, r).apply(groupResource(g, rc.loc, withMembers))
	w.Header().Set("ETag", etag(g.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", rc.loc+"/Groups/"+g.ID)
	}
	h.write(w, status, res)
}

func hasKeyFold(m map[string]any, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func groupMembersIn(m map[string]any) ([]string, bool, error) {
	raw, present := m["members"]
	if !present {
		return nil, false, nil
	}
	ids, err := memberIDs(raw)
	return ids, true, err
}

func (h *handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	rc := rcOf(r)
	m, err := decodeResource(r, groupType)
	if err != nil {
		return err
	}
	if getStr(m, "displayName") == "" {
		return badRequest(scimInvalidValue, "displayName is required")
	}
	ids, _, err := groupMembersIn(m)
	if err != nil {
		return err
	}
	g := &provisioning.Group{DisplayName: getStr(m, "displayName"), ExternalID: getStr(m, "externalId")}
	for _, id := range ids {
		g.Members = append(g.Members, provisioning.GroupMember{UserID: id})
	}
	created, err := h.p.CreateGroup(r.Context(), rc.actor, rc.tenant.ID, g)
	if err != nil {
		return err
	}
	h.writeGroup(w, r, http.StatusCreated, created, true)
	return nil
}

func (h *handler) getGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	withMembers := projectionOf(groupType, r).wants("members")
	g, err := h.p.GetGroup(r.Context(), rc.tenant.ID, id, withMembers)
	if err != nil {
		return err
	}
	if notModified(r, g.Version) {
		w.Header().Set("ETag", etag(g.Version))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.writeGroup(w, r, http.StatusOK, g, withMembers)
	return nil
}

func (h *handler) putGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	m, raw, err := decodeResourceRaw(r, groupType)
	if err != nil {
		return err
	}
	name := getStr(m, "displayName")
	if name == "" {
		return badRequest(scimInvalidValue, "displayName is required")
	}
	ops := []provisioning.GroupOp{{Kind: provisioning.GroupSetDisplayName, Value: name}, {Kind: provisioning.GroupSetExternalID, Value: getStr(m, "externalId")}}
	// normalizeResource drops an empty members list, so look at the raw presence too:
	// "members": [] in a PUT empties the group, an absent members leaves it alone.
	ids, present, err := groupMembersIn(m)
	if err != nil {
		return err
	}
	switch {
	case present && len(ids) > 0:
		ops = append(ops, provisioning.GroupOp{Kind: provisioning.GroupReplaceMembers, Members: ids})
	case hasKeyFold(raw, "members"):
		ops = append(ops, provisioning.GroupOp{Kind: provisioning.GroupRemoveAllMember})
	}
	withMembers := projectionOf(groupType, r).wants("members")
	g, err := h.p.PatchGroup(r.Context(), rc.actor, rc.tenant.ID, id, ver, ops, withMembers)
	if err != nil {
		return err
	}
	h.writeGroup(w, r, http.StatusOK, g, withMembers)
	return nil
}

func (h *handler) patchGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	var req PatchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	ops, err := groupPatch(id, req.Operations)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// RFC 7644 §3.5.2: 204 unless the client asked for attributes back; Okta and Entra
	// both accept 204 for group PATCH, and it spares loading a large member list.
	wantBody := q.Has("attributes") || q.Has("excludedAttributes") || rc.bulk
	withMembers := wantBody && projectionOf(groupType, r).wants("members")
	g, err := h.p.PatchGroup(r.Context(), rc.actor, rc.tenant.ID, id, ver, ops, withMembers)
	if err != nil {
		return err
	}
	if !wantBody {
		w.Header().Set("ETag", etag(g.Version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	h.writeGroup(w, r, http.StatusOK, g, withMembers)
	return nil
}

func (h *handler) deleteGroup(w http.ResponseWriter, r *http.Request, id string) error {
	rc := rcOf(r)
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := h.p.DeleteGroup(r.Context(), rc.actor, rc.tenant.ID, id, ver); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) me(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, errf(http.StatusNotImplemented, "", "/Me is not supported: a SCIM token does not represent a user"))
}

// --- listing and search ---

// listParams are the query parameters of a list or the body of a search (RFC 7644
// §3.4.2, §3.4.3; cursor from RFC 9865).
type listParams struct {
	Schemas            []string `json:"schemas,omitempty"`
	Attributes         []string `json:"attributes,omitempty"`
	ExcludedAttributes []string `json:"excludedAttributes,omitempty"`
	Filter             string   `json:"filter,omitempty"`
	SortBy             string   `json:"sortBy,omitempty"`
	SortOrder          string   `json:"sortOrder,omitempty"`
	StartIndex         *int     `json:"startIndex,omitempty"`
	Count              *int     `json:"count,omitempty"`
	Cursor             *string  `json:"cursor,omitempty"`

	bad string // a malformed number in the query
}

func queryParams(r *http.Request) listParams {
	q := r.URL.Query()
	p := listParams{Filter: q.Get("filter"), SortBy: q.Get("sortBy"), SortOrder: q.Get("sortOrder")}
	if a := q.Get("attributes"); a != "" {
		p.Attributes = []string{a}
	}
	if a := q.Get("excludedAttributes"); a != "" {
		p.ExcludedAttributes = []string{a}
	}
	for name, dst := range map[string]**int{"startIndex": &p.StartIndex, "count": &p.Count} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				p.bad = name
				continue
			}
			*dst = &n
		}
	}
	if q.Has("cursor") {
		c := q.Get("cursor")
		p.Cursor = &c
	}
	return p
}

func (h *handler) search(rt *resourceType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			h.writeError(w, r, methodNotAllowed(w, "POST"))
			return
		}
		var p listParams
		if err := decodeJSON(r, &p); err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := h.list(w, r, rt, p); err != nil {
			h.writeError(w, r, err)
		}
	}
}

// rootSearch serves POST /.search across Users and Groups (RFC 7644 §3.4.3): users come
// first, then groups, each in id order. A filter naming an attribute one resource type
// lacks matches nothing of that type, as an unassigned attribute would.
func (h *handler) rootSearch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.writeError(w, r, methodNotAllowed(w, "POST"))
		return
	}
	if err := h.searchAll(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *handler) searchAll(w http.ResponseWriter, r *http.Request) error {
	rc := rcOf(r)
	var p listParams
	if err := decodeJSON(r, &p); err != nil {
		return err
	}
	if p.Cursor != nil || p.SortBy != "" {
		return badRequest(scimInvalidValue, "a search across resource types supports neither cursor nor sortBy")
	}
	filters := map[*resourceType]provisioning.Filter{}
	skip := map[*resourceType]bool{}
	if strings.TrimSpace(p.Filter) != "" {
		var firstErr error
		for _, rt := range []*resourceType{userType, groupType} {
			f, err := translateFilter(rt, p.Filter)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				skip[rt] = true
				continue
			}
			filters[rt] = f
		}
		if len(skip) == 2 {
			return firstErr
		}
	}
	start := 1
	if p.StartIndex != nil && *p.StartIndex > 1 {
		start = *p.StartIndex
	}
	count := h.opts.DefaultPageSize
	if p.Count != nil {
		count = max(0, min(*p.Count, h.opts.MaxPageSize))
	}
	attrs, excl := strings.Join(p.Attributes, ","), strings.Join(p.ExcludedAttributes, ",")
	resp := listResponse{Schemas: []string{URNListResponse}, StartIndex: start, Resources: []any{}}
	offset := start - 1
	users := 0
	// Users come first, then groups, each read in chunks and bounded by MaxListBytes as
	// in list; a page cut short by the byte bound among the users holds no groups.
	if !skip[userType] {
		proj := newProjection(userType, attrs, excl)
		fetch := func(off, limit int, _ string, noTotal bool) (items []any, total int, next string, err error) {
			page, err := h.p.ListUsers(r.Context(), rc.tenant.ID, provisioning.UserQuery{Filter: filters[userType], Offset: off, Limit: limit,
				WithGroups: proj.wants("groups"), NoTotal: noTotal})
			if err != nil {
				return nil, 0, "", err
			}
			for i := range page.Users {
				items = append(items, proj.apply(userResource(&page.Users[i], rc.loc)))
			}
			return items, page.Total, "", nil
		}
		if err := h.readPage(&resp, fetch, offset, count, ""); err != nil {
			return err
		}
		users = resp.TotalResults
	}
	if !skip[groupType] {
		proj := newProjection(groupType, attrs, excl)
		withMembers := proj.wants("members")
		fetch := func(off, limit int, _ string, noTotal bool) (items []any, total int, next string, err error) {
			page, err := h.p.ListGroups(r.Context(), rc.tenant.ID, provisioning.GroupQuery{Filter: filters[groupType], Offset: off, Limit: limit,
				WithMembers: withMembers, NoTotal: noTotal})
			if err != nil {
				return nil, 0, "", err
			}
			for i := range page.Groups {
				items = append(items, proj.apply(groupResource(&page.Groups[i], rc.loc, withMembers)))
			}
			return items, page.Total, "", nil
		}
		limit := count - resp.n
		if offset+resp.n < users || resp.size >= h.opts.MaxListBytes {
			limit = 0 // the page ends among the users: only count the groups
		}
		groups := listResponse{}
		if err := h.readPage(&groups, fetch, max(0, offset-users), limit, ""); err != nil {
			return err
		}
		if groups.n > 0 {
			if resp.n > 0 {
				resp.encoded = append(resp.encoded, ',')
			}
			resp.encoded = append(resp.encoded, groups.encoded...)
			resp.n += groups.n
		}
		resp.TotalResults = users + groups.TotalResults
	}
	resp.ItemsPerPage = resp.n
	if count == 0 || resp.n == 0 {
		return h.writeEmptyList(w, resp)
	}
	h.writeList(w, resp)
	return nil
}

// listResponse is the ListResponse message (RFC 7644 §3.4.2; nextCursor RFC 9865).
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	ItemsPerPage int      `json:"itemsPerPage"`
	StartIndex   int      `json:"startIndex,omitempty"`
	NextCursor   string   `json:"nextCursor,omitempty"`
	Resources    []any    `json:"Resources,omitempty"`
	// encoded holds n resources already encoded, comma-separated, for writeList: each is
	// encoded once, as it is read.
	encoded []byte
	n       int
	size    int // bytes of the encoded resources
}

// writeList writes a list response whose resources readPage encoded.
func (h *handler) writeList(w http.ResponseWriter, resp listResponse) {
	resp.Resources = nil
	head, err := json.Marshal(resp)
	if err != nil || resp.n == 0 {
		h.write(w, http.StatusOK, resp)
		return
	}
	body := make([]byte, 0, len(head)+len(resp.encoded)+20)
	body = append(body, head[:len(head)-1]...) // without the closing brace
	body = append(body, `,"Resources":[`...)
	body = append(body, resp.encoded...)
	body = append(body, "]}\n"...)
	w.Header().Set("Content-Type", contentTypeSCIM+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, rt *resourceType, p listParams) error {
	rc := rcOf(r)
	if p.bad != "" {
		return badRequest(scimInvalidValue, "%s must be an integer", p.bad)
	}
	var f provisioning.Filter
	if strings.TrimSpace(p.Filter) != "" {
		var err error
		if f, err = translateFilter(rt, p.Filter); err != nil {
			return err
		}
	}
	sort, err := sortKey(rt, p.SortBy, p.SortOrder)
	if err != nil {
		return err
	}
	start := 1
	if p.StartIndex != nil && *p.StartIndex > 1 {
		start = *p.StartIndex
	}
	count := h.opts.DefaultPageSize
	if p.Count != nil {
		count = max(0, min(*p.Count, h.opts.MaxPageSize))
	}
	after := ""
	if p.Cursor != nil {
		if p.StartIndex != nil {
			return badRequest(scimInvalidValue, "use either startIndex or cursor, not both")
		}
		after = *p.Cursor
	}
	proj := newProjection(rt, strings.Join(p.Attributes, ","), strings.Join(p.ExcludedAttributes, ","))
	resp := listResponse{Schemas: []string{URNListResponse}, Resources: []any{}}
	if p.Cursor == nil {
		resp.StartIndex = start
	}
	// The page is read in chunks and encoded as it comes, and ends early (at a chunk's
	// end, where the store has a cursor) once it holds MaxListBytes: a page of large users
	// must not take memory in proportion to count times their size. itemsPerPage tells the
	// client where the next page starts (RFC 7644 §3.4.2.4 lets a provider return fewer).
	fetch := func(offset, limit int, after string, noTotal bool) (items []any, total int, next string, err error) {
		if rt == userType {
			page, err := h.p.ListUsers(r.Context(), rc.tenant.ID, provisioning.UserQuery{Filter: f, Sort: sort, Offset: offset,
				Limit: limit, After: after, WithGroups: proj.wants("groups"), NoTotal: noTotal})
			if err != nil {
				return nil, 0, "", err
			}
			for i := range page.Users {
				items = append(items, proj.apply(userResource(&page.Users[i], rc.loc)))
			}
			return items, page.Total, page.Next, nil
		}
		withMembers := proj.wants("members")
		page, err := h.p.ListGroups(r.Context(), rc.tenant.ID, provisioning.GroupQuery{Filter: f, Sort: sort, Offset: offset,
			Limit: limit, After: after, WithMembers: withMembers, NoTotal: noTotal})
		if err != nil {
			return nil, 0, "", err
		}
		for i := range page.Groups {
			items = append(items, proj.apply(groupResource(&page.Groups[i], rc.loc, withMembers)))
		}
		return items, page.Total, page.Next, nil
	}
	if err := h.readPage(&resp, fetch, start-1, count, after); err != nil {
		return listError(err, after)
	}
	if count == 0 || p.Cursor == nil {
		resp.NextCursor = ""
	}
	resp.ItemsPerPage = resp.n
	if count == 0 || resp.n == 0 {
		// "Resources": [] rather than an absent member, also for count=0 (RFC 7644
		// §3.4.2: Resources is REQUIRED when totalResults is non-zero): clients index into
		// it.
		return h.writeEmptyList(w, resp)
	}
	h.writeList(w, resp)
	return nil
}

// firstListChunk is how many resources the first chunk of a list page reads; later chunks
// are sized from the bytes the first took, so pages of small resources take two queries.
const firstListChunk = 25

// readPage fills resp with up to count resources from offset (or after the cursor),
// chunk by chunk, each resource encoded as it arrives, until count or MaxListBytes is
// reached. Only the first chunk counts the total.
func (h *handler) readPage(resp *listResponse, fetch func(offset, limit int, after string, noTotal bool) ([]any, int, string, error),
	offset, count int, after string) error {
	if count == 0 {
		_, total, _, err := fetch(offset, 0, after, false)
		resp.TotalResults = total
		return err
	}
	chunk := min(count, firstListChunk)
	for got := 0; ; {
		items, total, next, err := fetch(offset+got, chunk, after, got > 0)
		if err != nil {
			return err
		}
		if got == 0 {
			resp.TotalResults = total
		}
		for _, it := range items {
			b, err := json.Marshal(it)
			if err != nil {
				return fmt.Errorf("encode resource: %w", err)
			}
			if resp.n > 0 {
				resp.encoded = append(resp.encoded, ',')
			}
			resp.encoded = append(resp.encoded, b...)
			resp.n++
			resp.size += len(b)
		}
		got += len(items)
		resp.NextCursor = next
		if len(items) < chunk || got >= count || resp.size >= h.opts.MaxListBytes || (after != "" && next == "") {
			return nil
		}
		if after != "" {
			after = next
		}
		// Size the next chunk to fill the byte budget at the average resource size so far.
		avg := max(1, resp.size/got)
		chunk = max(1, min(count-got, (h.opts.MaxListBytes-resp.size)/avg+1))
	}
}

// listError turns a cursor the store did not issue into invalidCursor.
func listError(err error, after string) error {
	if after != "" && errors.Is(err, provisioning.ErrBadCursor) {
		return badRequest(scimInvalidCursor, "the cursor is not valid (RFC 9865)")
	}
	return err
}

func (h *handler) writeEmptyList(w http.ResponseWriter, resp listResponse) error {
	out := map[string]any{"schemas": resp.Schemas, "totalResults": resp.TotalResults, "itemsPerPage": 0, "Resources": []any{}}
	if resp.StartIndex > 0 {
		out["startIndex"] = resp.StartIndex
	}
	h.write(w, http.StatusOK, out)
	return nil
}

func sortKey(rt *resourceType, by, order string) (provisioning.SortKey, error) {
	var k provisioning.SortKey
	switch strings.ToLower(strings.TrimSpace(order)) {
	case "", "ascending":
	case "descending":
		k.Descending = true
	default:
		return k, badRequest(scimInvalidValue, "sortOrder must be ascending or descending")
	}
	by = strings.TrimSpace(by)
	if by == "" {
		return k, nil
	}
	urn, rest := rt.splitURN(by)
	name, subName, _ := strings.Cut(rest, ".")
	_, a := rt.resolve(urn, name)
	if a != nil && subName != "" && !a.MultiValued {
		a = a.Sub(subName)
	}
	if a == nil || a.MultiValued || a.field == "" || a.Type == typeComplex || a.field == "meta.version" {
		return k, badRequest(scimInvalidValue, "cannot sort by %q", truncate(by))
	}
	k.Field = a.field
	// RFC 7644 §3.4.2.3: resources without a value come last when ascending, first when
	// descending.
	k.MissingLast = true
	return k, nil
}

// recorder captures a sub-request's response inside /Bulk.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rw *recorder) Header() http.Header { return rw.header }
func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
}
func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.body.Write(b)
}
