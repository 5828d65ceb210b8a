package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

const benchSeedUsers = 100_000

// BenchmarkSCIM measures the SCIM door end to end (HTTP, JSON, engine, SQL) on each
// database on a tenant seeded with 100,000 users: Create creates b.N users over HTTP (4
// concurrent clients, like a directory's initial push), UserNameEq then looks users up by
// `userName eq` one request at a time. Both report ops/s and p99 latency. With
// -benchtime 10000x that is 10,000 creates and 10,000 lookups on a 110,000-user tenant:
//
//	go test -run '^$' -bench BenchmarkSCIM -benchtime 10000x -timeout 30m ./scim
//	SEATBRIDGE_TEST_POSTGRES='postgres://…' go test -run '^$' -bench BenchmarkSCIM -benchtime 10000x -timeout 30m ./scim
func BenchmarkSCIM(b *testing.B) {
	dbs := []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}}
	if os.Getenv(storetest.EnvPostgres) != "" {
		dbs = append(dbs, struct {
			name string
			open func(testing.TB) *store.DB
		}{"postgres", storetest.OpenPostgres})
	}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			db := d.open(b)
			eng := provisioning.NewEngine(db, slog.New(slog.DiscardHandler))
			ctx := context.Background()
			tn, err := eng.CreateTenant(ctx, testActor, "bench", "Bench", 1_000_000)
			if err != nil {
				b.Fatal(err)
			}
			secret, _, err := eng.CreateToken(ctx, testActor, tn.ID, provisioning.TokenSCIM, "bench")
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			seed := benchSeedUsers
			// A smaller seed for counting runs (strace, callgrind), where seeding 100,000
			// users would take most of the time.
			if n, err := strconv.Atoi(os.Getenv("SEATBRIDGE_BENCH_SEED")); err == nil && n > 0 {
				seed = n
			}
			if err := db.SeedUsers(ctx, tn.ID, "seed", seed); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: seeded %d users in %v", d.name, seed, time.Since(start).Round(time.Millisecond))
			srv := httptest.NewServer(NewHandler(eng, Options{Logger: slog.New(slog.DiscardHandler)}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			base := srv.URL + "/scim/v2/bench"
			do := func(method, path string, body []byte) (int, []byte, time.Duration) {
				req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				req.Header.Set("Content-Type", contentTypeSCIM)
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				return res.StatusCode, out, time.Since(t0)
			}

			round := 0
			b.Run("Create", func(b *testing.B) {
				round++
				const workers = 4
				lat := make([]time.Duration, b.N)
				var wg sync.WaitGroup
				b.ResetTimer()
				t0 := time.Now()
				for w := range workers {
					wg.Go(func() {
						for i := w; i < b.N; i += workers {
							un := fmt.Sprintf("new%d-%06d@bench.example", round, i)
							body, _ := json.Marshal(map[string]any{"schemas": []string{URNUser}, "userName": un, "active": true,
								"name": map[string]any{"givenName": "New", "familyName": fmt.Sprint(i)}, "externalId": un,
								"emails": []any{map[string]any{"value": un, "type": "work", "primary": true}}})
							status, out, d := do("POST", "/Users", body)
							if status != http.StatusCreated {
								b.Errorf("create: %d %s", status, out)
								return
							}
							lat[i] = d
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "creates/s")
				b.ReportMetric(p99(lat), "p99-ms")
			})

			b.Run("UserNameEq", func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				rng := rand.New(rand.NewPCG(1, 2))
				t0 := time.Now()
				for b.Loop() {
					un := fmt.Sprintf("seed-%d@example.com", 1+rng.IntN(seed))
					status, out, d := do("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+un+`"`), nil)
					if status != http.StatusOK || !bytes.Contains(out, []byte(`"totalResults":1`)) {
						b.Fatalf("lookup %s: %d %s", un, status, out)
					}
					lat = append(lat, d)
				}
				b.ReportMetric(float64(len(lat))/time.Since(t0).Seconds(), "lookups/s")
				b.ReportMetric(p99(lat), "p99-ms")
			})

			// Delete, in a tenant of benchSeedUsers users: a deprovisioning run. Each delete
			// clears manager references, so this is where a scan of the tenant shows.
			b.Run("Delete", func(b *testing.B) {
				round++
				const workers = 4
				ids := make([]string, b.N)
				for i := range b.N {
					body, _ := json.Marshal(map[string]any{"userName": fmt.Sprintf("del%d-%06d@bench.example", round, i)})
					status, out, _ := do("POST", "/Users", body)
					if status != http.StatusCreated {
						b.Fatalf("create: %d %s", status, out)
					}
					var res struct{ ID string }
					_ = json.Unmarshal(out, &res)
					ids[i] = res.ID
				}
				lat := make([]time.Duration, b.N)
				var wg sync.WaitGroup
				b.ResetTimer()
				t0 := time.Now()
				for w := range workers {
					wg.Go(func() {
						for i := w; i < b.N; i += workers {
							status, out, d := do("DELETE", "/Users/"+ids[i], nil)
							if status != http.StatusNoContent {
								b.Errorf("delete: %d %s", status, out)
								return
							}
							lat[i] = d
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "deletes/s")
				b.ReportMetric(p99(lat), "p99-ms")
			})
		})
	}
}

func p99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*99/100)]) / float64(time.Millisecond)
}
