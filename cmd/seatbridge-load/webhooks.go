package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hookReceiver is the platform side of the --webhooks option: an HTTP server on a
// loopback port that answers 200 at once after checking the Standard Webhooks signature
// of every delivery against the secret of the endpoint it was registered as. Its
// verification is written here from the specification, independent of the server's
// signer. The server must run with --webhook-allow-private to reach it.
type hookReceiver struct {
	srv     *http.Server
	url     string
	mu      sync.Mutex
	secrets map[string][]byte // endpoint path → decoded secret
	lags    []time.Duration   // event time → receipt
	got     atomic.Int64
	badSig  atomic.Int64
}

func startReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	h := &hookReceiver{url: "http://" + ln.Addr().String(), secrets: map[string][]byte{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	now := time.Now()
	h.mu.Lock()
	secret := h.secrets[r.URL.Path]
	h.mu.Unlock()
	if err != nil || !verifySignature(secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body, r.Header.Get("webhook-signature")) {
		h.badSig.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal(body, &ev) == nil && !ev.Time.IsZero() {
		h.mu.Lock()
		h.lags = append(h.lags, now.Sub(ev.Time))
		h.mu.Unlock()
	}
	h.got.Add(1)
	w.WriteHeader(http.StatusOK)
}

// verifySignature checks "v1,<base64 HMAC-SHA256(id.timestamp.body)>" entries (space
// separated) against the secret, in constant time.
func verifySignature(secret []byte, id, ts string, body []byte, header string) bool {
	if len(secret) == 0 || id == "" || ts == "" {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(header) {
		v, ok := strings.CutPrefix(s, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// register creates n endpoints subscribed to every event through the admin API and
// returns their ids.
func (h *hookReceiver) register(ctx context.Context, adminBase, token string, n int) ([]string, error) {
	var ids []string
	for i := range n {
		path := fmt.Sprintf("/hook/%d", i)
		b, _ := json.Marshal(map[string]any{"url": h.url + path, "events": []string{"*"}, "description": "seatbridge-load"})
		var out struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		if err := adminDo(ctx, "POST", adminBase+"/webhooks", token, b, &out); err != nil {
			return ids, fmt.Errorf("register webhook: %w", err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(out.Secret, "whsec_"))
		if err != nil {
			return ids, fmt.Errorf("webhook secret: %w", err)
		}
		h.mu.Lock()
		h.secrets[path] = raw
		h.mu.Unlock()
		ids = append(ids, out.ID)
	}
	return ids, nil
}

// drain waits until the count of received deliveries stops growing for quiet (longer
// than the server worker's longest pause, 5 s) or max passes, and reports deliveries, bad
// signatures and the lag from event to receipt.
func (h *hookReceiver) drain(ctx context.Context, max time.Duration) Result {
	const quiet = 7 * time.Second
	start := time.Now()
	last, still := h.got.Load(), time.Now()
	for time.Since(start) < max && ctx.Err() == nil && time.Since(still) < quiet {
		time.Sleep(200 * time.Millisecond)
		if n := h.got.Load(); n != last {
			last, still = n, time.Now()
		}
	}
	h.mu.Lock()
	lags := append([]time.Duration(nil), h.lags...)
	h.mu.Unlock()
	r := &recorder{name: "webhook deliveries (lag event→receipt)", unitName: "deliveries", lat: lags, start: start, end: time.Now()}
	r.units.Store(h.got.Load())
	if n := h.badSig.Load(); n > 0 {
		r.errors.Store(n)
		r.firstErr.Store("signature did not verify")
	}
	res := r.result()
	res.Seconds, res.PerSecond, res.UnitsPerSec = 0, 0, 0 // the phase is a wait, not a rate
	return res
}

func (h *hookReceiver) close(ctx context.Context, adminBase, token string, ids []string) {
	for _, id := range ids {
		_ = adminDo(ctx, "DELETE", adminBase+"/webhooks/"+id, token, nil, nil)
	}
	_ = h.srv.Close()
}

// adminBaseOf turns a SCIM base URL (…/scim/v2/TENANT) into the admin API's (…/api/v1).
func adminBaseOf(scimBase string) (string, error) {
	u, err := url.Parse(scimBase)
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host + "/api/v1", nil
}

func adminDo(ctx context.Context, method, u, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %.200s", method, u, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
