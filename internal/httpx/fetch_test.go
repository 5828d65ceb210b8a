package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true}, {"2606:4700::1111", true},
		{"127.0.0.1", false}, {"10.1.2.3", false}, {"192.168.0.1", false}, {"172.16.0.1", false},
		{"169.254.169.254", false}, {"::1", false}, {"fe80::1", false}, {"fd00::1", false},
		{"::ffff:127.0.0.1", false}, {"0.0.0.0", false}, {"100.64.0.1", false}, {"64:ff9b::a00:1", false},
	} {
		if got := PublicAddr(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("PublicAddr(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/ok":
			_, _ = w.Write([]byte("hello"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var fe *FetchError
	// The test server is on loopback: refused unless the caller allows private addresses.
	if _, err := Fetch(ctx, srv.URL+"/ok", FetchOptions{}); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "private") {
		t.Fatalf("loopback fetch: %v", err)
	}
	open := FetchOptions{AllowPrivate: true, MaxBytes: 1024}
	if b, err := Fetch(ctx, srv.URL+"/redirect", open); err != nil || string(b) != "hello" {
		t.Fatalf("fetch: %q %v", b, err)
	}
	if _, err := Fetch(ctx, srv.URL+"/big", open); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "larger") {
		t.Fatalf("big: %v", err)
	}
	if _, err := Fetch(ctx, srv.URL+"/missing", open); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "404") {
		t.Fatalf("404: %v", err)
	}
	for _, u := range []string{"file:///etc/passwd", "gopher://x", "http://user:pw@example.com/", "/relative"} {
		if _, err := Fetch(ctx, u, open); !errors.As(err, &fe) {
			t.Fatalf("%s: %v", u, err)
		}
	}
}
