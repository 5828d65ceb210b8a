package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// SeedUsers inserts n synthetic users named PREFIX-<i>@example.com (i from 1) into a tenant,
// with a work e-mail each and no seat, generated inside the database in batches so that a
// million rows take seconds rather than the half hour the HTTP door would. It is for
// benchmarks and load tests: it writes no audit events.
func (db *DB) SeedUsers(ctx context.Context, tenantID, prefix string, n int) error {
	if n <= 0 {
		return nil
	}
	if db.dialect == Postgres {
		// A batch of 50,000 rows may rightly outlast the request pool's statement and
		// socket timeouts: bulk loads run on a pool without them.
		pool, err := unboundedPool(db.dsn)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		defer pool.Close()
		bulk := &DB{dialect: db.dialect, read: sqlx.NewDb(pool, "postgres"), write: sqlx.NewDb(pool, "postgres")}
		return bulk.seedUsers(ctx, tenantID, prefix, n)
	}
	return db.seedUsers(ctx, tenantID, prefix, n)
}

func (db *DB) seedUsers(ctx context.Context, tenantID, prefix string, n int) error {
	const batch = 50000
	now := time.Now().UnixMicro()
	for start := 1; start <= n; start += batch {
		end := min(start+batch-1, n)
		err := db.inTxRaw(ctx, func(c *conn) error {
			seq := c.seriesSQL()
			if _, err := c.exec(ctx, `INSERT INTO users (id, tenant_id, user_name, user_name_key, email_key, external_id,
				given_name, family_name, display_name, status, source, managed_by_idp, seat, version, created_at, updated_at)
				SELECT ? || '-' || i, ?, ? || '-' || i || '@example.com', lower(? || '-' || i || '@example.com'),
				lower(? || '-' || i || '@example.com'), 'ext-' || i, 'Seed', 'User ' || i, 'Seed User ' || i,
				'active', 'scim', ?, ?, 1, ?, ?
				FROM `+seq, prefix, tenantID, prefix, prefix, prefix, true, false, now, now, start, end); err != nil {
				return fmt.Errorf("seed users: %w", err)
			}
			if _, err := c.exec(ctx, `INSERT INTO user_values (tenant_id, user_id, attr, idx, value, value_key, type, is_primary)
				SELECT ?, ? || '-' || i, 'emails', 0, ? || '-' || i || '@example.com', lower(? || '-' || i || '@example.com'), 'work', ?
				FROM `+seq, tenantID, prefix, prefix, prefix, true, start, end); err != nil {
				return fmt.Errorf("seed user e-mails: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if db.dialect == Postgres {
		if _, err := db.write.ExecContext(ctx, `ANALYZE users; ANALYZE user_values`); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
	}
	return nil
}

// seriesSQL is a row source "i" from the first to the second bound argument.
func (c *conn) seriesSQL() string {
	if c.d == Postgres {
		return `generate_series(?::bigint, ?::bigint) AS s(i)`
	}
	return `(WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?) SELECT i FROM s)`
}

// inTxRaw runs fn in a transaction on the store's own connection type.
func (db *DB) inTxRaw(ctx context.Context, fn func(c *conn) error) error {
	tx, err := db.write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", mapErr(err))
	}
	if err := fn(&conn{ext: tx, d: db.dialect, inTx: true}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}
