package store

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/lib/pq"
)

// PostgreSQL timeouts. A database that stops answering must give a bounded answer: lib/pq
// cancels a query on context end by sending a cancel request over a new connection, which
// a frozen server or a partitioned network never delivers, so the blocked read would wait
// for the kernel (minutes). Three bounds apply, each overridable in the URL:
//   - connect_timeout (seconds) bounds dialling and the start-up handshake;
//   - statement_timeout (a PostgreSQL setting, milliseconds or with a unit) makes the
//     server end slow statements with 57014;
//   - every read and write on the socket must make progress within statement_timeout
//     plus readSlack, else the connection fails with a timeout error (ErrUnavailable).
//
// Migrations and bulk loads (seed) run on their own pool without the statement and socket
// bounds: building an index or loading 50,000 rows may rightly take longer.
const (
	defaultConnectTimeout   = 5 * time.Second
	defaultStatementTimeout = 10 * time.Second
	readSlack               = 2 * time.Second
	tcpKeepAlive            = 15 * time.Second
)

// pgConnector builds the connector of the request pool from a parsed URL, with the
// defaults above filled in where the URL sets none.
func pgConnector(dsn string) (*pq.Connector, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	stmt := defaultStatementTimeout
	if v, ok := cfg.Runtime["statement_timeout"]; ok {
		d, err := parsePGDuration(v)
		if err != nil {
			return nil, fmt.Errorf("statement_timeout: %w", err)
		}
		stmt = d
	} else {
		cfg.Runtime["statement_timeout"] = strconv.FormatInt(stmt.Milliseconds(), 10)
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	io := time.Duration(0) // statement_timeout 0 disables the server's bound: then ours too
	if stmt > 0 {
		io = stmt + readSlack
	}
	c.Dialer(pgDialer{connect: cfg.ConnectTimeout, io: io})
	return c, nil
}

// unboundedPool opens a pool without statement or socket bounds, for migrations and bulk
// loads.
func unboundedPool(dsn string) (*sql.DB, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	cfg.Runtime["statement_timeout"] = "0"
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.Dialer(pgDialer{connect: cfg.ConnectTimeout})
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(2)
	return db, nil
}

// parsePGDuration reads a PostgreSQL time setting: a bare number is milliseconds; Go
// duration units ("10s", "500ms") are accepted too.
func parsePGDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (milliseconds or e.g. 10s)", v)
	}
	return d, nil
}

// pgDialer dials with TCP keep-alives and wraps each connection so that reads and writes
// time out (see the package constants).
type pgDialer struct {
	connect time.Duration
	io      time.Duration
}

func (d pgDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d pgDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d pgDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.connect, KeepAliveConfig: net.KeepAliveConfig{Enable: true,
		Idle: tcpKeepAlive, Interval: tcpKeepAlive / 3, Count: 3}, Control: tcpUserTimeout(d.io)}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil || d.io <= 0 {
		return c, err
	}
	return &deadlineConn{Conn: c, timeout: d.io}, nil
}

// deadlineConn fails a read or write that makes no progress within timeout. lib/pq reads
// only while it awaits an answer, so an idle pooled connection never times out.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
	// hard is the deadline lib/pq set for the start-up handshake (connect_timeout), or
	// zero; lib/pq uses a connection from one goroutine at a time.
	hard time.Time
}

func (c *deadlineConn) deadline() time.Time {
	t := time.Now().Add(c.timeout)
	if !c.hard.IsZero() && c.hard.Before(t) {
		return c.hard
	}
	return t
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(c.deadline()); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(c.deadline()); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// SetDeadline is how lib/pq bounds the start-up handshake (connect_timeout); reads and
// writes combine it with their own.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.hard = t
	return c.Conn.SetDeadline(t)
}
