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

// observe wraps the whole server: httpx.AccessLog, the one access log of every door (it
// fixes the request ID, and never logs headers or query strings: they can carry tokens and
// personal data), feeds the metrics. The route label is the pattern that served the request,
// never the raw path, so ids do not explode the label set.
func observe(next http.Handler, m *metrics, log *slog.Logger, trustForwarded bool) http.Handler {
	logged := httpx.AccessLog(next, httpx.AccessLogOptions{Logger: log, TrustForwardedFor: trustForwarded, Observe: m.observe})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		logged.ServeHTTP(w, r)
	})
}

// observe counts one served request.
func (m *metrics) observe(r *http.Request, a *httpx.Access) {
	code := strconv.Itoa(a.Status)
	if rest, ok := strings.CutPrefix(a.Route, "/scim/v2/{tenant}"); ok {
		resource := "other"
		if name, _, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/"); scimResources[name] {
			resource = name
		}
		// Only requests the token was good for name their tenant: otherwise anyone could
		// mint label values by guessing slugs.
		tenant := "-"
		if a.Tenant != "" && a.Status != http.StatusForbidden && a.Status != http.StatusNotFound {
			tenant, _, _ = strings.Cut(strings.TrimPrefix(a.Path, "/scim/v2/"), "/")
		}
		m.scimOps.WithLabelValues(tenant, resource, a.Method, code).Inc()
	}
	m.requests.WithLabelValues(a.Route, a.Method, code).Inc()
	m.latency.WithLabelValues(a.Route, a.Method).Observe(a.Duration.Seconds())
}

// scimResources are the SCIM endpoints that get their own resource label.
var scimResources = map[string]bool{"Users": true, "Groups": true, "Bulk": true, ".search": true, "Me": true,
	"ServiceProviderConfig": true, "Schemas": true, "ResourceTypes": true}
