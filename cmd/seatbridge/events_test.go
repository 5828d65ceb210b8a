package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// platformReceiver is the platform app's side: a webhook endpoint and a back-channel
// logout endpoint, recording what arrives and when.
type platformReceiver struct {
	mu      sync.Mutex
	hooks   []receivedHook
	logouts []receivedLogout
	srv     *httptest.Server
}

type receivedHook struct {
	id, ts, sig string
	body        []byte
	at          time.Time
}

type receivedLogout struct {
	token string
	at    time.Time
}

func newPlatformReceiver(t *testing.T) *platformReceiver {
	p := &platformReceiver{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.URL.Path {
		case "/hook":
			p.hooks = append(p.hooks, receivedHook{id: r.Header.Get("webhook-id"), ts: r.Header.Get("webhook-timestamp"),
				sig: r.Header.Get("webhook-signature"), body: body, at: time.Now()})
			w.WriteHeader(http.StatusNoContent)
		case "/backchannel-logout":
			form, _ := url.ParseQuery(string(body))
			if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || form.Get("logout_token") == "" {
				http.Error(w, "bad logout request", http.StatusBadRequest)
				return
			}
			p.logouts = append(p.logouts, receivedLogout{token: form.Get("logout_token"), at: time.Now()})
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// hookOf returns the first delivery of an event type for a user, if any.
func (p *platformReceiver) hookOf(typ, userID string) (receivedHook, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.hooks {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				User struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"data"`
		}
		if json.Unmarshal(h.body, &ev) == nil && ev.Type == typ && ev.Data.User.ID == userID {
			return h, true
		}
	}
	return receivedHook{}, false
}

func (p *platformReceiver) firstLogout() (receivedLogout, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logouts) == 0 {
		return receivedLogout{}, false
	}
	return p.logouts[0], true
}

// Deactivating a user over SCIM reaches the platform within a second as a signed
// webhook and as a back-channel logout token that verifies against the JWKS; the pull
// API returns the same events in order. Real wiring (openApp, routes, workers) on both
// databases.
func TestEventsEndToEnd(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "events.db")
			if dialect == "postgres" {
				dsn = freshPostgresDSN(t)
			}
			testEventsEndToEnd(t, dsn)
		})
	}
}

func testEventsEndToEnd(t *testing.T, dsn string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	recv := newPlatformReceiver(t)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	run1 := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(k string) string {
			return map[string]string{"SEATBRIDGE_DB": dsn, "SEATBRIDGE_SECRET_KEY": replicaSecretKey, "SEATBRIDGE_BASE_URL": base,
				"SEATBRIDGE_LOG_LEVEL": "warn"}[k]
		}}
		if code := run(ctx, args, env); code != 0 {
			t.Fatalf("seatbridge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	run1("tenant", "create", "acme", "--seats", "10")
	var scimTok, adminTok struct {
		Token string `json:"token"`
	}
	mustJSON(t, run1("token", "create", "--tenant", "acme", "--kind", "scim", "--json"), &scimTok)
	mustJSON(t, run1("token", "create", "--tenant", "acme", "--kind", "admin", "--json"), &adminTok)
	var client struct {
		ClientID string `json:"clientId"`
	}
	mustJSON(t, run1("client", "create", "--redirect-uri", replicaCallback, "--backchannel-logout-uri", recv.srv.URL+"/backchannel-logout",
		"--json"), &client)

	cfg := Config{DB: dsn, BaseURL: base, SecretKey: replicaSecretKey, LogLevel: "warn", LogFormat: "text",
		Events: EventsConfig{AllowPrivate: true, Timeout: 5 * time.Second, Retention: 24 * time.Hour}}
	a, err := openApp(ctx, cfg, &cliEnv{stdout: io.Discard, stderr: logs, getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	h, err := routes(a)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	stop := startWorkers(ctx, a)
	t.Cleanup(stop)

	call := func(method, path, token string, body any, want int, out any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if strings.HasPrefix(path, "/scim/") {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, b)
			}
		}
	}

	// Discovery advertises back-channel logout.
	var disco map[string]any
	call("GET", "/.well-known/openid-configuration", "", nil, http.StatusOK, &disco)
	if disco["backchannel_logout_supported"] != true || disco["backchannel_logout_session_supported"] != true {
		t.Fatalf("discovery: %v", disco)
	}

	// The platform subscribes to everything; the secret is shown once.
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
		State  string `json:"state"`
	}
	call("POST", "/api/v1/webhooks", adminTok.Token, map[string]any{"url": recv.srv.URL + "/hook", "events": []string{"*"}}, http.StatusCreated, &ep)
	if !strings.HasPrefix(ep.Secret, "whsec_") || ep.State != "active" {
		t.Fatalf("created endpoint %+v", ep)
	}
	var listed map[string]any
	call("GET", "/api/v1/webhooks/"+ep.ID, adminTok.Token, nil, http.StatusOK, &listed)
	if _, shown := listed["secret"]; shown {
		t.Fatal("the secret is shown again")
	}
	call("POST", "/api/v1/webhooks", adminTok.Token, map[string]any{"url": "ftp://x"}, http.StatusBadRequest, nil)
	call("POST", "/api/v1/webhooks", adminTok.Token, map[string]any{"url": "https://x.test/", "events": []string{"nope.*"}}, http.StatusBadRequest, nil)

	var user struct {
		ID string `json:"id"`
	}
	call("POST", "/scim/v2/acme/Users", scimTok.Token, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "leaver@acme.test", "active": true, "emails": []map[string]any{{"value": "leaver@acme.test", "primary": true}}},
		http.StatusCreated, &user)
	waitFor(t, 5*time.Second, func() bool { _, ok := recv.hookOf("user.created", user.ID); return ok })

	start := time.Now()
	call("PATCH", "/scim/v2/acme/Users/"+user.ID, scimTok.Token, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}, http.StatusOK, nil)
	var hook receivedHook
	var logout receivedLogout
	waitFor(t, 5*time.Second, func() bool {
		var ok1, ok2 bool
		hook, ok1 = recv.hookOf("user.deactivated", user.ID)
		logout, ok2 = recv.firstLogout()
		return ok1 && ok2
	})
	hookAfter, logoutAfter := hook.at.Sub(start), logout.at.Sub(start)
	t.Logf("after the SCIM deactivation: webhook in %v, back-channel logout in %v", hookAfter, logoutAfter)
	if hookAfter > time.Second || logoutAfter > time.Second {
		t.Errorf("webhook after %v, logout after %v: want both within a second", hookAfter, logoutAfter)
	}

	// The webhook verifies with an implementation written from the specification.
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(hook.id + "." + hook.ts + "." + string(hook.body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); !strings.Contains(" "+hook.sig+" ", " "+want+" ") {
		t.Fatalf("webhook signature %q, want %q", hook.sig, want)
	}

	// The logout token verifies against the provider's JWKS and has the claims of
	// OpenID Connect Back-Channel Logout 1.0 §2.4.
	ks := oidc.NewRemoteKeySet(ctx, base+"/oauth2/jwks")
	payload, err := ks.VerifySignature(ctx, logout.token)
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	events, _ := claims["events"].(map[string]any)
	if claims["iss"] != base || claims["aud"] != client.ClientID || claims["sub"] != user.ID || claims["jti"] == nil ||
		claims["iat"] == nil || claims["exp"] == nil || events == nil || events["http://schemas.openid.net/event/backchannel-logout"] == nil {
		t.Fatalf("logout token claims %v", claims)
	}
	if _, ok := claims["nonce"]; ok {
		t.Fatal("a logout token must not carry a nonce")
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(logout.token, ".")[0])
	if !strings.Contains(string(hdr), `"typ":"logout+jwt"`) {
		t.Fatalf("logout token header %s", hdr)
	}

	// Pull: the same events, in cursor order; a long poll past the end waits, then
	// answers empty with the same cursor.
	var page struct {
		Events []struct {
			Seq  int64  `json:"seq"`
			Type string `json:"type"`
		} `json:"events"`
		Next int64 `json:"next"`
	}
	call("GET", "/api/v1/events?after=0&limit=1000", adminTok.Token, nil, http.StatusOK, &page)
	var types []string
	for i, ev := range page.Events {
		if i > 0 && ev.Seq != page.Events[i-1].Seq+1 {
			t.Fatalf("events out of order: %v", page.Events)
		}
		types = append(types, ev.Type)
	}
	if !strings.Contains(strings.Join(types, " "), "user.created user.deactivated") {
		t.Fatalf("event types %v", types)
	}
	t0 := time.Now()
	last := page.Next
	call("GET", "/api/v1/events?wait=1&after="+strconv.FormatInt(last, 10), adminTok.Token, nil, http.StatusOK, &page)
	if len(page.Events) != 0 || page.Next != last || time.Since(t0) < 900*time.Millisecond {
		t.Fatalf("long poll: %+v after %v", page, time.Since(t0))
	}
	call("GET", "/api/v1/events?limit=0", adminTok.Token, nil, http.StatusBadRequest, nil)
	// Deliveries and attempts are listed.
	var ds struct {
		Deliveries []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"deliveries"`
	}
	call("GET", "/api/v1/webhooks/"+ep.ID+"/deliveries", adminTok.Token, nil, http.StatusOK, &ds)
	if len(ds.Deliveries) < 2 || ds.Deliveries[0].Status != "delivered" {
		t.Fatalf("deliveries %+v", ds)
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
