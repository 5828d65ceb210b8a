// Package storetest is the store conformance suite and the database fixtures every
// integration test uses: EachDB runs a test on a fresh SQLite file and, when
// SEATBRIDGE_TEST_POSTGRES holds a DSN, on a fresh PostgreSQL schema. With
// SEATBRIDGE_REQUIRE_POSTGRES=1 (set by .ci/run) a missing PostgreSQL fails the test
// instead of skipping it, so CI can never pass on SQLite alone.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver for schema set-up.

	"github.com/seatbridge/seatbridge/store"
)

// EnvPostgres names the variable holding a PostgreSQL DSN for tests.
const EnvPostgres = "SEATBRIDGE_TEST_POSTGRES"

// EnvRequirePostgres makes a missing PostgreSQL a failure.
const EnvRequirePostgres = "SEATBRIDGE_REQUIRE_POSTGRES"

// EachDB runs fn as a sub-test named "sqlite" and, when configured, "postgres", each on a
// freshly migrated empty database.
func EachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// OpenSQLite returns a migrated database in a new file under t.TempDir().
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "seatbridge.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// PostgresDSN returns the configured DSN, skipping (or failing, when required) without one.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s is empty: the PostgreSQL suite must run", EnvRequirePostgres, EnvPostgres)
		}
		t.Skipf("PostgreSQL tests skipped: set %s to a DSN", EnvPostgres)
	}
	return dsn
}

// OpenPostgres returns a migrated database in a new schema that is dropped afterwards.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	db, _ := openPostgres(t)
	return db
}

// openPostgres is OpenPostgres that also returns the database's URL.
func openPostgres(t testing.TB) (*store.DB, *url.URL) {
	t.Helper()
	dsn := PostgresDSN(t)
	ctx := context.Background()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	admin, err := sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	schema := "sbtest_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := sqlx.Open("postgres", u.String())
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db, u
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
