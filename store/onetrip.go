package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// A SCIM create on PostgreSQL used to cost five round trips: the directory's lookup, then
// BEGIN, the user's statement, the audit and event statement, COMMIT. Each costs both the
// server and a PostgreSQL backend a wake-up and a system call or two, and at thousands of
// creates a second they were a fifth of the CPU. A transaction here therefore begins at its
// first statement (not at InTx), a create may wait for the transaction's end, and there it
// joins the audit and event statement: a transaction that did nothing else runs as that one
// statement, which PostgreSQL commits on its own, atomically, with no BEGIN or COMMIT.

// oneTrip is a PostgreSQL statement kept as its parts, data-modifying CTEs and the
// statement they precede, so that two can be joined into one (a WITH inside a CTE may not
// modify data).
type oneTrip struct {
	ctes  []string // "name AS (statement)"
	final string
	args  []any // in the order of the text's placeholders
	// unique maps a unique violation of the statement (nil: left as it is).
	unique func() error
	// what names the statement in errors.
	what string
}

func (t *oneTrip) sql() string {
	if len(t.ctes) == 0 {
		return t.final
	}
	return "WITH " + strings.Join(t.ctes, ", ") + " " + t.final
}

// joinTrips returns one statement doing a's work, then b's: a's final statement becomes
// a CTE "w<n>", n its position (the parts' own CTEs are named by letters). Either may be
// nil. Every part reads the snapshot taken before the statement and constraints are
// checked at its end, so b must not need to read a's rows; the statements joined here (a
// user's rows, audit rows and events) never do. A unique violation is mapped as a's (the
// create's), else as b's.
func joinTrips(a, b *oneTrip) *oneTrip {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	ctes := make([]string, 0, len(a.ctes)+1+len(b.ctes))
	ctes = append(append(append(ctes, a.ctes...), fmt.Sprintf("w%d AS (%s)", len(a.ctes), a.final)), b.ctes...)
	unique := a.unique
	if unique == nil {
		unique = b.unique
	}
	return &oneTrip{ctes: ctes, final: b.final, args: append(append(make([]any, 0, len(a.args)+len(b.args)), a.args...), b.args...),
		unique: unique, what: a.what + " and " + b.what}
}

// run executes t on c and maps its unique violation.
func (c *conn) run(ctx context.Context, t *oneTrip) error {
	_, err := c.exec(ctx, t.sql(), t.args...)
	if errors.Is(err, errUnique) && t.unique != nil {
		return t.unique()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", t.what, err)
	}
	return nil
}

// ready prepares c for a statement: on a lazily begun PostgreSQL transaction it begins
// the transaction, then runs the deferred write, so that every statement sees the writes
// made before it. Its error may be the deferred write's (a conflict of a create), which
// then comes out of the caller's next call instead of the create's.
func (c *conn) ready(ctx context.Context) error {
	if c.lazy != nil {
		tx, err := c.lazy.write.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", mapErr(err))
		}
		c.ext, c.tx, c.lazy = tx, tx, nil
	}
	if t := c.deferred; t != nil {
		c.deferred = nil
		return c.run(ctx, t)
	}
	return nil
}

// settle runs the deferred write joined with last, the transaction's final statement
// (either may be nil). A transaction that has not begun runs it as a statement of its own
// on the write pool: PostgreSQL commits a single statement atomically.
func (c *conn) settle(ctx context.Context, last *oneTrip) error {
	t := joinTrips(c.deferred, last)
	c.deferred = nil
	if t == nil {
		return nil
	}
	if c.lazy != nil {
		c.ext, c.lazy = c.lazy.write, nil
	}
	return c.run(ctx, t)
}

// CreateUserLate is CreateUser, except that on PostgreSQL the user's statement may wait
// for the transaction's next statement or its end (joined with the audit and event
// statement there): a conflict of the create then comes out of that call or of InTx. For
// callers that handle the error the same wherever it arises (a SCIM or JIT create).
func (c *conn) CreateUserLate(ctx context.Context, tenantID string, u *provisioning.User) error {
	return c.createUser(ctx, tenantID, u, true)
}
