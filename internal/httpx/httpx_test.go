package httpx

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewRateLimiter(2, 3, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d refused within burst", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th request: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("other key limited")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refill did not happen")
	}
	if got := RetryAfterSeconds(1500 * time.Millisecond); got != "2" {
		t.Fatalf("RetryAfterSeconds = %s", got)
	}
}

func TestRequestIDAndClientIP(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(RequestIDHeader, "abc-1")
	if RequestID(r) != "abc-1" {
		t.Fatal("request id not kept")
	}
	r.Header.Set(RequestIDHeader, "bad id\n")
	if id := RequestID(r); id == "bad id\n" || len(id) != 24 {
		t.Fatalf("unsafe id kept: %q", id)
	}
	r.RemoteAddr = "10.0.0.1:1234"
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 10.0.0.1")
	if ClientIP(r, false) != "10.0.0.1" || ClientIP(r, true) != "1.2.3.4" {
		t.Fatal("client ip")
	}
}
