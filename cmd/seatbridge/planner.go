package main

import (
	"context"
	"time"

	"github.com/seatbridge/seatbridge/store"
)

// statisticsInterval is how often the server looks for PostgreSQL tables that outgrew
// their planner statistics: the first lookups of a bulk sync into an empty database are
// planned on stale statistics until then (store/planner.go), each reading the tenant's
// users: 250 ms is about 500 users into a sync. One look costs PostgreSQL ~0.5 ms.
const statisticsInterval = 250 * time.Millisecond

// statisticsLoop keeps PostgreSQL's planner statistics in step with fast-growing tables;
// on SQLite it only waits for the end.
func statisticsLoop(ctx context.Context, a *app) error {
	if a.db.Dialect() != store.Postgres {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(statisticsInterval)
	defer t.Stop()
	for {
		if tables, err := a.db.RefreshStatistics(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("refresh planner statistics", "err", err)
		} else if len(tables) > 0 {
			a.log.Debug("refreshed planner statistics", "tables", tables)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
