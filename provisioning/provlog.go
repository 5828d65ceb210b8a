package provisioning

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ProvisioningLogEntry is one SCIM request and its response as the tenant's IT admin sees
// it in the provisioning log: bodies redacted (passwords, secrets, tokens) and capped.
type ProvisioningLogEntry struct {
	ID        int64     `json:"id"`
	TenantID  string    `json:"-"`
	At        time.Time `json:"at"`
	TokenID   string    `json:"tokenId,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	LatencyMS float64   `json:"latencyMs"`
	SCIMType  string    `json:"scimType,omitempty"`
	Error     string    `json:"error,omitempty"`
	Request   string    `json:"request,omitempty"`
	Response  string    `json:"response,omitempty"`
	// RawRequest and RawResponse are the captured bodies handed to Record; the writer
	// redacts them into Request and Response off the request path and drops them.
	RawRequest  []byte `json:"-"`
	RawResponse []byte `json:"-"`
}

// MaxCapturedBody is how much of a body a door captures for the log; a longer body is
// logged by its size only.
const MaxCapturedBody = 64 << 10

// finish redacts the raw bodies and reads the SCIM error of a failed response. A
// successful read keeps only its number of results: a directory looks every user up
// before it writes, and copying each returned user into the log multiplied the personal
// data kept for the log's retention, and its cost (a third of the server's CPU per
// lookup, a quarter of PostgreSQL's), for a body the admin can ask for again. The path
// keeps the filter, so the log still shows what was asked and whether it was found.
func (e *ProvisioningLogEntry) finish() {
	if e.Method == "GET" && e.Status < 400 {
		e.Request, e.Response = "", readSummary(e.RawResponse)
	} else if e.RawRequest != nil || e.RawResponse != nil {
		e.Request, e.Response = RedactBody(e.RawRequest), RedactBody(e.RawResponse)
		if e.Status >= 400 {
			var se struct {
				ScimType string `json:"scimType"`
				Detail   string `json:"detail"`
			}
			if json.Unmarshal(e.RawResponse, &se) == nil {
				e.SCIMType, e.Error = se.ScimType, capBody(redactString(se.Detail))
			}
		}
	}
	e.RawRequest, e.RawResponse = nil, nil
}

// readSummary is what the log keeps of a successful read: {"totalResults":N} of a list
// response (the member near its start), nothing of a single resource.
func readSummary(body []byte) string {
	const key = `"totalResults":`
	head := body[:min(len(body), 512)]
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return ""
	}
	digits := head[i+len(key):]
	n := 0
	for n < len(digits) && n < 19 && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	if n == 0 {
		return ""
	}
	return `{"totalResults":` + string(digits[:n]) + `}`
}

// ProvisioningLogQuery filters the log; zero fields do not filter.
type ProvisioningLogQuery struct {
	TokenID string
	Method  string
	// Status: "error" (>= 400), "ok" (< 400) or an exact code.
	Status string
	Since  time.Time
	Limit  int
}

// MaxLoggedBody is how much of each body the log keeps (after redaction).
const MaxLoggedBody = 4 << 10

// Redacted replaces secret values in logged bodies.
const Redacted = "[redacted]"

// sensitiveKeys are JSON member names (compared case-insensitively, SCIM URN prefixes
// removed) whose values are never logged.
var sensitiveKeys = map[string]bool{"password": true, "secret": true, "clientsecret": true, "client_secret": true,
	"token": true, "access_token": true, "refresh_token": true, "authorization": true, "apikey": true, "api_key": true}

// RedactBody returns body with every sensitive member's value replaced and cut to
// MaxLoggedBody. A body that is not JSON is kept only as its length: it might hold
// anything.
func RedactBody(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if len(body) >= MaxCapturedBody {
		return "(" + itoa(len(body)) + "+ bytes, too large to log)"
	}
	if !mayNeedRedaction(body) {
		// Nothing in it could be redacted: compacting is a fraction of the cost of decoding
		// and re-encoding, which took a seventh of the server's CPU on lookups. Members keep
		// the order they were sent or answered in.
		var out bytes.Buffer
		if err := json.Compact(&out, body); err != nil {
			return "(" + itoa(len(body)) + " bytes, not JSON)"
		}
		return capBody(out.String())
	}
	if err := dec.Decode(&v); err != nil {
		return "(" + itoa(len(body)) + " bytes, not JSON)"
	}
	v = redactValue(v, "")
	out, err := json.Marshal(v)
	if err != nil {
		return "(" + itoa(len(body)) + " bytes)"
	}
	return capBody(string(out))
}

// redactionHints are lower-case substrings of which a body needs at least one for
// redactValue to change it: every sensitive key contains one, and so does every value
// redactString hides. A JSON escape (\u0070assword) could spell one without containing
// it, so a body with a backslash-u escape always takes the full path.
var redactionHints = []string{"password", "secret", "token", "authorization", "apikey", "api_key", "bearer",
	strings.ToLower(TokenPrefix), strings.ToLower(SetupLinkPrefix), `\u`}

// mayNeedRedaction reports whether redactValue might change body.
func mayNeedRedaction(body []byte) bool {
	lower := bytes.ToLower(body)
	for _, h := range redactionHints {
		if bytes.Contains(lower, []byte(h)) {
			return true
		}
	}
	return false
}

func redactValue(v any, key string) any {
	if sensitive(key) {
		return Redacted
	}
	switch x := v.(type) {
	case map[string]any:
		// A PATCH operation names its target in "path": {"op":"replace","path":"password","value":"…"}.
		if p, ok := x["path"].(string); ok && sensitive(p) {
			if _, has := x["value"]; has {
				x["value"] = Redacted
			}
		}
		for k, val := range x {
			x[k] = redactValue(val, k)
		}
		return x
	case []any:
		for i := range x {
			x[i] = redactValue(x[i], "")
		}
		return x
	case string:
		return redactString(x)
	}
	return v
}

// sensitive reports whether a member name or PATCH path names a secret.
func sensitive(key string) bool {
	if key == "" {
		return false
	}
	k := strings.ToLower(key)
	if i := strings.LastIndexAny(k, ":."); i >= 0 {
		k = k[i+1:]
	}
	return sensitiveKeys[k]
}

// redactString hides bearer tokens that appear inside a value.
func redactString(s string) string {
	if strings.Contains(s, TokenPrefix) || strings.Contains(s, SetupLinkPrefix) || strings.HasPrefix(strings.ToLower(s), "bearer ") {
		return Redacted
	}
	return s
}

func capBody(s string) string {
	if len(s) <= MaxLoggedBody {
		return s
	}
	cut := MaxLoggedBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// ProvisioningLog buffers log entries off the request path and writes them in batches:
// Record never waits on the database. Entries reach the database within FlushEvery, or
// sooner when a batch fills; Close writes what is left. Nothing is dropped: when the
// buffer is full (the database is far behind) Record waits for room, and a batch whose
// write fails is retried on the next ticks before it is given up with an error log.
type ProvisioningLog struct {
	store      Store
	log        *slog.Logger
	ch         chan ProvisioningLogEntry
	done       chan struct{}
	flushEvery time.Duration
	batch      int
	closeOnce  sync.Once
	// mu orders Record against Close: requests still running when the server stops (a
	// shutdown timeout cuts them) must never send on the closed channel, and an entry sent
	// before Close is still written by the writer's last flush.
	mu     sync.RWMutex
	closed bool
}

// NewProvisioningLog starts the writer. flushEvery defaults to 250 ms.
func NewProvisioningLog(e *Engine, flushEvery time.Duration) (*ProvisioningLog, error) {
	s := e.Store
	if flushEvery <= 0 {
		flushEvery = 250 * time.Millisecond
	}
	l := &ProvisioningLog{store: s, log: e.Log, ch: make(chan ProvisioningLogEntry, 8192), done: make(chan struct{}),
		flushEvery: flushEvery, batch: 200}
	go l.run()
	return l, nil
}

// Record queues an entry. It waits only when 8192 entries are already queued. After
// Close it writes the entry itself, so a request that outlives the writer is still logged.
func (l *ProvisioningLog) Record(e ProvisioningLogEntry) {
	l.mu.RLock()
	if !l.closed {
		l.ch <- e // the writer drains until Close has the lock, so this cannot block forever
		l.mu.RUnlock()
		return
	}
	l.mu.RUnlock()
	e.finish()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.store.AppendProvisioningLog(ctx, []ProvisioningLogEntry{e}); err != nil {
		l.log.Error("provisioning log: entry after close not written", "err", err)
	}
}

// Close writes the buffered entries and stops the writer.
func (l *ProvisioningLog) Close() {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.ch)
		l.mu.Unlock()
		<-l.done
	})
}

func (l *ProvisioningLog) run() {
	defer close(l.done)
	t := time.NewTicker(l.flushEvery)
	defer t.Stop()
	buf := make([]ProvisioningLogEntry, 0, l.batch)
	failures := 0
	flush := func() {
		if len(buf) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := l.store.AppendProvisioningLog(ctx, buf)
		cancel()
		if err != nil && failures < 3 {
			failures++
			l.log.Warn("provisioning log: write batch, will retry", "entries", len(buf), "err", err)
			return
		}
		if err != nil {
			l.log.Error("provisioning log: batch given up", "entries", len(buf), "err", err)
		}
		failures = 0
		buf = buf[:0]
	}
	for {
		select {
		case e, ok := <-l.ch:
			if !ok {
				flush()
				return
			}
			e.finish()
			buf = append(buf, e)
			if len(buf) >= l.batch && failures == 0 {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

// ListProvisioningLog reads a tenant's log, newest first.
func (e *Engine) ListProvisioningLog(ctx context.Context, tenantID string, q ProvisioningLogQuery) ([]ProvisioningLogEntry, error) {
	s := e.Store
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	return s.ListProvisioningLog(ctx, tenantID, q)
}

// PurgeProvisioningLog deletes entries older than the retention.
func (e *Engine) PurgeProvisioningLog(ctx context.Context, retention time.Duration) (int64, error) {
	s := e.Store
	return s.PurgeProvisioningLog(ctx, e.now().Add(-retention))
}
