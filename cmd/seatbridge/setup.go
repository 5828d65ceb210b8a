package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// provisioningLogLoop purges provisioning log entries older than the retention every
// hour (idempotent deletes: every replica may run it) and, when the server stops, closes
// the log so that buffered entries are written.
func provisioningLogLoop(ctx context.Context, a *app) error {
	if a.provLog != nil {
		defer a.provLog.Close()
	}
	if a.cfg.ProvisioningLogDays <= 0 {
		<-ctx.Done()
		return nil
	}
	retention := time.Duration(a.cfg.ProvisioningLogDays) * 24 * time.Hour
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		if n, err := a.eng.PurgeProvisioningLog(pctx, retention); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("purge provisioning log", "err", err)
			}
		} else if n > 0 {
			a.log.Info("purged provisioning log", "entries", n)
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// parseDays reads "7d", "36h" or "90m".
func parseDays(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, usagef("--expires %q: want e.g. 7d, 36h or 90m", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, usagef("--expires %q: want e.g. 7d, 36h or 90m", v)
	}
	return dur, nil
}

func runSetupLinkCreate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var expires string
	fs, b := newFlags("setup-link create", env, &cfg)
	b.str(&cfg.BaseURL, "base-url", "", "public URL of the server (the link points there)")
	fs.StringVar(&expires, "expires", "7d", "lifetime: 7d, 36h, … (at most 30d)")
	var ttl time.Duration
	_, a, t, err := openTenantCommand(ctx, env, fs, b, &cfg, args, func([]string) error {
		var err error
		ttl, err = parseDays(expires)
		return err
	})
	if err != nil {
		return err
	}
	defer a.Close()
	token, l, err := a.eng.CreateSetupLink(ctx, cliActor(), t.ID, ttl)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	link := base + "/setup/" + token
	if cfg.JSON {
		return printJSON(env.stdout, map[string]any{"id": l.ID, "tenant": t.Slug, "url": link, "expiresAt": l.ExpiresAt})
	}
	fmt.Fprintf(env.stdout, "set-up link for %s (expires %s; shown once, only a hash is stored):\n  %s\n", t.Slug,
		l.ExpiresAt.Format(time.RFC3339), link)
	return nil
}

func runSetupLinkRevoke(ctx context.Context, env *cliEnv, args []string) error {
	id, a, t, err := openTenantItem(ctx, env, "setup-link revoke", args)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.eng.RevokeSetupLink(ctx, cliActor(), t.ID, id); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "revoked set-up link %s\n", id)
	return nil
}
