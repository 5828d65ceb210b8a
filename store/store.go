// Package store persists Seatbridge's domain in SQL: one implementation of
// provisioning.Store on github.com/jmoiron/sqlx over two dialects, SQLite (modernc.org/sqlite,
// the embedded default) and PostgreSQL (github.com/lib/pq). It knows SQL, not policy; driver
// errors are mapped to the provisioning error vocabulary here, once.
//
// It imports provisioning only: never scim, sso or admin.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/seatbridge/seatbridge/provisioning"
)

func init() {
	// modernc registers itself as "sqlite", a name sqlx does not know: without this,
	// Rebind would leave '?' alone for it by accident rather than by design.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

//go:embed migrations
var migrations embed.FS

// Dialect names a supported SQL database.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the SQL implementation of provisioning.Store.
type DB struct {
	*conn
	dialect Dialect
	// read serves queries outside transactions; write serves transactions. On PostgreSQL
	// they are the same pool. On SQLite write has a single connection that begins
	// IMMEDIATE transactions, so writers queue in Go instead of spinning on SQLITE_BUSY,
	// while WAL lets the read pool run beside them.
	read  *sqlx.DB
	write *sqlx.DB
	// Prepared statements per pool: modernc's SQLite re-parses every unprepared statement
	// (a quarter of the CPU of a SCIM create), and lib/pq spends an extra round trip on
	// every unprepared query with arguments.
	readStmts  *stmtCache
	writeStmts *stmtCache
	// batcher groups concurrent SQLite transactions into one commit (nil on PostgreSQL).
	batcher *groupCommitter
	// dsn opens PostgreSQL's pool without timeouts, for migrations and seed.
	dsn string
	// writeFailedAt is when a write last failed for want of the database (unix ns), zero
	// once one commits again.
	writeFailedAt atomic.Int64
	// eventHooks and logoutHooks are called after a commit that wrote events or queued
	// back-channel logouts (OnEvents, OnLogouts).
	eventHooks, logoutHooks hooks
}

// hooks is a list of functions that commits call without taking a lock.
type hooks struct {
	mu   sync.Mutex
	list atomic.Pointer[[]func()]
}

func (h *hooks) add(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var hs []func()
	if p := h.list.Load(); p != nil {
		hs = append(hs, *p...)
	}
	hs = append(hs, fn)
	h.list.Store(&hs)
}

func (h *hooks) call() {
	if p := h.list.Load(); p != nil {
		for _, fn := range *p {
			fn()
		}
	}
}

// OnEvents registers fn to be called (synchronously, so it must not block) after every
// commit that wrote events, so that workers of this process wake at once instead of at
// their next poll. Other replicas' workers still find the events by polling.
func (db *DB) OnEvents(fn func()) { db.eventHooks.add(fn) }

// OnLogouts is OnEvents for commits that queued back-channel logouts: most changes
// write events, few log anybody out, and the logout sender need not look each time.
func (db *DB) OnLogouts(fn func()) { db.logoutHooks.add(fn) }

// committed wakes the workers of what a committed transaction wrote.
func (db *DB) committed(events, logouts bool) {
	if events {
		db.eventHooks.call()
	}
	if logouts {
		db.logoutHooks.call()
	}
}

var _ provisioning.Store = (*DB)(nil)

// Open connects to the database named by rawURL: "sqlite:PATH" (or "sqlite://PATH",
// "file:PATH") or "postgres://…" / "postgresql://…". It does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "file:"), "//")
		return openSQLite(ctx, path)
	default:
		return nil, fmt.Errorf("database URL %q: want sqlite:PATH or postgres://…", redactURL(rawURL))
	}
}

// sqliteWritePragmas tune the one write connection for group commit: a batch of 64
// creates dirties more pages than SQLite's default 2 MB cache holds, which spilled them
// to the WAL mid-transaction (page writes that a commit would have merged), and savepoint
// journals of a batch went to temporary files. Spilling is turned off rather than the
// cache made large enough to avoid it: a batch's dirty pages stay in memory until its
// commit whatever the cache size, and an 8 MB cache of clean pages keeps the server
// within its memory budget (a 32 MB cache took the peak of a 10,000-user sync from 35 MB
// to 150 MB with the collector's headroom; 95 MB now, with the same write volume).
const sqliteWritePragmas = "&_pragma=cache_size(-8192)&_pragma=cache_spill(0)&_pragma=temp_store(MEMORY)"

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// A URI filename ends at '#' and '?' and decodes %XX: escape those so that any path
	// names the file it says.
	uriPath := strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f").Replace(path)
	base := "file:" + uriPath + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_pragma=case_sensitive_like(1)&_time_format=sqlite"
	read, err := sqlx.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write, err := sqlx.Open("sqlite", base+"&_txlock=immediate"+sqliteWritePragmas)
	if err != nil {
		read.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read.SetMaxOpenConns(8)
	// database/sql keeps only two idle connections by default: the other six would be
	// closed and reopened (file open, pragmas, WAL set-up) on every burst of reads.
	read.SetMaxIdleConns(8)
	read.SetConnMaxIdleTime(0)
	db := &DB{dialect: SQLite, read: read, write: write, readStmts: newStmtCache(read), writeStmts: newStmtCache(write)}
	db.conn = &conn{ext: read, d: SQLite, stmts: db.readStmts}
	// The write connection must come first: it creates the file and switches it to WAL,
	// which a query_only connection cannot.
	if err := write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.batcher = startGroupCommitter(db)
	return db, nil
}

// poolSize is the most PostgreSQL connections a replica opens: the URL's pool_max_conns
// (pgx's name for it), else four per core of this process and at least eight. More
// connections than the cores can keep busy only add backends that contend for the same
// index pages and locks: a 10,000-user sync on two cores ran 6 % faster with eight than
// with 32 (seven alternating rounds; the load held eight requests in flight).
func poolSize(q url.Values) (int, error) {
	v := q.Get("pool_max_conns")
	if v == "" {
		return max(8, 4*runtime.GOMAXPROCS(0)), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0, fmt.Errorf("pool_max_conns=%q: want a whole number of at least 2", v)
	}
	return n, nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", errors.New("cannot parse postgres URL"))
	}
	q := u.Query()
	maxConns, err := poolSize(q)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	q.Del("pool_max_conns") // ours, not a PostgreSQL setting: the server would refuse it
	u.RawQuery = q.Encode()
	if q.Get("sslmode") == "" && isLocalHost(u.Hostname()) {
		// lib/pq defaults to sslmode=require, which a local server without TLS refuses.
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	connector, err := pgConnector(u.String())
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redactURL(rawURL), err)
	}
	pool := sqlx.NewDb(sql.OpenDB(connector), "postgres")
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", redactURL(rawURL), err)
	}
	cache := newStmtCache(pool)
	db := &DB{dialect: Postgres, read: pool, write: pool, readStmts: cache, writeStmts: cache, dsn: u.String()}
	db.conn = &conn{ext: pool, d: Postgres, stmts: cache}
	return db, nil
}

func isLocalHost(h string) bool {
	return h == "" || h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "/")
}

// redactURL hides a password in a DSN so that it can appear in errors and logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL exposes the write pool to packages that need raw access in tests and tools.
func (db *DB) SQL() *sqlx.DB { return db.write }

// Ping reports whether the database answers, by ctx's deadline even when a frozen server
// leaves the driver blocked (that goroutine ends with the socket timeouts of pgDialer). On
// SQLite it also fails while writes fail (a full disk, I/O errors): reads alone would
// still answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writeHealth(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- db.ping(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("ping database: %w: %w", provisioning.ErrUnavailable, ctx.Err())
	}
}

func (db *DB) ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", mapErr(err))
	}
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", mapErr(err))
	}
	return nil
}

// writeFailWindow is how long a failed write keeps Ping failing when no write has
// succeeded since: long enough for a load balancer to notice, short enough that a
// replica taken out of rotation (and so receiving no writes) is tried again.
const writeFailWindow = 30 * time.Second

// noteWrite records the outcome of a write transaction for Ping: failures of the
// database (ErrUnavailable) mark it, a commit clears it.
func (db *DB) noteWrite(err error) {
	switch {
	case err == nil:
		db.writeFailedAt.Store(0)
	case errors.Is(err, provisioning.ErrUnavailable):
		db.writeFailedAt.Store(time.Now().UnixNano())
	}
}

func (db *DB) writeHealth() error {
	at := db.writeFailedAt.Load()
	if at != 0 && time.Since(time.Unix(0, at)) < writeFailWindow {
		return fmt.Errorf("ping database: %w: the last write failed", provisioning.ErrUnavailable)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.batcher != nil {
		db.batcher.close()
	}
	db.readStmts.close()
	if db.writeStmts != db.readStmts {
		db.writeStmts.close()
	}
	err := db.read.Close()
	if db.write != db.read {
		err = errors.Join(err, db.write.Close())
	}
	return err
}

// InTx runs fn in one transaction. A transaction that loses a serialisation race on
// PostgreSQL is not retried here: the engine's statements are written so that row locks,
// not retries, order concurrent writers.
func (db *DB) InTx(ctx context.Context, fn func(provisioning.Tx) error) (err error) {
	var events, logouts bool
	if db.batcher != nil {
		return db.batcher.run(ctx, fn)
	}
	// The transaction begins at its first statement (conn.ready), and one that only
	// writes at its end runs as a single statement (onetrip.go).
	c := &conn{d: db.dialect, inTx: true, lazy: db, stmts: db.writeStmts}
	defer func() {
		tx := c.tx
		if p := recover(); p != nil {
			if tx != nil {
				_ = tx.Rollback()
			}
			panic(p)
		}
		if err != nil {
			if tx != nil {
				_ = tx.Rollback()
			}
			return
		}
		if tx != nil {
			if cerr := tx.Commit(); cerr != nil {
				err = fmt.Errorf("commit: %w", mapErr(cerr))
				return
			}
		}
		db.committed(events, logouts)
	}()
	if err := fn(c); err != nil {
		return err
	}
	events, logouts = len(c.events) > 0, c.queuedLogout
	return c.flushEvents(ctx)
}

// Migrations returns the embedded migration files of a dialect, for tests that compare them.
func Migrations(d Dialect) (fs.FS, error) {
	return fs.Sub(migrations, "migrations/"+string(d))
}

// Migrate brings the schema up to date. On PostgreSQL an advisory lock makes concurrent
// replicas starting at once take turns.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := Migrations(db.dialect)
	if err != nil {
		return err
	}
	// Migrations are numbered per feature and may land out of order from parallel work: a
	// database that already has 00004 still gets a later-merged 00003.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	pool := db.write.DB
	if db.dialect == Postgres {
		if pool, err = unboundedPool(db.dsn); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		defer pool.Close()
	}
	p, err := goose.NewProvider(dialect, pool, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// conn runs queries on a pool or inside a transaction; it implements provisioning.Tx.
type conn struct {
	ext   sqlx.ExtContext
	d     Dialect
	inTx  bool
	tx    *sqlx.Tx
	stmts *stmtCache
	// events buffers the transaction's events until flushEvents, just before commit.
	events []*provisioning.Event
	// audits and logouts buffer a PostgreSQL transaction's audit events and back-channel
	// logouts for flushEvents too.
	audits  []*provisioning.AuditEvent
	logouts []*provisioning.LogoutRequest
	// queuedLogout tells that the transaction queued a back-channel logout (both
	// databases), so its commit wakes the logout sender.
	queuedLogout bool
	// lazy is the database whose write pool begins this transaction at its first
	// statement (ready); nil once begun, or when not lazy.
	lazy *DB
	// deferred is a write waiting for the transaction's next statement or its end.
	deferred *oneTrip
	// shared marks a transaction that carries several callers' work (SQLite group
	// commit): its statements ignore the cancellation of the caller's context, because
	// modernc's SQLite interrupts the whole connection when a context ends, which rolls
	// back every caller's work in the transaction, not just the one that gave up.
	shared bool
}

// stmtCtx is the context a statement runs with: the caller's, detached from its
// cancellation in a shared transaction.
func (c *conn) stmtCtx(ctx context.Context) context.Context {
	if c.shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

var _ provisioning.Tx = (*conn)(nil)

func (c *conn) rebind(q string) string {
	if c.d == Postgres {
		return sqlx.Rebind(sqlx.DOLLAR, q)
	}
	return q
}

// stmt returns a prepared statement for q bound to this pool or transaction, or nil when
// q runs unprepared this time. A preparation that failed because the database is
// unavailable is returned as the statement's error: running it unprepared would wait for
// the same database a second time (twice the bounded answer of a frozen server).
func (c *conn) stmt(ctx context.Context, q string) (*sqlx.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	st, err := c.stmts.get(ctx, c.rebind(q), c.tx == nil)
	if err = mapErr(err); errors.Is(err, provisioning.ErrUnavailable) {
		return nil, err
	}
	if st == nil || c.tx == nil {
		return st, nil
	}
	// database/sql reuses the statement already prepared on the transaction's connection.
	return c.tx.StmtxContext(ctx, st), nil
}

// checkArgs refuses string arguments that are not storable text on both databases before
// any reaches one: PostgreSQL rejects NUL bytes and invalid UTF-8 that SQLite would keep.
// The engine's text rule (provisioning.CheckText) names the field; this is the net under
// every door and every query, filters and path ids included.
func checkArgs(args []any) error {
	for _, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case *string:
			if v == nil {
				continue
			}
			s = *v
		default:
			continue
		}
		if p := provisioning.TextProblem(s, len(s)); p != "" {
			return &provisioning.ValidationError{Reason: "a value " + p}
		}
	}
	return nil
}

func (c *conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = c.stmtCtx(ctx)
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, mapErr(err)
	}
	res, err := c.ext.ExecContext(ctx, c.rebind(q), args...)
	return res, mapErr(err)
}

func (c *conn) get(ctx context.Context, dest any, q string, args ...any) error {
	ctx = c.stmtCtx(ctx)
	if err := checkArgs(args); err != nil {
		return err
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	if st != nil {
		return mapErr(st.GetContext(ctx, dest, args...))
	}
	return mapErr(sqlx.GetContext(ctx, c.ext, dest, c.rebind(q), args...))
}

func (c *conn) selectx(ctx context.Context, dest any, q string, args ...any) error {
	ctx = c.stmtCtx(ctx)
	if err := checkArgs(args); err != nil {
		return err
	}
	if err := c.ready(ctx); err != nil {
		return err
	}
	st, err := c.stmt(ctx, q)
	if err != nil {
		return err
	}
	if st != nil {
		return mapErr(st.SelectContext(ctx, dest, args...))
	}
	return mapErr(sqlx.SelectContext(ctx, c.ext, dest, c.rebind(q), args...))
}

// maxCachedStatements bounds the cache: SQL text varies with filter shapes and IN-list
// lengths, and a full cache only means later shapes run unprepared.
const maxCachedStatements = 2000

type stmtCache struct {
	db       *sqlx.DB
	mu       sync.Mutex
	m        map[string]*sqlx.Stmt
	inflight map[string]bool
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sqlx.Stmt), inflight: make(map[string]bool)}
}

// get returns the cached statement for q. On a miss it prepares q on the pool: right away
// when the caller holds no connection (sync), else in the background. A transaction must
// never wait for a second pool connection: SQLite's write pool has one, and PostgreSQL
// transactions that all wait for a free connection would deadlock the pool. The error is
// that of a failed preparation (nil and no statement: run q unprepared).
func (sc *stmtCache) get(ctx context.Context, q string, sync bool) (*sqlx.Stmt, error) {
	sc.mu.Lock()
	st, ok := sc.m[q]
	skip := ok || sc.inflight[q] || len(sc.m)+len(sc.inflight) >= maxCachedStatements
	if !skip && !sync {
		sc.inflight[q] = true
	}
	sc.mu.Unlock()
	if ok || skip {
		return st, nil
	}
	if !sync {
		go func() {
			pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = sc.prepare(pctx, q)
		}()
		return nil, nil
	}
	return sc.prepare(ctx, q)
}

func (sc *stmtCache) prepare(ctx context.Context, q string) (*sqlx.Stmt, error) {
	st, err := sc.db.PreparexContext(ctx, q)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.inflight, q)
	if err != nil {
		return nil, err
	}
	// Two callers may prepare the same text; the loser's statement is closed.
	if prev, ok := sc.m[q]; ok {
		_ = st.Close()
		return prev, nil
	}
	sc.m[q] = st
	return st, nil
}

func (sc *stmtCache) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for q, st := range sc.m {
		_ = st.Close()
		delete(sc.m, q)
	}
}

// forUpdate locks selected rows on PostgreSQL; SQLite's IMMEDIATE transaction already
// holds the database's write lock.
func (c *conn) forUpdate() string {
	if c.d == Postgres && c.inTx {
		return " FOR UPDATE"
	}
	return ""
}

// errUnique marks a unique-constraint violation before it is turned into a ConflictError
// naming the field.
var errUnique = errors.New("unique constraint violated")

// mapErr turns driver errors into the provisioning vocabulary.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return provisioning.ErrNotFound
	}
	if errors.Is(err, provisioning.ErrUnavailable) {
		return err // mapped already (a statement's error returned again by commit)
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch code := string(pqErr.Code); {
		case code == "23505":
			return fmt.Errorf("%w: %s", errUnique, pqErr.Constraint)
		case code == "23503":
			return fmt.Errorf("%w: referenced object does not exist (%s)", provisioning.ErrNotFound, pqErr.Constraint)
		case code == "23514":
			return fmt.Errorf("%w: check %s", errCheck, pqErr.Constraint)
		case strings.HasPrefix(code, "54"):
			// program_limit_exceeded: above all an index entry over PostgreSQL's row limit.
			// The engine's text rule keeps inputs below it; this is the safety net.
			return fmt.Errorf("%w (%w)", &provisioning.ValidationError{Reason: "a value is too long to be stored"}, err)
		case code == "22021", code == "22P05", code == "22001":
			// NUL bytes or invalid UTF-8 (or too long for a column) that slipped past the
			// engine's text rule.
			return fmt.Errorf("%w (%w)", &provisioning.ValidationError{Reason: "a value is not storable text"}, err)
		case pgUnavailable(code):
			return fmt.Errorf("%w: %w", provisioning.ErrUnavailable, err)
		}
		return err
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", errUnique, sqErr.Error())
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: referenced object does not exist", provisioning.ErrNotFound)
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			return fmt.Errorf("%w: %s", errCheck, sqErr.Error())
		}
		switch sqErr.Code() & 0xff { // the primary result code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM:
			// Lock waits past the busy timeout, a full disk, I/O errors: the database, not
			// the request, is at fault, and a retry may succeed.
			return fmt.Errorf("%w: %w", provisioning.ErrUnavailable, err)
		}
		return err
	}
	if connectionLost(err) {
		return fmt.Errorf("%w: %w", provisioning.ErrUnavailable, err)
	}
	return err
}

// pgUnavailable reports whether a PostgreSQL SQLSTATE says the server cannot serve now:
// connection exceptions (08…), shutdown and start-up (57P01–57P03), statement and lock
// timeouts (57014, 55P03), too many connections or no resources (53…), and lost
// serialisation races (40001, 40P01), which a retry resolves.
func pgUnavailable(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57P"):
		return true
	}
	switch code {
	case "57014", "55P03", "40001", "40P01", "25P03":
		return true
	}
	return false
}

// connectionLost reports errors of the connection rather than of a statement: a refused or
// reset connection, a read that timed out (see pgDialer), a connection database/sql
// gave up on, or a pool wait that ran out of time.
func connectionLost(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded)
}

var errCheck = errors.New("check constraint violated")

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func optMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMicro()
	return &v
}

func fromOptMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// writer returns a conn on the write pool for single statements outside InTx. On SQLite
// it must not be used while a transaction of the same DB is open in the same goroutine.
func (db *DB) writer() *conn { return &conn{ext: db.write, d: db.dialect, stmts: db.writeStmts} }

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return clampLimit(n)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if _, ok := seen[id]; ok || id == "" {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// fromRows converts scanned rows with conv (a row type's conversion method), failing at the
// first row that does not convert (a policy or mapping column that does not decode).
func fromRows[R, T any](rows []R, conv func(*R) (*T, error)) ([]T, error) {
	out := make([]T, 0, len(rows))
	for i := range rows {
		x, err := conv(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *x)
	}
	return out, nil
}
