package console_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// seed inserts n SCIM users into the tenant in one transaction: every fourth seated, one
// in forty deactivated, one in three signed in at some point.
func seed(tb testing.TB, db *store.DB, tenantID string, n int) {
	tb.Helper()
	const cols = 14
	tx, err := db.SQL().Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UnixMicro()
	seats := 0
	names := []string{"Okafor", "Lindqvist", "Moreau", "Tanaka", "Schmidt", "Costa", "Horvat", "Byrne"}
	for start := 0; start < n; start += 1000 {
		var sb strings.Builder
		args := make([]any, 0, 1000*cols)
		for i := start; i < min(start+1000, n); i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")")
			email := fmt.Sprintf("person%06d@bench.example", i)
			given, family := fmt.Sprintf("Person%06d", i), names[i%len(names)]
			status := "active"
			if i%40 == 39 {
				status = "deactivated"
			}
			seat := i%4 == 0 && status == "active"
			if seat {
				seats++
			}
			var last any
			if i%3 == 0 {
				last = now - int64(i)*1_000_000
			}
			args = append(args, fmt.Sprintf("00000000-0000-7000-a000-%012d", i), tenantID, email, email, email,
				given, family, given+" "+family, status, "scim", seat, now+int64(i), now+int64(i), last)
		}
		if _, err := tx.Exec(tx.Rebind(`INSERT INTO users (id, tenant_id, user_name, user_name_key, email_key, given_name,
			family_name, display_name, status, source, seat, created_at, updated_at, last_login_at) VALUES `+sb.String()), args...); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := tx.Exec(tx.Rebind(`UPDATE tenants SET seat_limit = ?, seats_used = seats_used + ? WHERE id = ?`), n+10, seats, tenantID); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.SQL().Exec(`VACUUM ANALYZE users`); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkUsersPage100k renders the console's users list of a 100,000-user tenant on
// PostgreSQL, server side (query, count, roles and teams of the page, template), through
// the real handler with a real session, and reports p50 and p99 per query.
func BenchmarkUsersPage100k(b *testing.B) {
	db := storetest.OpenPostgres(b)
	e := newEnv(b, db)
	start := time.Now()
	seed(b, db, e.tenant.ID, 100_000)
	b.Logf("seeded 100,000 users in %v", time.Since(start).Round(time.Millisecond))
	c := e.session("ada@acme.test", adminPassword)
	for _, q := range []struct{ name, query string }{
		{"first-page", ""},
		{"sort-name", "sort=name"},
		{"sort-last-sign-in", "sort=-lastLogin"},
		{"page-2000", "page=2000"},
		{"without-seat", "seat=no&status=active"},
		{"role-agent", "role=Agent"},
		{"search-surname", "q=" + url.QueryEscape("tanaka")},
		{"search-one-email", "q=" + url.QueryEscape("person042424@bench")},
		{"search-and-filters", "q=person01&seat=no&source=scim&sort=-lastLogin"},
	} {
		b.Run(q.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				r := c.get("/admin/acme/users?" + q.query)
				lat = append(lat, time.Since(t0))
				if r.status != 200 {
					b.Fatalf("%s: %d", q.query, r.status)
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
}
