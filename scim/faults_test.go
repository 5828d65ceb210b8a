package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// A PostgreSQL outage (every connection dropped, new ones refused, as during a restart)
// answers 503 with Retry-After, never 500; once the database is back, requests succeed.
func TestDatabaseOutageAnswers503(t *testing.T) {
	db, proxy := storetest.OpenPostgresProxied(t, url.Values{"connect_timeout": {"2"}})
	e := newEnv(t, db, Options{}, "acme")
	e.createUser("before@acme.test", nil)

	proxy.Drop()
	for _, req := range []struct{ method, path string }{
		{"POST", "/Users"}, {"GET", "/Users?filter=" + url.QueryEscape(`userName eq "before@acme.test"`)}, {"GET", "/Groups"},
	} {
		var body any
		if req.method == "POST" {
			body = map[string]any{"schemas": []string{URNUser}, "userName": "during@acme.test"}
		}
		r := e.do(req.method, req.path, body)
		wantError(t, r, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s %s: 503 without Retry-After", req.method, req.path)
		}
	}

	proxy.Heal()
	// Pooled connections died with the outage; database/sql replaces them.
	var r resp
	for range 5 {
		if r = e.do("POST", "/Users", map[string]any{"schemas": []string{URNUser}, "userName": "after@acme.test"}); r.status != http.StatusServiceUnavailable {
			break
		}
	}
	if r.status != http.StatusCreated {
		t.Fatalf("after the outage: %d %s", r.status, r.raw)
	}
}

// A database that stops answering (connections open, nothing forwarded) gives a bounded
// 503 instead of hanging the request.
func TestFrozenDatabaseAnswersInBoundedTime(t *testing.T) {
	db, proxy := storetest.OpenPostgresProxied(t, url.Values{"connect_timeout": {"1"}, "statement_timeout": {"1000"}})
	e := newEnv(t, db, Options{}, "acme")
	e.createUser("before@acme.test", nil)

	proxy.Freeze()
	defer proxy.Heal()
	start := time.Now()
	r := e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "before@acme.test"`), nil)
	took := time.Since(start)
	wantError(t, r, http.StatusServiceUnavailable, "")
	// statement_timeout 1 s plus 2 s of socket slack; well below the 35 s seen before.
	if took > 6*time.Second {
		t.Fatalf("a frozen database held the request for %v", took)
	}

	// Ping, as /readyz uses it, answers by its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("ping of a frozen database succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("ping of a frozen database took %v", took)
	}
}

// SQLite group commit: clients that give up on their requests never make other clients'
// creates fail (a cancelled caller's context used to interrupt the shared transaction).
func TestCancelledRequestsNeverFailOthers(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), Options{}, "acme")
	if _, err := e.eng.UpdateTenant(context.Background(), testActor, e.tenant.ID, func(tn *provisioning.Tenant) error {
		tn.SeatLimit = 100000
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 8, 60
	var failed atomic.Int64
	var wg sync.WaitGroup
	var firstErr sync.Once
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				body, _ := json.Marshal(map[string]any{"schemas": []string{URNUser}, "userName": fmt.Sprintf("u%d-%d@acme.test", w, i),
					"emails": []any{map[string]any{"value": fmt.Sprintf("u%d-%d@acme.test", w, i)}}})
				ctx := context.Background()
				cancelled := w%2 == 1
				var cancel context.CancelFunc = func() {}
				if cancelled {
					// Cancelled at varying points: queued, inside the shared transaction,
					// or after.
					ctx, cancel = context.WithTimeout(ctx, time.Duration(i%7)*300*time.Microsecond)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/Users", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.token)
				req.Header.Set("Content-Type", "application/scim+json")
				res, err := e.srv.Client().Do(req)
				cancel()
				if cancelled {
					if err == nil {
						res.Body.Close()
					}
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("create by a client that did not cancel: %d", res.StatusCode) })
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d creates of clients that did not cancel failed", n)
	}
	// Every create of the patient clients is stored.
	for w := 0; w < workers; w += 2 {
		for i := range perWorker {
			r := e.do("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq "u%d-%d@acme.test"`, w, i)), nil)
			if r.status != http.StatusOK || r.body["totalResults"] != float64(1) {
				t.Fatalf("u%d-%d: %d %s", w, i, r.status, r.raw)
			}
		}
	}
}

// Oversize input gets a clear 400 on both databases, with the same limits: a user with
// many values is stored (in chunks), one over the cap is refused, and strings that would
// exceed PostgreSQL's index row limit are refused before they reach it.
func TestOversizeInputIsRefusedAlike(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		values := func(n int) []any {
			out := make([]any, n)
			for i := range out {
				out[i] = map[string]any{"value": fmt.Sprintf("+1 555 %07d", i), "type": "work"}
			}
			return out
		}
		// 1,000 phone numbers: above one INSERT's 500 rows, at the per-attribute cap.
		id := e.createUser("many@acme.test", map[string]any{"phoneNumbers": values(provisioning.MaxValuesPerAttribute)})
		r := e.do("GET", "/Users/"+id+"?attributes=phoneNumbers", nil)
		if got, _ := r.body["phoneNumbers"].([]any); len(got) != provisioning.MaxValuesPerAttribute {
			t.Fatalf("stored %d phone numbers", len(got))
		}
		r = e.do("POST", "/Users", map[string]any{"schemas": []string{URNUser}, "userName": "toomany@acme.test",
			"phoneNumbers": values(provisioning.MaxValuesPerAttribute + 1)})
		wantError(t, r, http.StatusBadRequest, scimInvalidValue)

		long := strings.Repeat("x", provisioning.MaxIndexedText+1)
		atCap := strings.Repeat("y", provisioning.MaxIndexedText)
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"externalId", map[string]any{"externalId": long}},
			{"displayName", map[string]any{"displayName": long}},
			{"e-mail", map[string]any{"emails": []any{map[string]any{"value": long + "@acme.test"}}}},
			{"phone", map[string]any{"phoneNumbers": []any{map[string]any{"value": long}}}},
			// Folding can lengthen text: 'Ⱥ' is 2 bytes, its lower case 3.
			{"folded userName", map[string]any{"userName": strings.Repeat("Ⱥ", provisioning.MaxIndexedText/2)}},
		} {
			body := map[string]any{"schemas": []string{URNUser}, "userName": "long-" + tc.name + "@acme.test"}
			for k, v := range tc.body {
				body[k] = v
			}
			wantError(t, e.do("POST", "/Users", body), http.StatusBadRequest, scimInvalidValue)
		}
		// At the cap, indexed strings are stored on both databases.
		e.createUser("cap@acme.test", map[string]any{"externalId": atCap, "displayName": atCap,
			"phoneNumbers": []any{map[string]any{"value": atCap}}})
		r = e.do("POST", "/Groups", map[string]any{"schemas": []string{URNGroup}, "displayName": long})
		wantError(t, r, http.StatusBadRequest, scimInvalidValue)
		r = e.do("POST", "/Groups", map[string]any{"schemas": []string{URNGroup}, "displayName": atCap})
		if r.status != http.StatusCreated {
			t.Fatalf("group at the cap: %d %s", r.status, r.raw)
		}
	})
}

// Tokens with NUL bytes or invalid UTF-8 are refused as invalid tokens (401) on both
// databases: they never reach PostgreSQL, which would fail on them.
func TestMalformedTokensAre401(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		for _, tok := range []string{provisioning.TokenPrefix + "ab\x00cd_secret", provisioning.TokenPrefix + "ab\xffcd_secret"} {
			// Go's client refuses to send a NUL in a header; a raw client can.
			req := httptest.NewRequest("GET", e.base+"/Users", nil)
			req.Header["Authorization"] = []string{"Bearer " + tok}
			rec := httptest.NewRecorder()
			e.srv.Config.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("token %q: %d %s", tok, rec.Code, rec.Body)
			}
		}
	})
}

// Floods of invalid tokens are throttled per client before any token lookup.
func TestInvalidTokenFloodIsThrottled(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t), Options{AuthFailureRate: 1, AuthFailureBurst: 5}, "acme")
	for i := range 5 {
		wantError(t, e.doToken(fmt.Sprintf("%sbad%d_secret", provisioning.TokenPrefix, i), "GET", "/Users", nil), http.StatusUnauthorized, "")
	}
	r := e.doToken(provisioning.TokenPrefix+"bad_secret", "GET", "/Users", nil)
	wantError(t, r, http.StatusTooManyRequests, "")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// A page of large users ends early once it holds MaxListBytes of JSON, whatever count
// asks for; following startIndex + itemsPerPage, or nextCursor, still visits every user
// exactly once.
func TestListPagesAreBoundedByBytes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		const budget = 64 << 10
		e := newEnv(t, db, Options{MaxListBytes: budget}, "acme")
		big := strings.Repeat("z", 4000)
		const n = 40
		for i := range n {
			e.createUser(fmt.Sprintf("big%02d@acme.test", i), map[string]any{"title": big, "nickName": big, "displayName": big[:2000],
				"name": map[string]any{"formatted": big, "givenName": big}})
		}
		seen := map[string]int{}
		pages := 0
		for start := 1; start <= n; pages++ {
			r := e.do("GET", fmt.Sprintf("/Users?count=%d&startIndex=%d", n, start), nil)
			if r.status != http.StatusOK {
				t.Fatalf("page at %d: %d %s", start, r.status, r.raw)
			}
			items := int(r.body["itemsPerPage"].(float64))
			res, _ := r.body["Resources"].([]any)
			if items != len(res) || items == 0 || r.body["totalResults"] != float64(n) {
				t.Fatalf("page at %d: itemsPerPage %d, %d resources, total %v", start, items, len(res), r.body["totalResults"])
			}
			// One chunk past the budget at most: the first chunk is 25 users of ~22 KB.
			if len(r.raw) > budget+firstListChunk*24<<10 {
				t.Fatalf("page at %d is %d bytes", start, len(r.raw))
			}
			for _, x := range res {
				seen[x.(map[string]any)["userName"].(string)]++
			}
			start += items
		}
		if pages < 2 || len(seen) != n {
			t.Fatalf("%d pages, %d distinct users", pages, len(seen))
		}
		for u, c := range seen {
			if c != 1 {
				t.Fatalf("%s seen %d times", u, c)
			}
		}

		// The search across resource types is bounded the same way, users before groups.
		r := e.do("POST", "/Groups", map[string]any{"schemas": []string{URNGroup}, "displayName": "after the users"})
		if r.status != http.StatusCreated {
			t.Fatalf("group: %d %s", r.status, r.raw)
		}
		clear(seen)
		groups := 0
		for start := 1; start <= n+1; {
			r := e.do("POST", "/.search", map[string]any{"schemas": []string{URNSearchRequest}, "startIndex": start, "count": n + 1})
			items, _ := r.body["itemsPerPage"].(float64)
			if r.status != http.StatusOK || items == 0 || items > n || r.body["totalResults"] != float64(n+1) {
				t.Fatalf("/.search at %d: %d itemsPerPage %v totalResults %v", start, r.status, r.body["itemsPerPage"], r.body["totalResults"])
			}
			for _, x := range r.body["Resources"].([]any) {
				if un, ok := x.(map[string]any)["userName"].(string); ok {
					if groups > 0 {
						t.Fatal("/.search: a user after a group")
					}
					seen[un]++
				} else {
					groups++
				}
			}
			start += int(items)
		}
		if len(seen) != n || groups != 1 {
			t.Fatalf("/.search: %d distinct users, %d groups", len(seen), groups)
		}

		// Cursor pagination (RFC 9865) ends pages at a chunk and goes on from there.
		clear(seen)
		cursor := ""
		for pages = 0; pages < 2*n; pages++ {
			r := e.do("GET", "/Users?count=40&cursor="+url.QueryEscape(cursor), nil)
			if r.status != http.StatusOK {
				t.Fatalf("cursor page: %d %s", r.status, r.raw)
			}
			res, _ := r.body["Resources"].([]any)
			for _, x := range res {
				seen[x.(map[string]any)["userName"].(string)]++
			}
			cursor = r.str("nextCursor")
			if cursor == "" {
				break
			}
		}
		if pages < 1 || len(seen) != n {
			t.Fatalf("cursor: %d pages, %d distinct users", pages+1, len(seen))
		}
		for u, c := range seen {
			if c != 1 {
				t.Fatalf("cursor: %s seen %d times", u, c)
			}
		}
	})
}
