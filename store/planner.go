package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// This file keeps PostgreSQL's planner statistics in step with tables that grow fast.
//
// PostgreSQL plans from the statistics ANALYZE gathered, and autovacuum refreshes them
// only after a tenth of a table changed and at most once a minute per database. A fresh
// database that receives a directory's initial sync is planned as if empty for that
// minute: measured here, every `userName eq` lookup of a 10,000-user sync on a new
// database read the tenant's users through the last-login index (an empty table gives
// every index on tenant_id the same cost, and the prepared statement kept that plan),
// so lookups grew linear in the users synced and the sync ran at 312 users/s instead of
// 622 with fresh statistics.

// plannedTables are the tables whose lookups have several candidate indexes, so stale
// statistics can pick the wrong one. Append-only logs (audit, events, provisioning log)
// are read through their primary key or one index whatever the statistics say, and
// analysing them costs as much (about 250 ms each at 10,000 rows, measured) for nothing.
var plannedTables = []string{"users", "user_values", "groups", "group_members", "tombstones", "user_roles",
	"team_members", "identities", "sessions"}

// minGrowthToAnalyze is the fewest changed rows that make a table worth analysing; below
// it any plan is cheap.
const minGrowthToAnalyze = 500

// minPagesToAnalyze is the size (pages of 8 kB, about 250 users) from which a table that
// was never analysed is analysed for its growth alone.
const minPagesToAnalyze = 16

// RefreshStatistics analyses, on PostgreSQL, the plannedTables of the store's schema
// whose statistics a growth made misleading: a table whose file has doubled in size since
// its last ANALYZE (at least minPagesToAnalyze pages), or that changed more rows since
// then than it held (at least minGrowthToAnalyze). Growth is geometric, so a table of N
// rows is analysed about log2(N/250) times by this before autovacuum's own schedule
// takes over. It reports the tables analysed. Every replica may run it: a table another
// replica just analysed no longer qualifies.
//
// The size is the test that matters for a first sync: it is read from the table's file,
// so it is current, while the changed-row counts reach the cumulative statistics a second
// or more after commit. Measured on a 10,000-user sync into a new database, the first
// ANALYZE came 2.3 s in on the row counts, and the 2,800 lookups before it cost PostgreSQL
// 1,030 ms (each read the tenant's users through another index), the 7,200 after it 100 ms.
func (db *DB) RefreshStatistics(ctx context.Context) ([]string, error) {
	if db.dialect != Postgres {
		return nil, nil
	}
	var tables []string
	if err := db.selectx(ctx, &tables, `SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
		WHERE s.schemaname = ANY (current_schemas(false)) AND s.relname = ANY (?)
		AND (pg_relation_size(c.oid) >= GREATEST(2 * c.relpages, ?)::bigint * current_setting('block_size')::bigint
		OR (s.n_mod_since_analyze >= ? AND s.n_mod_since_analyze > GREATEST(c.reltuples, 0)))
		ORDER BY s.relname`, pq.Array(plannedTables), minPagesToAnalyze, minGrowthToAnalyze); err != nil {
		return nil, fmt.Errorf("planner statistics: %w", err)
	}
	for _, t := range tables {
		if _, err := db.write.ExecContext(ctx, `ANALYZE `+pq.QuoteIdentifier(t)); err != nil {
			return nil, fmt.Errorf("analyze %s: %w", t, mapErr(err))
		}
	}
	return tables, nil
}
