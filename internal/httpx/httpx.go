// Package httpx holds the small HTTP helpers shared by Seatbridge's doors (SCIM, admin API,
// console, sign-in pages): JSON writers, request IDs, client IPs, per-key rate limits, page
// headers, the return-to guard and the session cookie format. It owns no protocol and no
// policy, and imports nothing but the standard library.
package httpx

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WriteJSON encodes v as the response body with the given status and content type
// (application/json when empty). Encoding happens before the header is written so that a
// value that cannot be encoded still gets a clean 500 instead of a half-written body.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	if contentType == "" {
		contentType = "application/json"
	}
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("httpx: encode response", "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"internal error"}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", contentType+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// RequestIDHeader is the header a request ID is read from and echoed in.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the caller's request ID when it is short and printable (so it can go
// into logs verbatim), else a fresh random one.
func RequestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && len(id) <= 128 && printable(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// ClientIP returns the address of the client. With trustForwarded (only behind a proxy
// that overwrites the header) the left-most X-Forwarded-For entry wins; otherwise the
// connection's peer address, because a client can put anything into that header.
func ClientIP(r *http.Request, trustForwarded bool) string {
	if trustForwarded {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RateLimiter is a set of token buckets keyed by a string (a token ID, an IP). The zero
// value is not usable; use NewRateLimiter. It is safe for concurrent use. Limits are
// per process: with several replicas each enforces its own share.
type RateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a limiter allowing perSecond requests a second with bursts of
// burst. perSecond <= 0 disables limiting.
func NewRateLimiter(perSecond float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = 1
	}
	return &RateLimiter{rate: perSecond, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. When none is left it returns false and how
// long until the next token (for Retry-After).
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// Wait reports how long until key's bucket holds a token, without taking one: zero when
// Allow would succeed now. It lets a door refuse a caller whose failures (say, invalid
// tokens) used up its bucket before doing any work for it.
func (l *RateLimiter) Wait(key string) time.Duration {
	if l == nil || l.rate <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	tokens := min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// gc drops full buckets now and then so that the map does not grow with every key ever
// seen.
func (l *RateLimiter) gc(now time.Time) {
	if now.Sub(l.sweep) < time.Minute {
		return
	}
	l.sweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// RetryAfterSeconds rounds a wait up to whole seconds (at least 1) for a Retry-After header.
func RetryAfterSeconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
