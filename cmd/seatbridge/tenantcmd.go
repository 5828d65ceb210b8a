package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

func init() {
	register(&command{name: "migrate", summary: "create or update the database schema", run: runMigrate})
	register(&command{name: "tenant create", summary: "create a tenant: tenant create SLUG --name NAME --seats N", run: runTenantCreate})
	register(&command{name: "tenant list", summary: "list tenants", run: runTenantList})
	register(&command{name: "token create", summary: "issue an API token: token create --tenant SLUG --kind scim|admin [--name NAME]", run: runTokenCreate})
	register(&command{name: "token list", summary: "list a tenant's tokens: token list --tenant SLUG", run: runTokenList})
	register(&command{name: "token revoke", summary: "revoke a token: token revoke ID --tenant SLUG", run: runTokenRevoke})
}

func runMigrate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("migrate", env, &cfg)
	a, err := openCommand(ctx, env, fs, b, &cfg, args)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.JSON {
		return printJSON(env.stdout, map[string]string{"status": "migrated"})
	}
	fmt.Fprintln(env.stdout, "database schema is up to date")
	return nil
}

func runTenantCreate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var name string
	var seats int
	fs, b := newFlags("tenant create", env, &cfg)
	fs.StringVar(&name, "name", "", "display name of the tenant")
	fs.IntVar(&seats, "seats", 10, "number of seats (licences)")
	pos, a, err := openCommandArgs(ctx, env, fs, b, &cfg, args, func(pos []string) error {
		if len(pos) != 1 {
			return usagef("want exactly one SLUG, e.g. 'tenant create acme --name \"Acme Inc\" --seats 25'")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := a.eng.CreateTenant(ctx, cliActor(), pos[0], name, seats)
	var ce *provisioning.ConflictError
	if errors.As(err, &ce) {
		return fmt.Errorf("a tenant with slug %q already exists", pos[0])
	}
	if err != nil {
		return err
	}
	if cfg.JSON {
		return printJSON(env.stdout, t)
	}
	fmt.Fprintf(env.stdout, "created tenant %s (%s) with %d seats, id %s\n", t.Slug, t.Name, t.SeatLimit, t.ID)
	fmt.Fprintf(env.stdout, "next: seatbridge token create --tenant %s --kind scim\n", t.Slug)
	return nil
}

func runTenantList(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("tenant list", env, &cfg)
	a, err := openCommand(ctx, env, fs, b, &cfg, args)
	if err != nil {
		return err
	}
	defer a.Close()
	ts, err := a.db.ListTenants(ctx)
	if err != nil {
		return err
	}
	if cfg.JSON {
		if ts == nil {
			ts = []provisioning.Tenant{}
		}
		return printJSON(env.stdout, ts)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tSEATS USED\tSEAT LIMIT\tID")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", t.Slug, t.Name, t.SeatsUsed, t.SeatLimit, t.ID)
	}
	return tw.Flush()
}

// tenantBySlug resolves --tenant with a clear message for an unknown slug.
func tenantBySlug(ctx context.Context, a *app, slug string) (*provisioning.Tenant, error) {
	if slug == "" {
		return nil, usagef("--tenant SLUG is required")
	}
	t, err := a.db.GetTenantBySlug(ctx, slug)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, fmt.Errorf("no tenant with slug %q (see 'seatbridge tenant list')", slug)
	}
	return t, err
}

func runTokenCreate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var tenant, kind, name string
	fs, b := newFlags("token create", env, &cfg)
	fs.StringVar(&tenant, "tenant", "", "tenant slug")
	fs.StringVar(&kind, "kind", "scim", "token kind: scim (for Okta / Entra ID provisioning) or admin (admin API)")
	fs.StringVar(&name, "name", "", "a name to recognise the token by, e.g. okta")
	_, a, err := openCommandArgs(ctx, env, fs, b, &cfg, args, func(pos []string) error {
		if len(pos) > 0 {
			return usagef("unexpected argument %q", pos[0])
		}
		if kind != string(provisioning.TokenSCIM) && kind != string(provisioning.TokenAdmin) {
			return usagef("--kind %q: want scim or admin", kind)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := tenantBySlug(ctx, a, tenant)
	if err != nil {
		return err
	}
	secret, tok, err := a.eng.CreateToken(ctx, cliActor(), t.ID, provisioning.TokenKind(kind), name)
	if err != nil {
		return err
	}
	if cfg.JSON {
		return printJSON(env.stdout, struct {
			*provisioning.APIToken
			Token string `json:"token"`
		}{tok, secret})
	}
	fmt.Fprintf(env.stdout, "%s token %q for tenant %s (id %s). It is shown once; store it now:\n\n  %s\n\n", kind, tok.Name, t.Slug, tok.ID, secret)
	if kind == string(provisioning.TokenSCIM) {
		fmt.Fprintf(env.stdout, "SCIM base URL: <base-url>/scim/v2/%s   (header: Authorization: Bearer <token>)\n", t.Slug)
	}
	return nil
}

func runTokenList(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var tenant string
	fs, b := newFlags("token list", env, &cfg)
	fs.StringVar(&tenant, "tenant", "", "tenant slug")
	a, err := openCommand(ctx, env, fs, b, &cfg, args)
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := tenantBySlug(ctx, a, tenant)
	if err != nil {
		return err
	}
	toks, err := a.db.ListTokens(ctx, t.ID)
	if err != nil {
		return err
	}
	if cfg.JSON {
		if toks == nil {
			toks = []provisioning.APIToken{}
		}
		return printJSON(env.stdout, toks)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tCREATED\tLAST USED\tREVOKED")
	for _, k := range toks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Name, k.CreatedAt.Format(time.RFC3339), fmtTime(k.LastUsedAt), fmtTime(k.RevokedAt))
	}
	return tw.Flush()
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func runTokenRevoke(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var tenant string
	fs, b := newFlags("token revoke", env, &cfg)
	fs.StringVar(&tenant, "tenant", "", "tenant slug")
	pos, a, err := openCommandArgs(ctx, env, fs, b, &cfg, args, func(pos []string) error {
		if len(pos) != 1 {
			return usagef("want exactly one token ID")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := tenantBySlug(ctx, a, tenant)
	if err != nil {
		return err
	}
	if err := a.eng.RevokeToken(ctx, cliActor(), t.ID, pos[0]); errors.Is(err, provisioning.ErrNotFound) {
		return fmt.Errorf("tenant %s has no token %q", t.Slug, pos[0])
	} else if err != nil {
		return err
	}
	if cfg.JSON {
		return printJSON(env.stdout, map[string]string{"revoked": pos[0]})
	}
	fmt.Fprintf(env.stdout, "revoked token %s\n", pos[0])
	return nil
}
