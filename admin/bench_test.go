package admin_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

var surnames = []string{"Smith", "Jansen", "Kowalski", "Müller", "Rossi", "Garcia", "Dubois", "Novak", "Silva", "Nielsen"}

// seedUsers inserts n users into the tenant with multi-row INSERTs in one transaction:
// a fifth seated, one in fifty deactivated.
func seedUsers(tb testing.TB, db *store.DB, tenantID string, n int) {
	tb.Helper()
	const cols = 13
	const chunk = 1000
	tx, err := db.SQL().Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UnixMicro()
	seated := 0
	for start := 0; start < n; start += chunk {
		var sb strings.Builder
		args := make([]any, 0, chunk*cols)
		for i := start; i < min(start+chunk, n); i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")")
			given, family := fmt.Sprintf("Given%06d", i), surnames[i%len(surnames)]
			email := fmt.Sprintf("user%06d@corp.example", i)
			status := "active"
			if i%50 == 49 {
				status = "deactivated"
			}
			seat := i%5 == 0 && status == "active"
			if seat {
				seated++
			}
			args = append(args, fmt.Sprintf("00000000-0000-7000-8000-%012d", i), tenantID, email, email, email,
				given, family, given+" "+family, status, "scim", seat, now+int64(i), now+int64(i))
		}
		q := `INSERT INTO users (id, tenant_id, user_name, user_name_key, email_key, given_name, family_name, display_name,
			status, source, seat, created_at, updated_at) VALUES ` + sb.String()
		if _, err := tx.Exec(tx.Rebind(q), args...); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tx.Exec(tx.Rebind(`UPDATE tenants SET seat_limit = ?, seats_used = ? WHERE id = ?`), n, seated, tenantID); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if db.Dialect() == store.Postgres {
		if _, err := db.SQL().Exec(`VACUUM ANALYZE users`); err != nil {
			tb.Fatal(err)
		}
	} else if _, err := db.SQL().Exec(`ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkUsers100k lists and searches a 100,000-user tenant through the HTTP API and
// reports the p50 and p99 latency of each query. A second tenant of the same size shares
// the tables, as in production.
func BenchmarkUsers100k(b *testing.B) {
	dbs := []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			if d.name == "postgres" && os.Getenv(storetest.EnvPostgres) == "" {
				b.Skip("set " + storetest.EnvPostgres)
			}
			db := d.open(b)
			e := newEnv(b, db, "big", 0)
			other := newTenant(b, db, e.eng, e.srv, "other", 0)
			start := time.Now()
			seedUsers(b, db, e.tenant.ID, 100_000)
			seedUsersOffset(b, db, other.tenant.ID, 100_000)
			if db.Dialect() == store.Postgres {
				// Autovacuum keeps the visibility map current in steady state; index-only
				// counts depend on it.
				if _, err := db.SQL().Exec(`VACUUM ANALYZE users`); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("seeded 200,000 users in %v", time.Since(start).Round(time.Millisecond))
			for _, q := range []struct{ name, query string }{
				{"list-first-page", "limit=50"},
				{"list-sorted-by-name", "sort=displayName&limit=50"},
				{"list-deep-offset", "offset=50000&limit=50"},
				{"without-seat", "seat=false&status=active&limit=50"},
				{"search-surname", "q=kowalski&limit=50"},
				{"search-one-email", "q=user042424%40corp&limit=50"},
				{"search-no-match", "q=nobody-here&limit=50"},
				{"search-and-filter", "q=given0123&seat=false&limit=50"},
			} {
				b.Run(q.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					for b.Loop() {
						t0 := time.Now()
						r := e.do(e.as(), "GET", "/users?"+q.query, nil)
						lat = append(lat, time.Since(t0))
						if r.status != 200 {
							b.Fatalf("%s: %d %s", q.query, r.status, r.raw)
						}
					}
					slices.Sort(lat)
					pct := func(p float64) float64 {
						return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
					}
					b.ReportMetric(pct(0.50), "p50-ms")
					b.ReportMetric(pct(0.99), "p99-ms")
				})
			}
		})
	}
}

// seedUsersOffset seeds another tenant with ids that do not collide.
func seedUsersOffset(b testing.TB, db *store.DB, tenantID string, n int) {
	b.Helper()
	tx, err := db.SQL().Beginx()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMicro()
	for start := 0; start < n; start += 1000 {
		var sb strings.Builder
		var args []any
		for i := start; i < min(start+1000, n); i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			email := fmt.Sprintf("other%06d@corp.example", i)
			args = append(args, fmt.Sprintf("00000000-0000-7000-9000-%012d", i), tenantID, email, email, email,
				"Kowalski", "active", "scim", now, now)
		}
		if _, err := tx.Exec(tx.Rebind(`INSERT INTO users (id, tenant_id, user_name, user_name_key, email_key, family_name,
			status, source, created_at, updated_at) VALUES `+sb.String()), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
