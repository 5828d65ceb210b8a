package webhook_test

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/webhook"
)

type resolverMap map[string][]string

func (m resolverMap) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range m[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// TestURLGuard: a URL is refused at registration when its host is, or resolves to any,
// address the delivery client refuses; public ones pass.
func TestURLGuard(t *testing.T) {
	g := webhook.URLGuard{Resolver: resolverMap{
		"public.example":  {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"mixed.example":   {"93.184.215.14", "192.168.1.10"},
		"rebind.example":  {"127.0.0.1"},
		"metadata.google": {"169.254.169.254"},
		"cgnat.example":   {"100.64.0.1"},
		"mapped.example":  {"::ffff:10.0.0.1"},
	}}
	for _, c := range []struct {
		url  string
		want string // "" = accepted
	}{
		{"https://public.example/hook", ""},
		{"https://93.184.215.14/hook", ""},
		{"https://mixed.example/hook", "resolves to a private"},
		{"https://rebind.example/hook", "resolves to a private"},
		{"http://metadata.google/computeMetadata", "resolves to a private"},
		{"https://cgnat.example/", "resolves to a private"},
		{"https://mapped.example/", "resolves to a private"},
		{"http://127.0.0.1:8080/", "private, loopback or link-local"},
		{"http://[fe80::1]/", "private, loopback or link-local"},
		{"http://0.0.0.0/", "private, loopback or link-local"},
		{"https://unknown.example/", "could not be resolved"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		err = g.Check(context.Background(), u)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.url, err, c.want)
		}
	}
}
