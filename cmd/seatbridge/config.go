package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
)

// Config is everything the server and the CLI are configured with. It is built once from
// flags and SEATBRIDGE_* variables and passed down; nothing reads the environment later.
type Config struct {
	DB        string
	Addr      string
	BaseURL   string
	SecretKey string
	LogLevel  string
	LogFormat string
	JSON      bool

	// SCIM limits.
	SCIMMaxBody     int64
	SCIMMaxPage     int
	SCIMMaxBulk     int
	SCIMRatePerSec  float64
	SCIMRateBurst   int
	SCIMTenantRate  float64
	SCIMTenantBurst int
	// SCIMAuthFailRate and SCIMAuthFailBurst throttle failed SCIM authentications per
	// client IP; SCIMMaxListBytes bounds a list page by its JSON size.
	SCIMAuthFailRate  float64
	SCIMAuthFailBurst int
	SCIMMaxListBytes  int
	ShutdownTimeout   time.Duration

	MetricsToken  string
	PprofAddr     string
	SAMLClockSkew time.Duration
	LoginRate     float64
	LoginBurst    int

	// ProvisioningLogDays keeps each SCIM request in the tenant's provisioning log this
	// many days (0: no provisioning log).
	ProvisioningLogDays int

	Mail              MailConfig
	Events            EventsConfig
	AccessLog         bool
	TrustForwardedFor bool
}

// envName maps a flag name to its variable: "base-url" → SEATBRIDGE_BASE_URL.
func envName(flagName string) string {
	return "SEATBRIDGE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagBinder registers flags whose defaults come from the environment.
type flagBinder struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

func (b *flagBinder) str(p *string, name, def, usage string) {
	b.fs.StringVar(p, name, envDefault(b, name, def, func(v string) (string, error) { return v, nil }, "text"), envUsage(name, usage))
}

func (b *flagBinder) boolean(p *bool, name string, def bool, usage string) {
	b.fs.BoolVar(p, name, envDefault(b, name, def, strconv.ParseBool, "a boolean"), envUsage(name, usage))
}

func (b *flagBinder) integer(p *int, name string, def int, usage string) {
	b.fs.IntVar(p, name, envDefault(b, name, def, strconv.Atoi, "a whole number"), envUsage(name, usage))
}

func (b *flagBinder) int64v(p *int64, name string, def int64, usage string) {
	parse := func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }
	b.fs.Int64Var(p, name, envDefault(b, name, def, parse, "a whole number"), envUsage(name, usage))
}

func (b *flagBinder) float(p *float64, name string, def float64, usage string) {
	parse := func(v string) (float64, error) { return strconv.ParseFloat(v, 64) }
	b.fs.Float64Var(p, name, envDefault(b, name, def, parse, "a number"), envUsage(name, usage))
}

func (b *flagBinder) duration(p *time.Duration, name string, def time.Duration, usage string) {
	b.fs.DurationVar(p, name, envDefault(b, name, def, time.ParseDuration, "a duration"), envUsage(name, usage))
}

// envDefault is a flag's default: its environment variable, parsed, when set (one that
// does not parse is an error of the command), else def.
func envDefault[T any](b *flagBinder, name string, def T, parse func(string) (T, error), what string) T {
	v := b.getenv(envName(name))
	if v == "" {
		return def
	}
	parsed, err := parse(v)
	if err != nil {
		b.errs = append(b.errs, fmt.Errorf("%s: %q is not %s", envName(name), v, what))
	}
	return parsed
}

// envUsage names a flag's environment variable in its help.
func envUsage(name, usage string) string { return usage + " (env " + envName(name) + ")" }

func (b *flagBinder) err() error { return errors.Join(b.errs...) }

// DefaultDB is the embedded default database.
const DefaultDB = "sqlite:./seatbridge.db"

// newFlags returns a flag set with the flags every command shares (database, output) bound
// into cfg.
func newFlags(name string, env *cliEnv, cfg *Config) (*flag.FlagSet, *flagBinder) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	b := &flagBinder{fs: fs, getenv: env.getenv}
	b.str(&cfg.DB, "db", DefaultDB, "database URL: sqlite:PATH or postgres://user@host/db")
	b.str(&cfg.SecretKey, "secret-key", "", "32-byte key (hex or base64) sealing secrets at rest; default: a key file beside a SQLite database")
	b.boolean(&cfg.JSON, "json", false, "print machine-readable JSON")
	b.str(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	b.str(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	return fs, b
}

// app is an opened configuration: database, engine, logger.
type app struct {
	cfg Config
	db  *store.DB
	eng *provisioning.Engine
	log *slog.Logger
	box *secretbox.Box
	// provLog buffers the provisioning log of the SCIM door; the purge worker closes it
	// (flushing what is left) when the server stops.
	provLog *provisioning.ProvisioningLog
}

func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", cfg.LogFormat)
}

// openApp opens and migrates the database. Migration is idempotent and locked on
// PostgreSQL, so every command and every replica may call it.
func openApp(ctx context.Context, cfg Config, env *cliEnv) (*app, error) {
	log, err := newLogger(cfg, env.stderr)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a := &app{cfg: cfg, db: db, eng: provisioning.NewEngine(db, log), log: log}
	return a, nil
}

func (a *app) Close() { a.db.Close() }

// secretBox returns the box sealing secrets at rest. The key comes from --secret-key; for
// a SQLite database without one, a key file beside the database is created on first use
// (0600), so the two-command quick start needs no set-up. PostgreSQL deployments run
// several replicas, which must share one key: there it is required.
func (a *app) secretBox() (*secretbox.Box, error) {
	if a.box != nil {
		return a.box, nil
	}
	var key []byte
	var err error
	switch {
	case a.cfg.SecretKey != "":
		key, err = secretbox.ParseKey(a.cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("--secret-key: %w", err)
		}
	case a.db.Dialect() == store.SQLite:
		key, err = keyFile(sqlitePath(a.cfg.DB) + ".key")
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("set --secret-key (SEATBRIDGE_SECRET_KEY) to 32 random bytes (openssl rand -hex 32), the same on every replica")
	}
	a.box, err = secretbox.New(key)
	return a.box, err
}

func sqlitePath(dbURL string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "file:"), "//")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

func keyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return secretbox.ParseKey(string(b))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return keyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return key, nil
}

// cliActor is the audit actor of CLI commands.
func cliActor() provisioning.Actor {
	name := os.Getenv("USER")
	if name == "" {
		name = "cli"
	}
	return provisioning.Actor{Kind: provisioning.ActorCLI, ID: "cli", Name: name}
}
