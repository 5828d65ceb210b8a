package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
	"github.com/seatbridge/seatbridge/webhook"
)

// independentSign is the Standard Webhooks signature written from the specification
// alone, not from the package under test: base64(HMAC-SHA256(base64decode(secret without
// whsec_), id + "." + timestamp + "." + body)).
func independentSign(t *testing.T, secret, id, ts string, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// The published test vector of the Standard Webhooks specification: the package signs it
// to the published value, and the independent implementation agrees.
func TestStandardWebhooksVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = 1614265330
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	got, err := webhook.Sign([]string{secret}, id, time.Unix(ts, 0), []byte(body))
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	if ind := independentSign(t, secret, id, strconv.Itoa(ts), []byte(body)); ind != want {
		t.Fatalf("independent signature %q, want %q", ind, want)
	}
	if err := webhook.Verify(secret, id, strconv.Itoa(ts), "v1,bm9wZQ== "+want, []byte(body), time.Unix(ts+60, 0), 5*time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for name, tc := range map[string]struct {
		body string
		now  int64
	}{"tampered body": {body + " ", ts}, "stale": {body, ts + 600}} {
		if err := webhook.Verify(secret, id, strconv.Itoa(ts), want, []byte(tc.body), time.Unix(tc.now, 0), 5*time.Minute); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	// During a rotation both secrets sign.
	two, err := webhook.Sign([]string{"whsec_" + base64.StdEncoding.EncodeToString([]byte("new")), secret}, id, time.Unix(ts, 0), []byte(body))
	if err != nil || !strings.HasSuffix(two, " "+want) || strings.Count(two, "v1,") != 2 {
		t.Fatalf("two secrets: %q, %v", two, err)
	}
	if _, err := webhook.Sign([]string{"nope"}, id, time.Unix(ts, 0), nil); !errors.Is(err, webhook.ErrBadSecret) {
		t.Fatalf("bad secret: %v", err)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false,
		"::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "224.0.0.1": false, "255.255.255.255": false, "::": false,
		"93.184.216.34": true, "2606:4700::1111": true, "8.8.8.8": true,
	} {
		if got := httpx.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// The guard refuses at dial time, whatever the URL says: an IP literal, a name that
// resolves to loopback, a redirect is not followed. With AllowPrivate the same server is
// reached.
func TestClientRefusesPrivateTargets(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	guarded := webhook.NewClient(webhook.ClientOptions{Timeout: 2 * time.Second})
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/", "http://[::1]:" + port + "/", "http://169.254.169.254/",
		"http://0.0.0.0:" + port + "/", "http://10.0.0.1:" + port + "/"} {
		resp, err := guarded.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: reached (status %d)", u, resp.StatusCode)
			continue
		}
		if !errors.Is(err, webhook.ErrForbiddenAddress) {
			t.Errorf("%s: %v, want ErrForbiddenAddress", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the guarded client reached the server %d times", hits)
	}
	open := webhook.NewClient(webhook.ClientOptions{AllowPrivate: true, Timeout: 2 * time.Second})
	resp, err := open.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allowed private: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect followed: status %d", resp.StatusCode)
	}
}

// ---- delivery on both databases ----

var cli = provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test", Name: "test"}

type env struct {
	db     *store.DB
	eng    *provisioning.Engine
	wh     *provisioning.Webhooks
	tenant *provisioning.Tenant
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	eng := provisioning.NewEngine(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	wh := provisioning.NewWebhooks(eng, box)
	wh.Retry = provisioning.WebhookRetry{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond, GiveUpAfter: time.Hour, Lease: 5 * time.Second}
	tn, err := eng.CreateTenant(context.Background(), cli, "acme", "Acme", 100)
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, eng: eng, wh: wh, tenant: tn}
}

func (e *env) user(t *testing.T, name string) *provisioning.User {
	t.Helper()
	u, err := e.eng.CreateUser(context.Background(), cli, e.tenant.ID, &provisioning.User{UserName: name,
		Emails: []provisioning.MultiValue{{Value: name, Primary: true}}})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func (e *env) events(t *testing.T, typ string) []provisioning.Event {
	t.Helper()
	all, err := e.eng.ListEvents(context.Background(), e.tenant.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []provisioning.Event
	for _, ev := range all {
		if typ == "" || ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// A change and its event commit or roll back together: a seat taken from the last Admin
// is audited (and its event derived) before the last-Admin rule refuses the whole
// transaction, which then leaves neither the change, nor the event, nor the back-channel
// logout behind. On SQLite the failing transaction shares a group commit with a
// succeeding one, whose event stays.
func TestChangeAndEventAreAtomic(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		boss := e.user(t, "boss@acme.test")
		if _, err := e.eng.AssignSeats(ctx, cli, e.tenant.ID, []string{boss.ID}, []string{provisioning.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		if n := len(e.events(t, provisioning.EvSeatAssigned)); n != 1 {
			t.Fatalf("%d seat.assigned events, want 1", n)
		}
		before := len(e.events(t, ""))
		var wg sync.WaitGroup
		var unassignErr error
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 0 {
					_, unassignErr = e.eng.UnassignSeats(ctx, cli, e.tenant.ID, []string{boss.ID})
					return
				}
				e.user(t, fmt.Sprintf("u%d@acme.test", i))
			}()
		}
		wg.Wait()
		var re *provisioning.RuleError
		if !errors.As(unassignErr, &re) {
			t.Fatalf("unassigning the last Admin: %v, want a RuleError", unassignErr)
		}
		u, err := e.eng.GetUser(ctx, e.tenant.ID, boss.ID)
		if err != nil || !u.Seat {
			t.Fatalf("the refused change stuck: seat %v, %v", u.Seat, err)
		}
		if n := len(e.events(t, provisioning.EvSeatFreed)); n != 0 {
			t.Fatalf("%d seat.freed events for a rolled-back change", n)
		}
		evs := e.events(t, "")
		if len(evs) != before+7 {
			t.Fatalf("%d events, want %d (the 7 users created)", len(evs), before+7)
		}
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d: the cursor has a gap or a repeat", i, ev.Seq)
			}
		}
		var logouts int
		if err := db.SQL().Get(&logouts, `SELECT COUNT(*) FROM logout_outbox`); err != nil || logouts != 0 {
			t.Fatalf("%d back-channel logouts queued by a rolled-back change (%v)", logouts, err)
		}
		// The change that commits brings its event and its logout.
		if _, err := e.eng.DeactivateUser(ctx, cli, e.tenant.ID, e.user(t, "leaver@acme.test").ID); err != nil {
			t.Fatal(err)
		}
		if n := len(e.events(t, provisioning.EvUserDeactivated)); n != 1 {
			t.Fatalf("%d user.deactivated events, want 1", n)
		}
		if err := db.SQL().Get(&logouts, `SELECT COUNT(*) FROM logout_outbox`); err != nil || logouts != 1 {
			t.Fatalf("%d back-channel logouts, want 1 (%v)", logouts, err)
		}
	})
}

// A reader following the cursor while many transactions commit concurrently never skips
// an event: sequence numbers become visible in order.
func TestCursorUnderConcurrency(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		base, err := db.LastEventSeq(ctx, e.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		const writers, each = 8, 15
		done := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					e.user(t, fmt.Sprintf("w%d-%d@acme.test", w, i))
				}
			}()
		}
		go func() { wg.Wait(); close(done) }()
		// Three readers at once: on PostgreSQL each read numbers the queued events first,
		// so they also race each other to number them (as replicas do).
		const readers = 3
		var rg sync.WaitGroup
		for range readers {
			rg.Add(1)
			go func() {
				defer rg.Done()
				seen := map[int64]bool{}
				cursor := base
				read := func() {
					evs, err := e.eng.ListEvents(ctx, e.tenant.ID, cursor, 7)
					if err != nil {
						t.Error(err)
						return
					}
					for _, ev := range evs {
						if ev.Seq != cursor+1 {
							t.Errorf("after %d the reader got %d", cursor, ev.Seq)
						}
						seen[ev.Seq] = true
						cursor = ev.Seq
					}
				}
			loop:
				for {
					select {
					case <-done:
						break loop
					default:
						read()
					}
				}
				for range 50 {
					read()
				}
				if len(seen) != writers*each || cursor != base+writers*each {
					t.Errorf("reader saw %d events up to %d, want %d up to %d", len(seen), cursor, writers*each, base+writers*each)
				}
			}()
		}
		rg.Wait()
	})
}

// receiver records deliveries; fail decides the status of each one.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []provisioning.Event
	ids    map[string]int
	fail   func(n int) bool
	n      int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, fail func(n int) bool) *receiver {
	r := &receiver{t: t, ids: map[string]int{}, fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.fail != nil && r.fail(r.n) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	want := independentSign(r.t, r.secret, id, ts, body)
	if !strings.Contains(" "+req.Header.Get("webhook-signature")+" ", " "+want+" ") {
		r.t.Errorf("delivery %s: signature %q does not verify", id, req.Header.Get("webhook-signature"))
	}
	var ev provisioning.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id {
		r.t.Errorf("delivery %s: body %s (%v)", id, body, err)
	}
	r.got = append(r.got, ev)
	r.ids[id]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (e *env) endpoint(t *testing.T, r *receiver, events ...string) *provisioning.WebhookEndpoint {
	t.Helper()
	u := r.srv.URL + "/hook"
	var f *[]string
	if len(events) > 0 {
		f = &events
	}
	ep, secret, err := e.wh.CreateWebhook(context.Background(), cli, e.tenant.ID, provisioning.WebhookRequest{URL: &u, Events: f})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	r.secret = secret
	return ep
}

func worker(wh *provisioning.Webhooks, id string) *webhook.Worker {
	return &webhook.Worker{Deliveries: wh, ID: id, Interval: 10 * time.Millisecond, Batch: 5,
		Client: webhook.NewClient(webhook.ClientOptions{AllowPrivate: true}), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// Two replicas (two store handles, two workers) deliver each event exactly once per
// attempt.
func TestTwoReplicasDeliverOnce(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rcv := newReceiver(t, nil)
		e.endpoint(t, rcv, "user.*")
		const n = 30
		for i := range n {
			e.user(t, fmt.Sprintf("r%d@acme.test", i))
		}
		// The second replica: its own engine over its own connection pool.
		db2 := db
		if db.Dialect() == store.Postgres {
			db2 = reopen(t, db)
		}
		e2 := provisioning.NewWebhooks(provisioning.NewEngine(db2, nil), e.wh.Sealer)
		e2.Retry = e.wh.Retry
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i, w := range []*webhook.Worker{worker(e.wh, "A"), worker(e2, "B")} {
			wg.Add(1)
			_ = i
			go func() { defer wg.Done(); _ = w.Run(wctx) }()
		}
		deadline := time.Now().Add(20 * time.Second)
		for rcv.count() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
		waitSettled(t, db)
		cancel()
		wg.Wait()
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.ids) != n {
			t.Fatalf("%d distinct events delivered, want %d", len(rcv.ids), n)
		}
		for id, k := range rcv.ids {
			if k != 1 {
				t.Errorf("event %s delivered %d times", id, k)
			}
		}
		var rows []struct {
			Worker string `db:"worker"`
			N      int    `db:"n"`
		}
		// Each delivery went out in one attempt, logged as a row by the worker that made
		// it, and no attempt failed.
		if err := db.SQL().Select(&rows, `SELECT a.worker, COUNT(*) AS n FROM webhook_attempts a
			JOIN webhook_deliveries d ON d.id = a.delivery_id
			WHERE d.status = 'delivered' AND d.attempts = 1 AND a.attempt = 1 AND a.status_code BETWEEN 200 AND 299 AND a.error = ''
			GROUP BY a.worker`); err != nil {
			t.Fatal(err)
		}
		var all int
		if err := db.SQL().Get(&all, `SELECT COUNT(*) FROM webhook_attempts`); err != nil || all != n {
			t.Fatalf("%d attempts logged, want %d (%v)", all, n, err)
		}
		total := 0
		for _, r := range rows {
			total += r.N
		}
		if total != n {
			t.Fatalf("%d attempts logged, want %d: %v", total, n, rows)
		}
		t.Logf("attempts by worker: %v", rows)
	})
}

// waitSettled waits until no delivery is pending (the last batch's outcome recorded).
func waitSettled(t *testing.T, db *store.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.SQL().Get(&n, `SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'`); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reopen opens a second handle on the same PostgreSQL schema, as another replica would.
func reopen(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	var schema string
	if err := db.SQL().Get(&schema, `SELECT current_schema()`); err != nil {
		t.Fatal(err)
	}
	dsn := storetest.PostgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db2, err := store.Open(context.Background(), dsn+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	return db2
}

// A receiver that fails for a while, then recovers, gets every event, each user's in
// order; every attempt is logged and a delivered one can be replayed.
func TestFailThenRecoverInOrder(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rcv := newReceiver(t, func(n int) bool { return n <= 12 })
		ep := e.endpoint(t, rcv)
		var users []*provisioning.User
		for i := range 4 {
			users = append(users, e.user(t, fmt.Sprintf("o%d@acme.test", i)))
		}
		for round := range 3 {
			for _, u := range users {
				name := fmt.Sprintf("Name %d", round)
				if _, err := e.eng.UpdateUser(ctx, cli, e.tenant.ID, u.ID, provisioning.AnyVersion, func(x *provisioning.User) error {
					x.DisplayName = name
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		w := worker(e.wh, "A")
		go func() { _ = w.Run(wctx) }()
		deadline := time.Now().Add(20 * time.Second)
		for rcv.count() < 16 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		waitSettled(t, db)
		cancel()
		rcv.mu.Lock()
		got := append([]provisioning.Event(nil), rcv.got...)
		rcv.mu.Unlock()
		if len(got) != 16 {
			t.Fatalf("%d events delivered, want 16 (4 creations, 12 updates)", len(got))
		}
		last := map[string]int64{}
		perUser := map[string]int{}
		for _, ev := range got {
			var d struct {
				User struct {
					ID string `json:"id"`
				} `json:"user"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil || d.User.ID == "" {
				t.Fatalf("event %s data %s", ev.Type, ev.Data)
			}
			if ev.Seq <= last[d.User.ID] {
				t.Errorf("user %s: event %d after %d", d.User.ID, ev.Seq, last[d.User.ID])
			}
			last[d.User.ID] = ev.Seq
			perUser[d.User.ID]++
		}
		for _, u := range users {
			if perUser[u.ID] != 4 {
				t.Errorf("user %s got %d events, want 4", u.UserName, perUser[u.ID])
			}
		}
		ds, err := e.wh.ListDeliveries(ctx, e.tenant.ID, ep.ID, 100)
		if err != nil || len(ds) != 16 {
			t.Fatalf("%d deliveries (%v)", len(ds), err)
		}
		retried := 0
		for _, d := range ds {
			if d.Status != provisioning.WebhookDelivered {
				t.Errorf("delivery %s is %s", d.ID, d.Status)
			}
			as, err := e.wh.ListAttempts(ctx, e.tenant.ID, d.ID)
			if err != nil || len(as) != d.Attempts {
				t.Fatalf("delivery %s: %d attempts logged, %d counted (%v)", d.ID, len(as), d.Attempts, err)
			}
			if d.Attempts > 1 {
				retried++
				if as[0].StatusCode != http.StatusServiceUnavailable || !strings.Contains(as[0].ResponseExcerpt, "maintenance") {
					t.Errorf("first attempt logged as %+v", as[0])
				}
			}
		}
		if retried == 0 {
			t.Fatal("no delivery was retried")
		}
		// Replay: the receiver gets the event again.
		if _, err := e.wh.ReplayDelivery(ctx, cli, e.tenant.ID, "wh_other", ds[0].ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("replay through another endpoint: %v", err)
		}
		if _, err := e.wh.ReplayDelivery(ctx, cli, e.tenant.ID, ep.ID, ds[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if rcv.count() != 17 {
			t.Fatalf("replay: %d deliveries, want 17", rcv.count())
		}
		// Every attempt stays a row: the replay's success comes after the earlier
		// attempts, the earlier success included (it used to be overwritten).
		as, err := e.wh.ListAttempts(ctx, e.tenant.ID, ds[0].ID)
		if err != nil || len(as) != ds[0].Attempts+1 {
			t.Fatalf("after replay: %d attempts, want %d (%v)", len(as), ds[0].Attempts+1, err)
		}
		for i, a := range as {
			if a.Attempt != i+1 {
				t.Errorf("attempt %d numbered %d", i+1, a.Attempt)
			}
		}
		if first, again := as[len(as)-2], as[len(as)-1]; first.StatusCode/100 != 2 || again.StatusCode/100 != 2 ||
			first.ID == again.ID || again.At.Before(first.At) {
			t.Errorf("the first success and the replay's: %+v, %+v", first, again)
		}
	})
}

// A receiver that keeps failing past the retry window gets its endpoint disabled, with an
// audit record and a webhook.disabled event.
func TestPersistentFailureDisables(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.wh.Retry.GiveUpAfter = 150 * time.Millisecond
		rcv := newReceiver(t, func(int) bool { return true })
		ep := e.endpoint(t, rcv, "user.created")
		e.user(t, "x@acme.test")
		w := worker(e.wh, "A")
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State == provisioning.WebhookDisabled {
				if !strings.Contains(got.DisabledReason, "HTTP 503") {
					t.Errorf("reason %q", got.DisabledReason)
				}
				if n := len(e.events(t, provisioning.EvWebhookDisabled)); n != 1 {
					t.Fatalf("%d webhook.disabled events", n)
				}
				audit, err := e.eng.ListAudit(ctx, e.tenant.ID, provisioning.AuditQuery{Action: "webhook.disable"})
				if err != nil || len(audit) != 1 || audit[0].ActorKind != provisioning.ActorSystem {
					t.Fatalf("audit: %+v %v", audit, err)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("endpoint never disabled")
	})
}

// Endpoints are tenant-scoped; a secret rotation keeps the old secret signing beside the
// new one; a disabled endpoint receives nothing until re-enabled, then resumes where it
// stopped.
func TestEndpointLifecycle(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		rcv := newReceiver(t, nil)
		ep := e.endpoint(t, rcv, "user.created")
		oldSecret := rcv.secret
		other, err := e.eng.CreateTenant(ctx, cli, "other", "Other", 1)
		if err != nil {
			t.Fatal(err)
		}
		off := false
		if _, err := e.wh.GetWebhook(ctx, other.ID, ep.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant reads the endpoint: %v", err)
		}
		if _, err := e.wh.UpdateWebhook(ctx, cli, other.ID, ep.ID, provisioning.WebhookRequest{Enabled: &off}); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant changes the endpoint: %v", err)
		}
		if _, err := e.wh.RotateWebhookSecret(ctx, cli, other.ID, ep.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant rotates the secret: %v", err)
		}
		if err := e.wh.DeleteWebhook(ctx, cli, other.ID, ep.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant deletes the endpoint: %v", err)
		}
		newSecret, err := e.wh.RotateWebhookSecret(ctx, cli, e.tenant.ID, ep.ID)
		if err != nil || newSecret == oldSecret || !strings.HasPrefix(newSecret, "whsec_") {
			t.Fatalf("rotate: %q %v", newSecret, err)
		}
		// The receiver still verifies with the old secret; the header carries both.
		w := worker(e.wh, "A")
		e.user(t, "rot@acme.test")
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if rcv.count() != 1 {
			t.Fatalf("%d deliveries after rotation", rcv.count())
		}
		// Disabled: nothing goes out; re-enabled: the backlog follows.
		if _, err := e.wh.UpdateWebhook(ctx, cli, e.tenant.ID, ep.ID, provisioning.WebhookRequest{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		e.user(t, "while-off@acme.test")
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if rcv.count() != 1 {
			t.Fatalf("a disabled endpoint received %d", rcv.count())
		}
		on := true
		if _, err := e.wh.UpdateWebhook(ctx, cli, e.tenant.ID, ep.ID, provisioning.WebhookRequest{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		rcv.secret = newSecret // verifies with the new one as well
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if rcv.count() != 2 {
			t.Fatalf("re-enabled endpoint received %d, want 2", rcv.count())
		}
		if err := e.wh.DeleteWebhook(ctx, cli, e.tenant.ID, ep.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("deleted endpoint: %v", err)
		}
	})
}
