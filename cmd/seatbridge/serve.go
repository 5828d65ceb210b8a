package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// serveFlags binds the server's flags into cfg.
func serveFlags(env *cliEnv, cfg *Config) (*flagBinder, error) {
	_, b := newFlags("serve", env, cfg)
	b.str(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address")
	b.str(&cfg.BaseURL, "base-url", "", "public URL of this server, as IdPs and browsers reach it (default http://ADDR)")
	b.int64v(&cfg.SCIMMaxBody, "scim-max-body", 1<<20, "largest SCIM request body in bytes (413 above)")
	b.integer(&cfg.SCIMMaxPage, "scim-max-page", 1000, "largest SCIM page (count) served")
	b.integer(&cfg.SCIMMaxBulk, "scim-max-bulk", 1000, "most operations in one SCIM /Bulk request")
	b.float(&cfg.SCIMRatePerSec, "scim-rate", 0, "requests per second allowed per SCIM token (0: unlimited)")
	b.integer(&cfg.SCIMRateBurst, "scim-burst", 200, "burst allowed per SCIM token above the rate")
	b.float(&cfg.SCIMTenantRate, "scim-tenant-rate", 0, "requests per second allowed per tenant, all its SCIM tokens together, per replica (0: unlimited)")
	b.integer(&cfg.SCIMTenantBurst, "scim-tenant-burst", 400, "burst allowed per tenant above the tenant rate")
	b.float(&cfg.SCIMAuthFailRate, "scim-auth-fail-rate", 5, "failed SCIM authentications per second allowed per client IP before 429 (negative: unlimited)")
	b.integer(&cfg.SCIMAuthFailBurst, "scim-auth-fail-burst", 50, "burst of failed SCIM authentications allowed per client IP")
	b.integer(&cfg.SCIMMaxListBytes, "scim-max-list-bytes", 8<<20, "JSON bytes after which a SCIM list page ends early (itemsPerPage below count)")
	b.duration(&cfg.SAMLClockSkew, "saml-clock-skew", defaultSAMLClockSkew, "clock difference allowed between an IdP and Seatbridge on SAML assertion times")
	b.float(&cfg.LoginRate, "login-rate", 1, "password and invitation form posts per second per client IP, per replica (0: unlimited)")
	b.integer(&cfg.LoginBurst, "login-burst", 10, "burst of form posts per client IP above the login rate")
	b.str(&cfg.MetricsToken, "metrics-token", "", "bearer token required to read /metrics (empty: open)")
	b.boolean(&cfg.AccessLog, "access-log", true, "log one line per request")
	b.boolean(&cfg.TrustForwardedFor, "trust-forwarded-for", false, "take client IPs from X-Forwarded-For (only behind a proxy that sets it)")
	b.str(&cfg.PprofAddr, "pprof-addr", "", "serve net/http/pprof on this separate address, e.g. 127.0.0.1:6060 (empty: off)")
	b.duration(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long shutdown waits for requests in flight")
	b.integer(&cfg.ProvisioningLogDays, "provisioning-log-days", 14, "days each SCIM request stays in the tenant's provisioning log (0: no log)")
	bindMailFlags(b, &cfg.Mail)
	bindEventFlags(b, &cfg.Events)
	return b, nil
}

func runServe(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	b, _ := serveFlags(env, &cfg)
	if _, err := parseFlags(b.fs, args); err != nil {
		return err
	}
	if err := b.err(); err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, env)
	if err != nil {
		return err
	}
	defer a.Close()
	tuneGC()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if a.cfg.BaseURL == "" {
		a.cfg.BaseURL = "http://" + ln.Addr().String()
	}
	a.cfg.BaseURL = strings.TrimSuffix(a.cfg.BaseURL, "/")
	handler, err := routes(a)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	a.log.Info("seatbridge listening", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL, "db", string(a.db.Dialect()))
	printQuickStart(env, a)

	if cfg.PprofAddr != "" {
		startPprof(ctx, a, cfg.PprofAddr)
	}
	stopWorkers := startWorkers(ctx, a)
	defer stopWorkers()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// The grace period is over: cut the remaining requests and still exit 0. The stop
		// was asked for and happened; a non-zero status would make an orchestrator report
		// a crash. Nothing is lost: each cut request's change is one transaction, rolled
		// back unless it committed, and its client sees a broken connection and retries.
		a.log.Warn("shutdown timeout expired: closing the remaining connections", "timeout", cfg.ShutdownTimeout.String(), "err", err)
		_ = srv.Close()
	}
	return nil
}

func printQuickStart(env *cliEnv, a *app) {
	if a.cfg.JSON {
		return
	}
	db := ""
	if a.cfg.DB != DefaultDB {
		db = " --db '" + a.cfg.DB + "'"
	}
	fmt.Fprintf(env.stdout, `Seatbridge is listening on %s (database: %s)

First tenant, its Admin and a SCIM token, in another terminal:
  go run ./cmd/seatbridge tenant create acme --name "Acme Inc" --seats 25 --admin-email you@example.com%s
  go run ./cmd/seatbridge token create --tenant acme --kind scim --name okta%s
Sign in to the admin console at %s/admin/acme/ with the temporary password printed.
Point Okta or Entra ID at %s/scim/v2/acme with that token.
Health: %s/healthz   Readiness: %s/readyz
`, a.cfg.BaseURL, a.db.Dialect(), db, db, a.cfg.BaseURL, a.cfg.BaseURL, a.cfg.BaseURL, a.cfg.BaseURL)
}

// routes builds the server's handler: one mux for every door.
func routes(a *app) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := a.db.Ping(ctx); err != nil {
			a.log.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"database unavailable"}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
	for _, m := range mounts() {
		if err := m(mux, a); err != nil {
			return nil, err
		}
	}
	met := newMetrics(a)
	mux.Handle("GET /metrics", met.handler(a.cfg.MetricsToken))
	log := a.log.With("component", "http")
	if !a.cfg.AccessLog {
		log = slog.New(slog.DiscardHandler)
	}
	return observe(mux, met, log, a.cfg.TrustForwardedFor), nil
}

// startWorkers starts every worker and returns a function that stops them and waits.
func startWorkers(ctx context.Context, a *app) (stop func()) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w(wctx, a); err != nil {
				a.log.Error("background worker stopped", "err", err)
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}
