package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

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
	var adminEmail, adminName string
	fs.StringVar(&adminEmail, "admin-email", "", "also create the tenant's first Admin, a password account with a temporary password printed once")
	fs.StringVar(&adminName, "admin-name", "", "display name of that Admin (default: the part of the address before @)")
	b.str(&cfg.BaseURL, "base-url", "", "public URL of the server (to print the console's address; default http://127.0.0.1:8080)")
	pos, a, err := openCommandArgs(ctx, env, fs, b, &cfg, args, func(pos []string) error {
		if len(pos) != 1 {
			return usagef("want exactly one SLUG, e.g. 'tenant create acme --name \"Acme Inc\" --seats 25'")
		}
		// Checked before the tenant exists, so a mistyped address leaves nothing behind.
		if adminEmail != "" {
			if _, err := provisioning.NormalizeEmail("admin-email", adminEmail); err != nil {
				return usagef("--admin-email %q is not an e-mail address", adminEmail)
			}
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
	var first *firstAdmin
	if adminEmail != "" {
		if first, err = createFirstAdmin(ctx, a, t, adminEmail, adminName); err != nil {
			return fmt.Errorf("tenant %s was created, but not its first Admin: %w", t.Slug, err)
		}
	}
	if cfg.JSON {
		if first == nil {
			return printJSON(env.stdout, t)
		}
		return printJSON(env.stdout, struct {
			*provisioning.Tenant
			Admin *firstAdmin `json:"admin"`
		}{t, first})
	}
	fmt.Fprintf(env.stdout, "created tenant %s (%s) with %d seats, id %s\n", t.Slug, t.Name, t.SeatLimit, t.ID)
	if first != nil {
		fmt.Fprintf(env.stdout, "first Admin %s, temporary password (shown once, changed at first sign-in): %s\n", first.Email, first.TemporaryPassword)
		fmt.Fprintf(env.stdout, "admin console: %s\n", first.ConsoleURL)
	}
	fmt.Fprintf(env.stdout, "next: seatbridge token create --tenant %s --kind scim\n", t.Slug)
	return nil
}

// firstAdmin is the account 'tenant create --admin-email' makes, so that a new tenant can
// be run from the console without a single API call.
type firstAdmin struct {
	ID                string `json:"id"`
	Email             string `json:"email"`
	TemporaryPassword string `json:"temporaryPassword"`
	ConsoleURL        string `json:"consoleUrl"`
}

func createFirstAdmin(ctx context.Context, a *app, t *provisioning.Tenant, email, name string) (*firstAdmin, error) {
	acc, err := a.accounts()
	if err != nil {
		return nil, err
	}
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	u, temp, err := acc.CreateLocalUser(ctx, cliActor(), t.ID, provisioning.LocalUserRequest{
		Email: email, DisplayName: name, Roles: []string{provisioning.RoleAdmin}, Seat: true, ForceChange: true})
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(a.cfg.BaseURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	return &firstAdmin{ID: u.ID, Email: u.PrimaryEmail(), TemporaryPassword: temp, ConsoleURL: base + "/admin/" + t.Slug + "/"}, nil
}

// runTenantUpdate changes only the settings whose flags are given, through the same
// engine call as PATCH /api/v1/policy.
func runTenantUpdate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("tenant update", env, &cfg)
	name := fs.String("name", "", "display name of the tenant")
	seats := fs.Int("seats", 0, "number of seats (licences); not below the seats in use")
	allowPw := fs.Bool("allow-password-login", false, "let users sign in with a local password although the tenant has SSO (a tenant without an enabled SSO connection always does)")
	ttl := fs.String("invitation-ttl", "", "how long invitation links stay valid, 1h to 30d, e.g. 24h or 7d")
	defRole := fs.String("default-role", "", "role given to seated users without another role; \"\" for none (new users get no access)")
	allowed := fs.String("allowed-domains", "", "comma-separated e-mail domains users must have (\"\" for any)")
	blocked := fs.String("blocked-domains", "", "comma-separated e-mail domains refused, subdomains included")
	freeMail := fs.Bool("block-free-mail", false, "refuse free-mail providers such as gmail.com")
	twoFA := fs.Bool("require-2fa", false, "password sign-in asks for a second factor (TOTP)")
	appURL := fs.String("app-url", "", "platform app URL browsers land on after sign-in (\"\" for the user's own page)")
	var in provisioning.PolicyInput
	a, t, err := openSlugCommand(ctx, env, fs, b, &cfg, args, "want exactly one SLUG, e.g. 'tenant update acme --allow-password-login=true --invitation-ttl 24h'", func() error {
		list := func(v string) *[]string {
			out := []string{}
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					out = append(out, d)
				}
			}
			return &out
		}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "name":
				in.Name = name
			case "seats":
				in.SeatLimit = seats
			case "allow-password-login":
				in.AllowPasswordLogin = allowPw
			case "invitation-ttl":
				in.InvitationTTL = ttl
			case "default-role":
				in.DefaultRole = defRole
			case "allowed-domains":
				in.AllowedDomains = list(*allowed)
			case "blocked-domains":
				in.BlockedDomains = list(*blocked)
			case "block-free-mail":
				in.BlockFreeMail = freeMail
			case "require-2fa":
				in.RequireTwoFactor = twoFA
			case "app-url":
				in.AppURL = appURL
			}
		})
		if in == (provisioning.PolicyInput{}) {
			return usagef("nothing to change: give at least one setting flag (see 'seatbridge tenant update -h')")
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if t, err = a.eng.UpdatePolicy(ctx, cliActor(), t.ID, in); err != nil {
		return err
	}
	return printTenant(ctx, env, a, &cfg, t)
}

func runTenantShow(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("tenant show", env, &cfg)
	a, t, err := openSlugCommand(ctx, env, fs, b, &cfg, args, "want exactly one SLUG", func() error { return nil })
	if err != nil {
		return err
	}
	defer a.Close()
	return printTenant(ctx, env, a, &cfg, t)
}

func printTenant(ctx context.Context, env *cliEnv, a *app, cfg *Config, t *provisioning.Tenant) error {
	conns, err := a.eng.ListConnections(ctx, t.ID)
	if err != nil {
		return err
	}
	if cfg.JSON {
		return printJSON(env.stdout, struct {
			*provisioning.Tenant
			PasswordLoginEffective bool `json:"passwordLoginEffective"`
		}{t, t.PasswordLoginAllowed(conns)})
	}
	p := t.Policy
	orNone := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant\t%s (%s)\n", t.Slug, t.Name)
	fmt.Fprintf(tw, "seats\t%d of %d used\n", t.SeatsUsed, t.SeatLimit)
	fmt.Fprintf(tw, "password sign-in\t%v (allow-password-login %v, %d SSO connections)\n", t.PasswordLoginAllowed(conns), p.AllowPasswordLogin, len(conns))
	fmt.Fprintf(tw, "require 2FA\t%v\n", p.RequireTwoFactor)
	fmt.Fprintf(tw, "invitation TTL\t%s\n", provisioning.FormatTTL(provisioning.InvitationTTLOf(t)))
	fmt.Fprintf(tw, "default role\t%s\n", orNone(p.DefaultRole))
	fmt.Fprintf(tw, "allowed domains\t%s\n", orNone(strings.Join(p.AllowedDomains, ",")))
	fmt.Fprintf(tw, "blocked domains\t%s\n", orNone(strings.Join(p.BlockedDomains, ",")))
	fmt.Fprintf(tw, "block free mail\t%v\n", p.BlockFreeMail)
	fmt.Fprintf(tw, "app URL\t%s\n", orNone(p.AppURL))
	return tw.Flush()
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
	return printList(env, &cfg, ts, "SLUG\tNAME\tSEATS USED\tSEAT LIMIT\tID", func(w io.Writer, t provisioning.Tenant) {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", t.Slug, t.Name, t.SeatsUsed, t.SeatLimit, t.ID)
	})
}

// openSlugCommand is the opening of a command on the tenant its one argument names (tenant
// update, tenant show): usage is the refusal of any other count of arguments, check refuses
// the flags before anything touches the database. The caller closes the app.
func openSlugCommand(ctx context.Context, env *cliEnv, fs *flag.FlagSet, b *flagBinder, cfg *Config, args []string,
	usage string, check func() error) (*app, *provisioning.Tenant, error) {
	_, a, t, err := openWithTenant(ctx, env, fs, b, cfg, args, func(pos []string) (string, error) {
		if len(pos) != 1 {
			return "", usagef("%s", usage)
		}
		return pos[0], check()
	})
	return a, t, err
}

// openWithTenant parses the arguments, lets check refuse them and name the tenant's slug
// before anything touches the database, then opens the app and resolves the tenant.
func openWithTenant(ctx context.Context, env *cliEnv, fs *flag.FlagSet, b *flagBinder, cfg *Config, args []string,
	check func(pos []string) (slug string, err error)) ([]string, *app, *provisioning.Tenant, error) {
	var slug string
	pos, a, err := openCommandArgs(ctx, env, fs, b, cfg, args, func(pos []string) (err error) {
		slug, err = check(pos)
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := tenantBySlug(ctx, a, slug)
	if err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	return pos, a, t, nil
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

// openTenantCommand adds --tenant to fs, parses the arguments, requires --tenant and lets
// check refuse the rest before anything touches the database, then opens the app and the
// tenant: the opening of every command that acts within one tenant. The caller closes the
// app.
func openTenantCommand(ctx context.Context, env *cliEnv, fs *flag.FlagSet, b *flagBinder, cfg *Config, args []string,
	check func(pos []string) error) ([]string, *app, *provisioning.Tenant, error) {
	slug := fs.String("tenant", "", "tenant slug")
	return openWithTenant(ctx, env, fs, b, cfg, args, func(pos []string) (string, error) {
		if *slug == "" {
			return "", usagef("--tenant SLUG is required")
		}
		return *slug, check(pos)
	})
}

func runTokenCreate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var kind, name string
	fs, b := newFlags("token create", env, &cfg)
	fs.StringVar(&kind, "kind", "scim", "token kind: scim (for Okta / Entra ID provisioning) or admin (admin API)")
	fs.StringVar(&name, "name", "", "a name to recognise the token by, e.g. okta")
	_, a, t, err := openTenantCommand(ctx, env, fs, b, &cfg, args, func(pos []string) error {
		if kind != string(provisioning.TokenSCIM) && kind != string(provisioning.TokenAdmin) {
			return usagef("--kind %q: want scim or admin", kind)
		}
		return noArgs(pos)
	})
	if err != nil {
		return err
	}
	defer a.Close()
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
	fs, b := newFlags("token list", env, &cfg)
	_, a, t, err := openTenantCommand(ctx, env, fs, b, &cfg, args, noArgs)
	if err != nil {
		return err
	}
	defer a.Close()
	toks, err := a.db.ListTokens(ctx, t.ID)
	if err != nil {
		return err
	}
	return printList(env, &cfg, toks, "ID\tKIND\tNAME\tCREATED\tLAST USED\tREVOKED", func(w io.Writer, k provisioning.APIToken) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Name, k.CreatedAt.Format(time.RFC3339), fmtTime(k.LastUsedAt), fmtTime(k.RevokedAt))
	})
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func runTokenRevoke(ctx context.Context, env *cliEnv, args []string) error {
	id, a, t, err := openTenantItem(ctx, env, "token revoke", args)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.eng.RevokeToken(ctx, cliActor(), t.ID, id); errors.Is(err, provisioning.ErrNotFound) {
		return fmt.Errorf("tenant %s has no token %q", t.Slug, id)
	} else if err != nil {
		return err
	}
	if a.cfg.JSON {
		return printJSON(env.stdout, map[string]string{"revoked": id})
	}
	fmt.Fprintf(env.stdout, "revoked token %s\n", id)
	return nil
}

// openTenantItem parses 'NAME ID --tenant SLUG' and opens the app and the tenant: the
// opening of every command that acts on one object of one tenant. The caller closes the app.
func openTenantItem(ctx context.Context, env *cliEnv, name string, args []string) (string, *app, *provisioning.Tenant, error) {
	var cfg Config
	fs, b := newFlags(name, env, &cfg)
	pos, a, t, err := openTenantCommand(ctx, env, fs, b, &cfg, args, func(pos []string) error {
		if len(pos) != 1 {
			return usagef("want '%s ID --tenant SLUG'", name)
		}
		return nil
	})
	if err != nil {
		return "", nil, nil, err
	}
	return pos[0], a, t, nil
}
