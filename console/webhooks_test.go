package console_test

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
	"github.com/seatbridge/seatbridge/webhook"
)

var whsecRe = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{40,}`)

// receiver is a platform endpoint whose answer the test switches.
type receiver struct {
	srv    *httptest.Server
	status atomic.Int32
	hits   atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.status.Store(http.StatusOK)
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		st := int(rc.status.Load())
		w.WriteHeader(st)
		if st >= 300 {
			// Markup in the excerpt must reach the console's page escaped.
			_, _ = io.WriteString(w, `<script>alert("x")</script> down`)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// shows reports whether a page shows the secret (its text, HTML escapes undone).
func shows(page, secret string) bool { return strings.Contains(html.UnescapeString(page), secret) }

// fakeResolver answers host names from a map, so the SSRF guard is tested without DNS.
type fakeResolver map[string]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

// TestWebhookScreens walks the webhook screens through the real router: create (the
// secret shown once, refusals next to the fields with nothing stored), the endpoint's page
// with deliveries and attempts from the real delivery worker, replay, rotate, edit,
// disable, disabling after failure, delete; a Viewer and another tenant are refused.
func TestWebhookScreens(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		admin := e.session("ada@acme.test", adminPassword)
		tok := admin.token()
		const list, create = "/admin/acme/webhooks", "/admin/acme/webhooks/new"
		stored := func() []provisioning.WebhookEndpoint {
			t.Helper()
			eps, err := e.wh.ListWebhooks(ctx, e.tenant.ID)
			if err != nil {
				t.Fatal(err)
			}
			return eps
		}

		if r := admin.get(list); r.status != 200 || !strings.Contains(r.body, "No endpoints yet") || !strings.Contains(r.body, `href="/admin/acme/webhooks" aria-current="page"`) {
			t.Fatalf("empty list: %d %s", r.status, r.body)
		}
		r := admin.get(create)
		if r.status != 200 {
			t.Fatalf("create page: %d", r.status)
		}
		// One checkbox per event kind of the engine, and one per type.
		for _, typ := range provisioning.EventTypes {
			kind, _, _ := strings.Cut(typ, ".")
			if !strings.Contains(r.body, `value="`+kind+`.*"`) || !strings.Contains(r.body, `value="`+typ+`"`) {
				t.Fatalf("create page lacks the checkboxes of %s", typ)
			}
		}

		rc := newReceiver(t)
		hookURL := rc.srv.URL + "/hooks"
		// Refused: no form token, a bad URL, no events, SSRF targets; nothing stored.
		if r := admin.post(create, url.Values{"url": {hookURL}, "events": {"*"}}); r.status != http.StatusForbidden {
			t.Fatalf("post without token: %d", r.status)
		}
		e.wh.CheckURL = webhook.URLGuard{Resolver: fakeResolver{"hooks.internal.test": "10.1.2.3", "hooks.acme.example": "93.184.215.14"}}.Check
		for _, c := range []struct{ url, field, want string }{
			{"ftp://hooks.acme.example/x", "e-url", "absolute http(s) URL"},
			{"https://user:pw@hooks.acme.example/x", "e-url", "without credentials"},
			{"http://127.0.0.1:9/hook", "e-url", "private, loopback or link-local"},
			{"http://169.254.169.254/latest/meta-data", "e-url", "private, loopback or link-local"},
			{"http://[::1]/hook", "e-url", "private, loopback or link-local"},
			{"https://hooks.internal.test/hook", "e-url", "resolves to a private"},
			{"https://nowhere.invalid/hook", "e-url", "could not be resolved"},
		} {
			r := admin.post(create, url.Values{"csrf": {tok}, "url": {c.url}, "events": {"user.*"}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="`+c.field+`"`) || !strings.Contains(r.body, c.want) ||
				!strings.Contains(r.body, `value="user.*" checked`) {
				t.Fatalf("%s: %d %s", c.url, r.status, r.body)
			}
		}
		if r := admin.post(create, url.Values{"csrf": {tok}, "url": {"https://hooks.acme.example/x"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-events"`) {
			t.Fatalf("no events: %d %s", r.status, r.body)
		}
		if n := len(stored()); n != 0 {
			t.Fatalf("%d endpoints stored by refused posts", n)
		}
		// The operator allows private addresses (--webhook-allow-private): the test's
		// receiver listens on 127.0.0.1.
		e.wh.CheckURL = nil

		// Create: user.created is covered by the checked user.*.
		r = admin.post(create, url.Values{"csrf": {tok}, "url": {hookURL}, "description": {"Platform <prod>"}, "events": {"user.*", "user.created", "seat.assigned"}})
		secret := whsecRe.FindString(html.UnescapeString(r.body))
		if r.status != http.StatusCreated || secret == "" || !strings.Contains(r.body, "Copy it now") {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		eps := stored()
		if len(eps) != 1 || eps[0].URL != hookURL || strings.Join(eps[0].Events, ",") != "user.*,seat.assigned" || eps[0].Description != "Platform <prod>" {
			t.Fatalf("stored: %+v", eps)
		}
		ep := eps[0]
		if got, err := e.wh.OpenSecrets(&ep); err != nil || len(got) != 1 || got[0] != secret {
			t.Fatalf("the shown secret is not the stored one: %v", err)
		}
		page := "/admin/acme/webhooks/" + ep.ID
		// Never shown again: neither on the list nor on the endpoint's page.
		r = admin.get(list)
		if r.status != 200 || shows(r.body, secret) || !strings.Contains(r.body, `href="`+page+`"`) || !strings.Contains(r.body, "none yet") ||
			!strings.Contains(r.body, "Platform &lt;prod&gt;") || !strings.Contains(r.body, `<span class="badge active">active</span>`) {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		if r = admin.get(page); r.status != 200 || shows(r.body, secret) || whsecRe.MatchString(html.UnescapeString(r.body)) {
			t.Fatalf("endpoint page shows a secret or fails: %d", r.status)
		}

		// Deliveries through the real worker: the receiver fails once, then accepts.
		e.wh.Retry = provisioning.WebhookRetry{Base: time.Millisecond, Max: time.Millisecond, GiveUpAfter: time.Hour, Lease: time.Minute}
		worker := &webhook.Worker{Deliveries: e.wh, Client: webhook.NewClient(webhook.ClientOptions{AllowPrivate: true}),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ID: "test"}
		runWorker := func() {
			t.Helper()
			time.Sleep(5 * time.Millisecond) // past the 1 ms backoff
			if _, err := worker.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		rc.status.Store(http.StatusServiceUnavailable)
		e.localUser("bea@acme.test", "Bea", "another long password")
		runWorker()
		deliveries := func() []provisioning.WebhookDelivery {
			t.Helper()
			ds, err := e.wh.ListDeliveries(ctx, e.tenant.ID, ep.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		ds := deliveries()
		var created *provisioning.WebhookDelivery
		for i := range ds {
			if ds[i].EventType == provisioning.EvUserCreated {
				created = &ds[i]
			}
			if !provisioning.MatchEventFilter(ep.Events, ds[i].EventType) {
				t.Fatalf("delivery of %s outside the filter", ds[i].EventType)
			}
		}
		if created == nil || created.Status != provisioning.WebhookPending || created.LastStatus != http.StatusServiceUnavailable {
			t.Fatalf("deliveries after a failure: %+v", ds)
		}
		r = admin.get(page)
		if !strings.Contains(r.body, "HTTP 503") || !strings.Contains(r.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; down") ||
			strings.Contains(r.body, `<script>`) || !strings.Contains(r.body, "retrying") {
			t.Fatalf("endpoint page after a failure: %s", r.body)
		}
		// A pending delivery is not replayed (the engine says why).
		replay := page + "/deliveries/" + created.ID + "/replay"
		if r := admin.post(replay, url.Values{"csrf": {tok}}); r.status != http.StatusConflict || !strings.Contains(r.body, "still pending") {
			t.Fatalf("replay of a pending delivery: %d %s", r.status, r.body)
		}
		rc.status.Store(http.StatusOK)
		runWorker()
		r = admin.get(page)
		if !strings.Contains(r.body, `<span class="badge success">delivered</span>`) || !strings.Contains(r.body, "2 attempts") || !strings.Contains(r.body, replay) {
			t.Fatalf("endpoint page after delivery: %s", r.body)
		}
		if r := admin.get(list); !strings.Contains(r.body, `<span class="badge success">delivered</span>`) {
			t.Fatalf("list lacks the last delivery: %s", r.body)
		}
		// Replay: sent again, a third attempt.
		hits := rc.hits.Load()
		if r := admin.post(replay, url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=replayed") {
			t.Fatalf("replay: %d %s", r.status, r.body)
		}
		runWorker()
		as, err := e.wh.ListAttempts(ctx, e.tenant.ID, created.ID)
		// (The store keeps failed attempts as rows but only the latest accepted one, on the
		// delivery: the replayed delivery's first acceptance is not listed any more.)
		if err != nil || len(as) == 0 || as[len(as)-1].Attempt != 3 || as[len(as)-1].StatusCode != 200 || rc.hits.Load() <= hits {
			t.Fatalf("attempts after replay: %+v %v", as, err)
		}
		if r := admin.post(page+"/deliveries/whd_nope/replay", url.Values{"csrf": {tok}}); r.status != http.StatusNotFound {
			t.Fatalf("replay of an unknown delivery: %d", r.status)
		}

		// Rotate: confirmation first, then a new secret shown once; both sign meanwhile.
		if r := admin.post(page+"/rotate", url.Values{"csrf": {tok}}); r.status != 200 || !strings.Contains(r.body, "Rotate secret") || !strings.Contains(r.body, "24 hours") {
			t.Fatalf("rotate confirmation: %d %s", r.status, r.body)
		}
		r = admin.post(page+"/rotate", url.Values{"csrf": {tok}, "confirm": {"yes"}})
		secret2 := whsecRe.FindString(html.UnescapeString(r.body))
		if r.status != 200 || secret2 == "" || secret2 == secret || !strings.Contains(r.body, "shown only once") {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		got, _ := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID)
		if sec, err := e.wh.OpenSecrets(got); err != nil || !slices.Equal(sec, []string{secret2, secret}) {
			t.Fatalf("secrets after rotation: %d %v", len(sec), err)
		}
		if r := admin.get(page); shows(r.body, secret) || shows(r.body, secret2) {
			t.Fatal("the rotated secret is shown again")
		}

		// Edit: a bad URL is refused next to the field, nothing changes; then every event.
		if r := admin.post(page, url.Values{"csrf": {tok}, "url": {"not a url"}, "events": {"*"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-url"`) {
			t.Fatalf("bad edit: %d %s", r.status, r.body)
		}
		if got, _ := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); got.URL != hookURL || len(got.Events) != 2 {
			t.Fatalf("a refused edit changed the endpoint: %+v", got)
		}
		if r := admin.post(page, url.Values{"csrf": {tok}, "url": {hookURL + "/v2"}, "description": {""}, "events": {"*", "user.*"}}); r.status != http.StatusSeeOther {
			t.Fatalf("edit: %d %s", r.status, r.body)
		}
		if got, _ := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); got.URL != hookURL+"/v2" || strings.Join(got.Events, ",") != "*" || got.Description != "" {
			t.Fatalf("edit not saved: %+v", got)
		}

		// Disable and enable.
		if r := admin.post(page+"/state", url.Values{"csrf": {tok}, "state": {"disable"}}); r.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", r.status)
		}
		if got, _ := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); got.State != provisioning.WebhookDisabled {
			t.Fatalf("not disabled: %+v", got)
		}
		if r := admin.get(list); !strings.Contains(r.body, `<span class="badge expired">disabled</span>`) || strings.Contains(r.body, "after failures") {
			t.Fatalf("list of a disabled endpoint: %s", r.body)
		}
		if r := admin.post(page+"/state", url.Values{"csrf": {tok}, "state": {"enable"}}); r.status != http.StatusSeeOther {
			t.Fatalf("enable: %d", r.status)
		}
		if got, _ := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); got.State != provisioning.WebhookActive {
			t.Fatalf("not enabled: %+v", got)
		}

		// The worker gives up on a receiver that keeps failing: the list says why.
		rc.status.Store(http.StatusInternalServerError)
		e.wh.Retry.GiveUpAfter = time.Nanosecond
		e.localUser("cy@acme.test", "Cy", "another long password")
		runWorker()
		if got, _ := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); got.State != provisioning.WebhookDisabled || got.DisabledReason == provisioning.WebhookDisabledByAdmin {
			t.Fatalf("not disabled after failure: %+v", got)
		}
		if r := admin.get(list); !strings.Contains(r.body, "disabled after failures") || !strings.Contains(r.body, "HTTP 500") {
			t.Fatalf("list of a failed endpoint: %s", r.body)
		}
		if r := admin.get(page); !strings.Contains(r.body, "Seatbridge stopped sending to this endpoint") || !strings.Contains(r.body, `value="enable"`) {
			t.Fatalf("page of a failed endpoint: %s", r.body)
		}

		// A Viewer sees none of it and changes nothing.
		e.localUser("vic@acme.test", "Vic", "viewer long password", provisioning.RoleViewer)
		viewer := e.session("vic@acme.test", "viewer long password")
		vtok := viewer.token()
		if r := viewer.get(list); r.status != http.StatusSeeOther || !strings.HasSuffix(r.header.Get("Location"), "/me") {
			t.Fatalf("viewer list: %d", r.status)
		}
		if r := viewer.get("/admin/acme/me"); strings.Contains(r.body, "/webhooks") {
			t.Fatal("viewer's navigation links the webhooks")
		}
		for _, p := range []string{create, page + "/delete", page + "/rotate", page + "/state", replay} {
			if r := viewer.post(p, url.Values{"csrf": {vtok}, "url": {hookURL}, "events": {"*"}, "confirm": {"yes"}, "state": {"disable"}}); r.status != http.StatusForbidden {
				t.Fatalf("viewer post %s: %d", p, r.status)
			}
		}
		if eps := stored(); len(eps) != 1 {
			t.Fatalf("viewer changed the endpoints: %d", len(eps))
		}

		// Another tenant's endpoint is not found here.
		other, err := e.eng.CreateTenant(ctx, cli, "globex", "Globex", 5)
		if err != nil {
			t.Fatal(err)
		}
		u := "https://hooks.globex.example/x"
		oep, _, err := e.wh.CreateWebhook(ctx, cli, other.ID, provisioning.WebhookRequest{URL: &u})
		if err != nil {
			t.Fatal(err)
		}
		if r := admin.get("/admin/acme/webhooks/" + oep.ID); r.status != http.StatusNotFound {
			t.Fatalf("other tenant's endpoint: %d", r.status)
		}
		if r := admin.post("/admin/acme/webhooks/"+oep.ID+"/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}}); r.status != http.StatusNotFound {
			t.Fatalf("delete of another tenant's endpoint: %d", r.status)
		}

		// Delete: confirmation first, then gone.
		if r := admin.post(page+"/delete", url.Values{"csrf": {tok}}); r.status != 200 || !strings.Contains(r.body, "Delete endpoint") || len(stored()) != 1 {
			t.Fatalf("delete confirmation: %d %s", r.status, r.body)
		}
		if r := admin.post(page+"/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}}); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=deleted") {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if _, err := e.wh.GetWebhook(ctx, e.tenant.ID, ep.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("deleted endpoint: %v", err)
		}
		if _, err := e.wh.GetWebhook(ctx, other.ID, oep.ID); err != nil {
			t.Fatalf("the other tenant's endpoint: %v", err)
		}
	})
}
