package main

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/seatbridge/seatbridge/internal/httpx"
)

// metrics are the server's Prometheus instruments. A registry per server (not the global
// one) keeps tests that start several servers in one process independent.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	scimOps  *prometheus.CounterVec
	logins   *prometheus.CounterVec
	inFlight prometheus.Gauge
}

func newMetrics(a *app) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seatbridge_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "seatbridge_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method"})
	m.scimOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seatbridge_scim_operations_total", Help: "SCIM operations by tenant, resource, method and status code.",
	}, []string{"tenant", "resource", "method", "code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "seatbridge_http_in_flight_requests", Help: "Requests being served.",
	})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seatbridge_logins_total", Help: "Sign-in attempts recorded by this replica, by method (saml, oidc, pwd) and result.",
	}, []string{"method", "result"})
	a.eng.LoginObserver = func(method, result string) { m.logins.WithLabelValues(method, result).Inc() }
	outbox := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "seatbridge_mail_outbox_pending", Help: "Mail messages waiting for delivery (all replicas: read from the database).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := a.db.OutboxPending(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
	m.reg.MustRegister(m.requests, m.latency, m.scimOps, m.logins, m.inFlight, outbox,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(a.db.SQL().DB, string(a.db.Dialect())))
	return m
}

// handler serves /metrics, behind a bearer token when one is configured.
func (m *metrics) handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statusRecorder captures the status code and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe wraps the whole server: it fixes the request ID (so every door logs and echoes the
// same one), then records a structured access log line and the metrics. The route label is
// the mux pattern the request matched, never the raw path, so ids do not explode the label
// set. Headers and query strings are not logged: they can carry tokens and personal data.
func observe(next http.Handler, m *metrics, log *slog.Logger, trustForwarded bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := httpx.RequestID(r)
		r.Header.Set(httpx.RequestIDHeader, id)
		w.Header().Set(httpx.RequestIDHeader, id)
		rec := &statusRecorder{ResponseWriter: w}
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		next.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		elapsed := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		// Drop the method prefix of "GET /healthz" patterns; method is its own label.
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		code := strconv.Itoa(rec.code)
		if route == "/scim/v2/" {
			var tenant, resource string
			route, tenant, resource = scimRoute(r.URL.Path)
			// Only requests the token was good for name their tenant: otherwise anyone could
			// mint label values by guessing slugs.
			if rec.code == http.StatusUnauthorized || rec.code == http.StatusForbidden || rec.code == http.StatusNotFound {
				tenant = "-"
			}
			m.scimOps.WithLabelValues(tenant, resource, r.Method, code).Inc()
		}
		m.requests.WithLabelValues(route, r.Method, code).Inc()
		m.latency.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if rec.code >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.code),
			slog.Int("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("ip", httpx.ClientIP(r, trustForwarded)),
		)
	})
}

// scimResources are the SCIM endpoints that get their own route label.
var scimResources = map[string]bool{"Users": true, "Groups": true, "Bulk": true, ".search": true, "Me": true,
	"ServiceProviderConfig": true, "Schemas": true, "ResourceTypes": true}

// scimRoute turns /scim/v2/acme/Users/123 into the route "/scim/v2/{tenant}/Users/{id}",
// the tenant "acme" and the resource "Users". The SCIM door routes on its own mux, whose
// pattern the outer middleware cannot see, so the shape is rebuilt from the path.
func scimRoute(path string) (route, tenant, resource string) {
	parts := strings.Split(strings.TrimPrefix(path, "/scim/v2/"), "/")
	tenant = parts[0]
	resource = "other"
	if len(parts) > 1 && scimResources[parts[1]] {
		resource = parts[1]
	}
	route = "/scim/v2/{tenant}/" + resource
	if len(parts) > 2 && parts[2] != "" {
		if parts[2] == ".search" {
			route += "/.search"
		} else {
			route += "/{id}"
		}
	}
	return route, tenant, resource
}
