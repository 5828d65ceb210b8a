// Package admin is Seatbridge's admin JSON API under /api/v1: the users overview, seats,
// roles and permissions, teams, user lifecycle, bulk operations and CSV import, tenant
// policy, audit log and login history, and the OpenAPI document describing them.
//
// Handlers decode, call the provisioning engine and encode; every rule lives in the engine.
// The tenant always comes from the caller's admin token or session, never from the request.
// It imports provisioning and internal/httpx only: never store, scim or sso.
package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// SessionCookie is the Seatbridge session cookie (httpx.SessionCookie).
const SessionCookie = httpx.SessionCookie

// Options configures the API.
type Options struct {
	Logger *slog.Logger
	// States resolves access tokens issued by Seatbridge's OIDC provider to sessions;
	// without it only admin tokens and session cookies authenticate.
	States provisioning.Store
	// TrustForwardedFor takes the client IP from X-Forwarded-For (behind a proxy only).
	TrustForwardedFor bool
	// MaxBodyBytes limits JSON bodies (default 1 MiB); CSV imports get 8 times as much.
	MaxBodyBytes int64
	// Now is the clock for access token expiry (default time.Now).
	Now func() time.Time
	// Accounts serves invitations, local passwords and mail suppressions; without it
	// those endpoints answer 501.
	Accounts *provisioning.Accounts
	// Connections checks and seals SSO connections (the SSO door's preparer); without it
	// creating or changing a connection answers 501.
	Connections provisioning.ConnectionPreparer
	// FetchPrivate lets metadata and discovery URLs reach private and loopback addresses
	// (tests, or an operator whose IdP is on the internal network). Off, such URLs are
	// refused (SSRF).
	FetchPrivate bool
	// Webhooks serves the webhook endpoints; without it they answer 501.
	Webhooks *provisioning.Webhooks
}

// API is the admin API handler.
type API struct {
	eng    *provisioning.Engine
	opts   Options
	log    *slog.Logger
	csrf   *http.CrossOriginProtection
	routes []route
}

// New returns the API over the engine.
func New(eng *provisioning.Engine, opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &API{eng: eng, opts: opts, log: opts.Logger, csrf: http.NewCrossOriginProtection()}
	a.routes = a.table()
	return a
}

// handlerFunc is an endpoint: it gets the authenticated caller and returns the error to
// answer, which wrap maps to the JSON error once (fail), as the SCIM door does.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error

// with gives h a service the server may run without (Accounts, Webhooks): get returns it,
// or the 501 the endpoint answers when it is not configured.
func with[S any](get func() (S, error), h func(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, s S) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
		s, err := get()
		if err != nil {
			return err
		}
		return h(w, r, p, s)
	}
}

// route is one endpoint and the permission it needs. The OpenAPI test walks this table.
type route struct {
	method string
	path   string // below Prefix
	perm   provisioning.Permission
	h      handlerFunc
	public bool // served without authentication (the OpenAPI document)
	// self routes serve any signed-in user their own account (perm is not checked);
	// every other route needs manage_users of a session on top of perm.
	self bool
}

// Routes lists the endpoints as "METHOD /api/v1/path" patterns.
func (a *API) Routes() []string {
	out := make([]string, len(a.routes))
	for i, rt := range a.routes {
		out[i] = rt.method + " " + Prefix + rt.path
	}
	return out
}

// Mount registers every endpoint on mux, plus a JSON 404 for unknown paths under Prefix.
func (a *API) Mount(mux *http.ServeMux) {
	for _, rt := range a.routes {
		mux.Handle(rt.method+" "+Prefix+rt.path, a.wrap(rt))
	}
	// The catch-all answers what the mux cannot: a known path with another method is a
	// 405 with Allow (the catch-all pattern would otherwise make it a 404).
	own := http.NewServeMux()
	for _, rt := range a.routes {
		own.Handle(rt.method+" "+Prefix+rt.path, http.NotFoundHandler())
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := own.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			if slices.Contains(allow, "GET") {
				allow = append(allow, "HEAD")
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, apiErr(http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allow, ", ")), ""))
			return
		}
		writeError(w, apiErr(http.StatusNotFound, "not_found", "no such endpoint", ""))
	})
}

// Handler returns a mux with only this API, for tests and embedding.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Mount(mux)
	return mux
}

func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(httpx.RequestIDHeader, httpx.RequestID(r))
		w.Header().Set("Cache-Control", "no-store")
		if err := a.serve(w, r, rt); err != nil {
			a.fail(w, r, err)
		}
	})
}

// serve authenticates and authorises the caller of rt, then runs its handler.
func (a *API) serve(w http.ResponseWriter, r *http.Request, rt route) error {
	if rt.public {
		return rt.h(w, r, nil)
	}
	p, err := a.authenticate(r)
	if err != nil {
		var fe *provisioning.ForbiddenError
		if errors.As(err, &fe) || errors.Is(err, provisioning.ErrUnavailable) {
			// Unavailable: the token may well be valid, the database that would say so is down.
			return err
		}
		if !errors.Is(err, errUnauthenticated) {
			a.log.ErrorContext(r.Context(), "admin: authenticate", "err", err, "request_id", w.Header().Get(httpx.RequestIDHeader))
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="seatbridge-admin"`)
		return apiErr(http.StatusUnauthorized, "unauthenticated", "a valid admin token or session is required", "")
	}
	httpx.SetTenant(r.Context(), p.Tenant.ID)
	if !rt.self && p.Actor.Kind == provisioning.ActorUser && !p.Can(provisioning.PermManageUsers) {
		return apiErr(http.StatusForbidden, "forbidden", "your roles do not grant manage_users; your own account is under "+Prefix+"/me", "")
	}
	if !rt.self && !p.Can(rt.perm) {
		return apiErr(http.StatusForbidden, "forbidden", fmt.Sprintf("this requires the %s permission", rt.perm), "")
	}
	p.Actor.IP = httpx.ClientIP(r, a.opts.TrustForwardedFor)
	p.Actor.RequestID = w.Header().Get(httpx.RequestIDHeader)
	return rt.h(w, r, p)
}

var errUnauthenticated = errors.New("unauthenticated")

// authenticate resolves the caller: an admin token, a Seatbridge access token, or the
// session cookie (then cross-origin unsafe requests are refused). Outside the self-service
// routes a session must grant manage_users (checked by wrap). It fails closed.
func (a *API) authenticate(r *http.Request) (*provisioning.Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 512 {
			return nil, errUnauthenticated
		}
		tok = strings.TrimSpace(tok)
		if strings.HasPrefix(tok, provisioning.TokenPrefix) {
			t, tenant, err := a.eng.AuthenticateToken(ctx, tok, provisioning.TokenAdmin)
			if errors.Is(err, provisioning.ErrBadToken) {
				return nil, errUnauthenticated
			}
			if err != nil {
				return nil, err
			}
			return provisioning.TokenPrincipal(t, tenant), nil
		}
		return a.accessTokenPrincipal(ctx, tok)
	}
	id, secret, ok := httpx.ReadSession(r)
	if !ok {
		return nil, errUnauthenticated
	}
	if err := a.csrf.Check(r); err != nil {
		return nil, &provisioning.ForbiddenError{Reason: "cross-origin request refused"}
	}
	acc, err := a.eng.SessionAccess(ctx, id, secret)
	if err != nil {
		return nil, sessionErr(err)
	}
	return sessionPrincipal(acc)
}

func (a *API) accessTokenPrincipal(ctx context.Context, tok string) (*provisioning.Principal, error) {
	if a.opts.States == nil {
		return nil, errUnauthenticated
	}
	sum := sha256.Sum256([]byte(tok))
	st, err := a.opts.States.GetState(ctx, provisioning.StateAccessToken, hex.EncodeToString(sum[:]), a.opts.Now())
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	acc, err := a.eng.SessionAccessByID(ctx, st.SessionID)
	if err != nil {
		return nil, sessionErr(err)
	}
	if st.TenantID != acc.Tenant.ID {
		return nil, errUnauthenticated
	}
	return sessionPrincipal(acc)
}

func sessionErr(err error) error {
	if errors.Is(err, provisioning.ErrSessionEnded) {
		return errUnauthenticated
	}
	return err
}

func sessionPrincipal(acc *provisioning.Access) (*provisioning.Principal, error) {
	return provisioning.SessionPrincipal(acc), nil
}

// errorBody is the wire form of every error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// apiError is an answer of this API that is not the engine's: its status and wire body.
type apiError struct {
	status int
	body   errorDetail
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin %d %s: %s", e.status, e.body.Code, e.body.Message)
}

func apiErr(status int, code, msg, field string) *apiError {
	return &apiError{status: status, body: errorDetail{Code: code, Message: msg, Field: field}}
}

func writeError(w http.ResponseWriter, e *apiError) {
	httpx.WriteJSON(w, e.status, "", errorBody{Error: e.body})
}

// fail answers err: the one place that maps the engine's error vocabulary (and this API's
// own apiError) to a status and JSON error. Text of unknown errors never reaches the client.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	switch e.status {
	case http.StatusServiceUnavailable:
		a.log.WarnContext(r.Context(), "admin: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", w.Header().Get(httpx.RequestIDHeader))
		w.Header().Set("Retry-After", "5")
	case http.StatusInternalServerError:
		a.log.ErrorContext(r.Context(), "admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", w.Header().Get(httpx.RequestIDHeader))
	}
	writeError(w, e)
}

// toAPIError maps an error to the answer; the first match wins.
func toAPIError(err error) *apiError {
	var (
		ae  *apiError
		ve  *provisioning.ValidationError
		ce  *provisioning.ConflictError
		re  *provisioning.RuleError
		se  *provisioning.SeatLimitError
		fe  *provisioning.ForbiddenError
		nfe *provisioning.NotFoundError
		ue  *provisioning.InvitationUnusableError
		le  *provisioning.LoginRefusedError
		bre *badRequest
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ue):
		// A used invitation conflicts with the request; a revoked or expired one is gone.
		status := http.StatusGone
		if ue.State == provisioning.InviteAccepted {
			status = http.StatusConflict
		}
		return apiErr(status, "invitation_"+string(ue.State), ue.Message, "")
	case errors.As(err, &le):
		return apiErr(http.StatusTooManyRequests, string(le.Reason), le.Message, "")
	case errors.Is(err, provisioning.ErrPasswordRestricted):
		return apiErr(http.StatusForbidden, "forbidden", "this account may not change its own password", "")
	case errors.As(err, &bre):
		return apiErr(http.StatusBadRequest, "invalid", bre.msg, bre.field)
	case errors.As(err, &ve):
		return apiErr(http.StatusBadRequest, "invalid", ve.Reason, ve.Field)
	case errors.As(err, &se):
		field := se.Field
		if field == "" {
			field = "userIds"
		}
		e := apiErr(http.StatusConflict, "seat_limit", fmt.Sprintf("not enough seats: %d requested, %d of %d free", se.Requested, se.Free, se.Limit), field)
		e.body.Details = map[string]any{"requested": se.Requested, "free": se.Free, "limit": se.Limit}
		return e
	case errors.As(err, &re):
		return apiErr(http.StatusConflict, "conflict", re.Reason, re.Field)
	case errors.As(err, &ce):
		return apiErr(http.StatusConflict, "conflict", ce.Error(), ce.Field)
	case errors.As(err, &fe):
		return apiErr(http.StatusForbidden, "forbidden", fe.Reason, "")
	case errors.Is(err, provisioning.ErrForbidden):
		return apiErr(http.StatusForbidden, "forbidden", "not allowed", "")
	case errors.As(err, &nfe):
		return apiErr(http.StatusNotFound, "not_found", fmt.Sprintf("no %s with id %q in this organisation", nfe.Kind, nfe.ID), nfe.Field)
	case errors.Is(err, provisioning.ErrNotFound):
		return apiErr(http.StatusNotFound, "not_found", "not found", "")
	case errors.Is(err, provisioning.ErrVersionMismatch):
		return apiErr(http.StatusPreconditionFailed, "version_mismatch", "the object changed since it was read; reload and retry", "If-Match")
	case errors.Is(err, provisioning.ErrUnsupportedFilter):
		return apiErr(http.StatusBadRequest, "invalid", "unsupported query", "")
	case errors.Is(err, provisioning.ErrUnavailable):
		return apiErr(http.StatusServiceUnavailable, "unavailable", "the service is temporarily unavailable; retry later", "")
	}
	return apiErr(http.StatusInternalServerError, "internal", "internal error", "")
}

// configured returns an optional service of the server, or a 501 (code, msg) when the
// server runs without it.
func configured[T comparable](svc T, code, msg string) (T, error) {
	var none T
	if svc == none {
		return none, apiErr(http.StatusNotImplemented, code, msg, "")
	}
	return svc, nil
}

// badRequest is a request-level (not engine) validation error.
type badRequest struct{ field, msg string }

func (e *badRequest) Error() string { return e.field + ": " + e.msg }

func badf(field, format string, args ...any) error {
	return &badRequest{field: field, msg: fmt.Sprintf(format, args...)}
}

// decode reads a JSON body into v, refusing unknown fields and trailing data.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	var raw json.RawMessage
	if err := httpx.DecodeJSON(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes), &raw); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, httpx.ErrEmptyBody):
			return badf("body", "a JSON body is required")
		case errors.As(err, &mbe):
			return badf("body", "the body is larger than %d bytes", mbe.Limit)
		case errors.Is(err, httpx.ErrTrailingData):
			return badf("body", "unexpected data after the JSON value")
		default:
			return badf("body", "not valid JSON")
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badf(te.Field, "must be a %s", jsonType(te.Type.Kind().String()))
		}
		return badf("body", "not valid JSON")
	}
	var uf *unknownFieldError
	if err := checkKnownFields(raw, reflect.TypeOf(v)); errors.As(err, &uf) {
		return badf(uf.Field, "unknown field")
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpx.WriteJSON(w, status, "", v) }

// created answers 201 with v, the resource made at path (under Prefix), in Location.
func created(w http.ResponseWriter, path string, v any) error {
	w.Header().Set("Location", Prefix+path)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// noContent answers 204 to a change that returned err == nil.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reply answers a handler's result: err when there is one (for fail), else v as JSON with
// status. v is built before err is looked at, so it must not dereference a nil result.
func reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// intParam reads the query parameter name as a whole number from lo to hi, def when it is
// absent; msg words the refusal.
func intParam(q url.Values, name string, def, lo, hi int, msg string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badf(name, "%s", msg)
	}
	return n, nil
}
