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
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
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

// handlerFunc is an endpoint: it gets the authenticated caller.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *provisioning.Principal)

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
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allow, ", ")), "")
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint", "")
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
		reqID := httpx.RequestID(r)
		w.Header().Set(httpx.RequestIDHeader, reqID)
		w.Header().Set("Cache-Control", "no-store")
		if rt.public {
			rt.h(w, r, nil)
			return
		}
		p, err := a.authenticate(r)
		if err != nil {
			var fe *provisioning.ForbiddenError
			if errors.As(err, &fe) {
				writeError(w, http.StatusForbidden, "forbidden", fe.Reason, "")
				return
			}
			if errors.Is(err, provisioning.ErrUnavailable) {
				// The token may well be valid: the database that would say so is down.
				a.fail(w, r, err)
				return
			}
			if !errors.Is(err, errUnauthenticated) {
				a.log.ErrorContext(r.Context(), "admin: authenticate", "err", err, "request_id", reqID)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="seatbridge-admin"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "a valid admin token or session is required", "")
			return
		}
		if !rt.self && p.Actor.Kind == provisioning.ActorUser && !p.Can(provisioning.PermManageUsers) {
			writeError(w, http.StatusForbidden, "forbidden", "your roles do not grant manage_users; your own account is under "+Prefix+"/me", "")
			return
		}
		if !rt.self && !p.Can(rt.perm) {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this requires the %s permission", rt.perm), "")
			return
		}
		p.Actor.IP = httpx.ClientIP(r, a.opts.TrustForwardedFor)
		p.Actor.RequestID = reqID
		rt.h(w, r, p)
	})
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

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	httpx.WriteJSON(w, status, "", errorBody{Error: errorDetail{Code: code, Message: msg, Field: field}})
}

// fail maps the engine's error vocabulary to a status, once. Text of unknown errors never
// reaches the client.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve  *provisioning.ValidationError
		ce  *provisioning.ConflictError
		re  *provisioning.RuleError
		se  *provisioning.SeatLimitError
		fe  *provisioning.ForbiddenError
		nfe *provisioning.NotFoundError
		bre *badRequest
	)
	switch {
	case errors.As(err, &bre):
		writeError(w, http.StatusBadRequest, "invalid", bre.msg, bre.field)
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, "invalid", ve.Reason, ve.Field)
	case errors.As(err, &se):
		field := se.Field
		if field == "" {
			field = "userIds"
		}
		httpx.WriteJSON(w, http.StatusConflict, "", errorBody{Error: errorDetail{Code: "seat_limit", Field: field,
			Message: fmt.Sprintf("not enough seats: %d requested, %d of %d free", se.Requested, se.Free, se.Limit),
			Details: map[string]any{"requested": se.Requested, "free": se.Free, "limit": se.Limit}}})
	case errors.As(err, &re):
		writeError(w, http.StatusConflict, "conflict", re.Reason, re.Field)
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, "conflict", ce.Error(), ce.Field)
	case errors.As(err, &fe):
		writeError(w, http.StatusForbidden, "forbidden", fe.Reason, "")
	case errors.Is(err, provisioning.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", "not allowed", "")
	case errors.As(err, &nfe):
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no %s with id %q in this organisation", nfe.Kind, nfe.ID), nfe.Field)
	case errors.Is(err, provisioning.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found", "")
	case errors.Is(err, provisioning.ErrVersionMismatch):
		writeError(w, http.StatusPreconditionFailed, "version_mismatch", "the object changed since it was read; reload and retry", "If-Match")
	case errors.Is(err, provisioning.ErrUnsupportedFilter):
		writeError(w, http.StatusBadRequest, "invalid", "unsupported query", "")
	case errors.Is(err, provisioning.ErrUnavailable):
		a.log.WarnContext(r.Context(), "admin: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", w.Header().Get(httpx.RequestIDHeader))
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the service is temporarily unavailable; retry later", "")
	default:
		a.log.ErrorContext(r.Context(), "admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", w.Header().Get(httpx.RequestIDHeader))
		writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

// badRequest is a request-level (not engine) validation error.
type badRequest struct{ field, msg string }

func (e *badRequest) Error() string { return e.field + ": " + e.msg }

func badf(field, format string, args ...any) error {
	return &badRequest{field: field, msg: fmt.Sprintf(format, args...)}
}

// decode reads a JSON body into v, refusing unknown fields and trailing data.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return badf("body", "a JSON body is required")
		case errors.As(err, &mbe):
			return badf("body", "the body is larger than %d bytes", mbe.Limit)
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
	if dec.More() {
		return badf("body", "unexpected data after the JSON value")
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
