package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/seatbridge/seatbridge/provisioning"
)

// SQLite allows one writer, and a commit costs system calls (WAL append, locks) whatever it
// carries. So on SQLite the transactions of concurrent callers queue for one committer
// goroutine, which runs up to maxBatch of them in one database transaction, each inside its
// own SAVEPOINT: a closure that fails is rolled back to its savepoint alone, the others
// commit together. A caller sees exactly what it would with its own transaction: its
// closure ran alone against the database state, and its InTx returns only after the
// commit (or with the commit's error). PostgreSQL commits concurrently on its own.

const maxBatch = 64

type txRequest struct {
	ctx  context.Context
	fn   func(provisioning.Tx) error
	done chan txResult
}

type txResult struct {
	err   error
	panic any
}

type groupCommitter struct {
	db    *DB
	queue chan *txRequest
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startGroupCommitter(db *DB) *groupCommitter {
	g := &groupCommitter{db: db, queue: make(chan *txRequest, 1024), stop: make(chan struct{})}
	g.wg.Add(1)
	go g.loop()
	return g
}

func (g *groupCommitter) close() {
	close(g.stop)
	g.wg.Wait()
}

// run submits fn and waits for its outcome; a panic in fn is re-raised in the caller.
func (g *groupCommitter) run(ctx context.Context, fn func(provisioning.Tx) error) error {
	req := &txRequest{ctx: ctx, fn: fn, done: make(chan txResult, 1)}
	select {
	case g.queue <- req:
	case <-ctx.Done():
		return fmt.Errorf("begin transaction: %w", ctx.Err())
	case <-g.stop:
		return fmt.Errorf("begin transaction: database closed")
	}
	res := <-req.done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

func (g *groupCommitter) loop() {
	defer g.wg.Done()
	batch := make([]*txRequest, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case req := <-g.queue:
			batch = append(batch, req)
		case <-g.stop:
			g.drain()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case req := <-g.queue:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		g.commit(batch)
	}
}

// drain fails requests that were queued when the database closed.
func (g *groupCommitter) drain() {
	for {
		select {
		case req := <-g.queue:
			req.done <- txResult{err: fmt.Errorf("begin transaction: database closed")}
		default:
			return
		}
	}
}

func (g *groupCommitter) commit(batch []*txRequest) {
	results := make([]txResult, len(batch))
	// The transaction outlives any one caller's context: a caller that gives up only loses
	// its own savepoint.
	tx, err := g.db.write.BeginTxx(context.Background(), nil)
	if err != nil {
		err = mapErr(err)
		g.db.noteWrite(err)
		for _, req := range batch {
			req.done <- txResult{err: fmt.Errorf("begin transaction: %w", err)}
		}
		return
	}
	c := &conn{ext: tx, d: g.db.dialect, inTx: true, tx: tx, stmts: g.db.writeStmts, shared: true}
	ok := 0
	var events, logouts bool
	// The batch's audit rows and events, written after its last closure: one statement
	// each (and one event-counter update per tenant) instead of three per closure. A
	// closure that fails leaves its own out with its savepoint.
	var audits []*provisioning.AuditEvent
	var evs []*provisioning.Event
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		// Not req.ctx: no caller's context may reach the shared connection (see conn.shared).
		// SAVEPOINT and RELEASE run as cached prepared statements (c.exec): modernc's
		// SQLite parses every unprepared statement, and these two run for every closure.
		if _, err := c.exec(context.Background(), "SAVEPOINT sb"); err != nil {
			results[i].err = fmt.Errorf("savepoint: %w", mapErr(err))
			continue
		}
		c.events, c.audits, c.queuedLogout = nil, nil, false
		results[i] = runClosure(req, c)
		if results[i].err == nil && results[i].panic == nil {
			// Checked here, inside the closure's savepoint, so that records the batch's
			// statements would refuse fail this closure alone, not the whole batch.
			results[i].err = checkRecords(c.audits, c.events)
		}
		if results[i].err == nil && results[i].panic == nil {
			logouts = logouts || c.queuedLogout
			events = events || len(c.events) > 0
			audits, evs = append(audits, c.audits...), append(evs, c.events...)
		}
		c.events, c.audits = nil, nil
		if results[i].err != nil {
			g.db.noteWrite(results[i].err)
		}
		if results[i].err != nil || results[i].panic != nil {
			if _, err := tx.Exec("ROLLBACK TO sb"); err != nil {
				// The batch can no longer be trusted: fail everyone.
				_ = tx.Rollback()
				for j, r := range batch {
					if results[j].panic == nil {
						results[j] = txResult{err: fmt.Errorf("rollback to savepoint: %w", mapErr(err))}
					}
					r.done <- results[j]
				}
				return
			}
		} else {
			ok++
		}
		if _, err := c.exec(context.Background(), "RELEASE sb"); err != nil {
			_ = tx.Rollback()
			for j, r := range batch {
				if results[j].panic == nil {
					results[j] = txResult{err: fmt.Errorf("release savepoint: %w", mapErr(err))}
				}
				r.done <- results[j]
			}
			return
		}
	}
	if ok > 0 {
		c.events, c.audits = evs, audits
		if err := c.flushEvents(context.Background()); err != nil {
			// The batch's records cannot be written (checkRecords leaves only the
			// database's own failures): none of its changes may commit.
			_ = tx.Rollback()
			err = fmt.Errorf("record the batch's audit and events: %w", err)
			g.db.noteWrite(err)
			for j, r := range batch {
				if results[j].err == nil && results[j].panic == nil {
					results[j].err = err
				}
				r.done <- results[j]
			}
			return
		}
	}
	if ok == 0 {
		_ = tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		err = mapErr(err)
		g.db.noteWrite(err)
		for i := range results {
			if results[i].err == nil && results[i].panic == nil {
				results[i].err = fmt.Errorf("commit: %w", err)
			}
		}
	} else {
		g.db.noteWrite(nil)
		g.db.committed(events, logouts)
	}
	for i, req := range batch {
		req.done <- results[i]
	}
}

func runClosure(req *txRequest, c *conn) (res txResult) {
	defer func() {
		if p := recover(); p != nil {
			res = txResult{panic: p}
		}
	}()
	return txResult{err: req.fn(c)}
}
