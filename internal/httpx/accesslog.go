package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Access is what the access log knows of one request once it is served. Doors fill in
// Tenant and Route through SetTenant and SetRoute while serving it.
type Access struct {
	RequestID string
	Method    string
	// Path is the URL path only: query strings and headers can carry tokens and personal
	// data, so they are never logged.
	Path string
	// Route is the pattern that served the request ("/api/v1/users/{id}"), without its
	// method: a door with its own mux sets it (SetRoute), else the server mux's pattern.
	Route    string
	Tenant   string // the tenant ID, once a door authenticated the caller
	Status   int
	Bytes    int
	Duration time.Duration
	IP       string
}

type accessKey struct{}

// SetTenant records the tenant of the request for the access log; a no-op outside
// AccessLog. Doors call it once, where they resolve the tenant: from an authenticated
// caller (token, session, set-up link) or, on the sign-in pages, from the tenant the path
// names once the store has found it; never from an unchecked request value.
func SetTenant(ctx context.Context, tenantID string) {
	if a, ok := ctx.Value(accessKey{}).(*Access); ok {
		a.Tenant = tenantID
	}
}

// SetRoute records the route pattern that serves the request, for a door that routes on a
// mux of its own (whose pattern the server's mux cannot see); a no-op outside AccessLog.
func SetRoute(ctx context.Context, pattern string) {
	if a, ok := ctx.Value(accessKey{}).(*Access); ok {
		a.Route = stripMethod(pattern)
	}
}

// AccessLogOptions configures AccessLog.
type AccessLogOptions struct {
	// Logger receives one line a request (nil: none is written).
	Logger *slog.Logger
	// TrustForwardedFor takes the client IP from X-Forwarded-For (behind a proxy only).
	TrustForwardedFor bool
	// Observe, when set, is called with every request's record after it is served (the
	// server's metrics).
	Observe func(r *http.Request, a *Access)
}

// AccessLog wraps the whole server, every door: it fixes the request ID (so that each door
// logs and echoes the same one), serves the request, and logs one line with its method,
// path, route, status, bytes, duration, client IP and tenant when a door knew it. Server
// errors log at error level, the rest at info.
func AccessLog(next http.Handler, o AccessLogOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := RequestID(r)
		r.Header.Set(RequestIDHeader, id)
		w.Header().Set(RequestIDHeader, id)
		a := &Access{RequestID: id, Method: r.Method, Path: r.URL.Path}
		rec := &Recorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), accessKey{}, a))
		next.ServeHTTP(rec, r)
		a.Status, a.Bytes, a.Duration = rec.Status, rec.Bytes, time.Since(start)
		if a.Status == 0 {
			a.Status = http.StatusOK // nothing written: net/http answers 200
		}
		if a.Route == "" {
			a.Route = stripMethod(r.Pattern)
		}
		if a.Route == "" {
			a.Route = "unmatched"
		}
		a.IP = ClientIP(r, o.TrustForwardedFor)
		if o.Observe != nil {
			o.Observe(r, a)
		}
		if o.Logger == nil {
			return
		}
		level := slog.LevelInfo
		if a.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("request_id", a.RequestID),
			slog.String("method", a.Method),
			slog.String("route", a.Route),
			slog.String("path", a.Path),
			slog.Int("status", a.Status),
			slog.Int("bytes", a.Bytes),
			slog.Float64("duration_ms", float64(a.Duration.Microseconds())/1000),
			slog.String("ip", a.IP),
		}
		if a.Tenant != "" {
			attrs = append(attrs, slog.String("tenant_id", a.Tenant))
		}
		o.Logger.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// stripMethod drops the method of a "GET /healthz" pattern.
func stripMethod(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// Recorder is a ResponseWriter that remembers the status code and size of the response
// it passes on (Status stays 0 until something is written).
type Recorder struct {
	http.ResponseWriter
	Status int
	Bytes  int
}

// WriteHeader records the first status written.
func (s *Recorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records a 200 if no status was written, and counts the bytes.
func (s *Recorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
