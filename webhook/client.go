package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
)

// ErrForbiddenAddress is returned when an outbound request would reach an address the
// guard refuses (loopback, private, link-local, …).
var ErrForbiddenAddress = errors.New("destination address not allowed")

// ClientOptions configures the outbound client.
type ClientOptions struct {
	// AllowPrivate lets requests reach loopback and private addresses (tests, private
	// networks). Off by default: a tenant admin must not be able to make Seatbridge
	// call its own internal services.
	AllowPrivate bool
	// Timeout bounds a whole request (default 10 s).
	Timeout time.Duration
}

// NewClient returns an HTTP client for outbound deliveries. The guard runs in the
// dialer's Control hook, on the address actually dialed after DNS resolution, so a host
// name that resolves (or re-resolves) to a private address is refused as well; proxies
// from the environment are ignored and redirects are not followed, as both would bypass
// it.
func NewClient(o ClientOptions) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if !httpx.PublicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: true,
		// Keep-alive for every parallel sender of a worker (Worker.Parallel) to one
		// receiver: fewer idle connections than senders would close and re-dial some
		// after every batch.
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
	}
	return &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// URLGuard refuses, when an endpoint is registered, a URL whose host is or resolves to an
// address the client (without AllowPrivate) refuses to dial: the same rule, told to the
// admin at once instead of as failed deliveries. It is provisioning.Webhooks.CheckURL. A
// host that resolves to a public address now may re-resolve later; the dialer's guard
// still holds then.
type URLGuard struct {
	// Resolver looks host names up (default net.DefaultResolver).
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// Check returns an error that reads well after "url ": the reason the URL is refused.
func (g URLGuard) Check(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if !httpx.PublicAddr(a) {
			return errors.New("points to a private, loopback or link-local address, which webhooks may not reach")
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("host %q could not be resolved", host)
	}
	for _, a := range addrs {
		if !httpx.PublicAddr(a) {
			return fmt.Errorf("host %q resolves to a private, loopback or link-local address, which webhooks may not reach", host)
		}
	}
	return nil
}
