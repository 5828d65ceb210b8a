package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// FetchOptions bound an outbound GET.
type FetchOptions struct {
	// MaxBytes caps the body (default 1 MiB); a longer body is an error, never truncated.
	MaxBytes int64
	// Timeout bounds the whole exchange (default 10 s).
	Timeout time.Duration
	// AllowPrivate lets the request reach loopback, private, link-local and other
	// non-public addresses. Only the operator's CLI (and tests) set it: a URL typed by a
	// tenant admin must never reach the server's own network (SSRF).
	AllowPrivate bool
}

// FetchError is a refused or failed fetch; Reason is safe to show to the caller.
type FetchError struct{ Reason string }

func (e *FetchError) Error() string { return "fetch: " + e.Reason }

// errBlockedAddress is returned by the dialer's control hook for a non-public address.
var errBlockedAddress = errors.New("address not allowed")

// Fetch GETs an http(s) URL with a bounded time and size. Unless AllowPrivate, every
// connection (the first and each redirect's, after DNS resolution, so rebinding cannot
// slip past) is refused when its address is not a public unicast one. At most 3 redirects
// are followed.
func Fetch(ctx context.Context, rawURL string, o FetchOptions) ([]byte, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if err := checkFetchURL(rawURL); err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: o.Timeout}
	if !o.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !PublicAddr(ap.Addr()) {
				return errBlockedAddress
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: o.Timeout, ResponseHeaderTimeout: o.Timeout,
		MaxResponseHeaderBytes: 64 << 10, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return &FetchError{Reason: "too many redirects"}
		}
		return checkFetchURL(req.URL.String())
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &FetchError{Reason: "not a valid URL"}
	}
	resp, err := client.Do(req)
	if err != nil {
		var fe *FetchError
		switch {
		case errors.As(err, &fe):
			return nil, fe
		case errors.Is(err, errBlockedAddress):
			return nil, &FetchError{Reason: "the URL points to a private or local address"}
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			return nil, &FetchError{Reason: "the server did not answer in time"}
		}
		return nil, &FetchError{Reason: "the server could not be reached"}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &FetchError{Reason: fmt.Sprintf("the server answered HTTP %d", resp.StatusCode)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxBytes+1))
	if err != nil {
		return nil, &FetchError{Reason: "the response could not be read"}
	}
	if int64(len(b)) > o.MaxBytes {
		return nil, &FetchError{Reason: fmt.Sprintf("the response is larger than %d bytes", o.MaxBytes)}
	}
	return b, nil
}

func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return &FetchError{Reason: "want an http(s) URL without credentials"}
	}
	return nil
}

// PublicAddr reports whether a is a public unicast address: not loopback, private,
// link-local (cloud metadata lives there), multicast, unspecified, CGNAT or IPv4-mapped
// forms of those.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are the ranges refused besides what netip classifies (loopback, private,
// link-local, multicast, unspecified): each can reach, or embed, an address that is not a
// public destination.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: embeds an IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("fd00:ec2::/32"),  // AWS IPv6 metadata
}
