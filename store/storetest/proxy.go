package storetest

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/seatbridge/seatbridge/store"
)

// Proxy is a TCP proxy in front of the test PostgreSQL server that a test can break the
// way outages break a database, without touching the shared server: Drop closes every
// connection and refuses new ones (a server stopped or restarting), Freeze keeps
// connections open but forwards nothing (a hung server or a network partition), Heal
// returns to forwarding.
type Proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	// trips counts round trips (Trips).
	trips atomic.Int64

	mu     sync.Mutex
	mode   proxyMode
	conns  map[net.Conn]bool
	thawed chan struct{} // closed when a freeze ends
}

type proxyMode int

const (
	proxyForward proxyMode = iota
	proxyDrop
	proxyFreeze
)

// NewProxy listens on a loopback port and forwards to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}, thawed: make(chan struct{})}
	close(p.thawed)
	go p.accept()
	t.Cleanup(func() {
		p.Heal()
		ln.Close()
		p.closeAll()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Drop closes every open connection and refuses new ones until Heal.
func (p *Proxy) Drop() {
	p.set(proxyDrop)
	p.closeAll()
}

// Freeze stops forwarding bytes in both directions (connections stay open and new ones
// are accepted but get no answer) until Heal.
func (p *Proxy) Freeze() { p.set(proxyFreeze) }

// Trips is how many round trips clients began: a burst of bytes from a client after its
// server last spoke (or first on its connection). On PostgreSQL's protocol, where a
// client waits for each answer, that is the number of round trips whatever the chunking.
func (p *Proxy) Trips() int64 { return p.trips.Load() }

// Heal forwards again.
func (p *Proxy) Heal() { p.set(proxyForward) }

func (p *Proxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyFreeze && m != proxyFreeze {
		close(p.thawed)
	}
	if m == proxyFreeze && p.mode != proxyFreeze {
		p.thawed = make(chan struct{})
	}
	p.mode = m
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyDrop {
		return false
	}
	p.conns[c] = true
	return true
}

// gate blocks while the proxy is frozen; it reports false when the proxy drops.
func (p *Proxy) gate() bool {
	p.mu.Lock()
	m, thawed := p.mode, p.thawed
	p.mu.Unlock()
	if m == proxyFreeze {
		<-thawed
		p.mu.Lock()
		m = p.mode
		p.mu.Unlock()
	}
	return m != proxyDrop
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	var d net.Dialer
	server, err := d.DialContext(context.Background(), "tcp", p.target)
	if err != nil || !p.track(server) {
		client.Close()
		if server != nil {
			server.Close()
		}
		return
	}
	var clientSpoke atomic.Bool // the last bytes came from the client
	pipe := func(dst, src net.Conn, fromClient bool) {
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !p.gate() {
					return
				}
				if fromClient && !clientSpoke.Swap(true) {
					p.trips.Add(1)
				} else if !fromClient {
					clientSpoke.Store(false)
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					return
				}
				return
			}
		}
	}
	go pipe(server, client, true)
	pipe(client, server, false)
}

// OpenPostgresProxied returns a migrated PostgreSQL database (as OpenPostgres) reached
// through a Proxy, with params added to its URL (connect_timeout, statement_timeout, …).
func OpenPostgresProxied(t testing.TB, params url.Values) (*store.DB, *Proxy) {
	t.Helper()
	_, u := openPostgres(t) // creates and migrates the schema
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	host := u.Hostname()
	if host == "" {
		host = "127.0.0.1"
	}
	p := NewProxy(t, net.JoinHostPort(host, port))
	u.Host = p.Addr()
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	db, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatalf("open postgres through proxy: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, p
}
