package store_test

import (
	"context"
	"errors"
	"io/fs"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func TestConformanceSQLite(t *testing.T) { storetest.Run(t, storetest.OpenSQLite) }

func TestConformancePostgres(t *testing.T) {
	storetest.PostgresDSN(t)
	storetest.Run(t, storetest.OpenPostgres)
}

// TestContract drives the store contract directly, noun by noun, on both databases.
func TestContract(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) { storetest.Contract(t, db) })
}

// Both dialects must list the same migrations, so a schema change is never made for one only.
func TestMigrationsMatch(t *testing.T) {
	names := map[store.Dialect][]string{}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		fsys, err := store.Migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names[d] = append(names[d], e.Name())
		}
	}
	if len(names[store.SQLite]) == 0 || len(names[store.SQLite]) != len(names[store.Postgres]) {
		t.Fatalf("migrations differ: sqlite %v, postgres %v", names[store.SQLite], names[store.Postgres])
	}
	for i := range names[store.SQLite] {
		if names[store.SQLite][i] != names[store.Postgres][i] {
			t.Fatalf("migration %d: sqlite %s, postgres %s", i, names[store.SQLite][i], names[store.Postgres][i])
		}
	}
}

func TestSeedUsers(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		eng := provisioning.NewEngine(db, nil)
		tn, err := eng.CreateTenant(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, "bench", "Bench", 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SeedUsers(ctx, tn.ID, "s", 1234); err != nil {
			t.Fatal(err)
		}
		u, err := db.GetUserByUserName(ctx, tn.ID, "S-1234@EXAMPLE.COM")
		if err != nil || len(u.Emails) != 1 || u.Emails[0].Value != "s-1234@example.com" || u.Seat {
			t.Fatalf("seeded user: %+v, %v", u, err)
		}
		p, err := db.ListUsers(ctx, tn.ID, provisioning.UserQuery{})
		if err != nil || p.Total != 1234 {
			t.Fatalf("seeded %d users, %v", p.Total, err)
		}
		// Seeded users behave like any other: the seat count is untouched and e-mail filters find them.
		byMail, err := db.ListUsers(ctx, tn.ID, provisioning.UserQuery{Limit: 5, Filter: provisioning.Any{Collection: "emails",
			Where: provisioning.Compare{Field: "value", Op: provisioning.OpEq, Value: "s-7@example.com"}}})
		if err != nil || byMail.Total != 1 {
			t.Fatalf("e-mail filter on seeded users: %+v, %v", byMail, err)
		}
	})
}

// A commit wakes the workers of what it wrote: events wake OnEvents, a queued back-channel
// logout OnLogouts, and neither wakes the other (the logout sender would otherwise look
// at its queue after every change). Both ways of committing are covered: the SQLite group
// commit and PostgreSQL's transaction per caller.
func TestCommitHooks(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var events, logouts atomic.Int32
		db.OnEvents(func() { events.Add(1) })
		db.OnLogouts(func() { logouts.Add(1) })
		eng := provisioning.NewEngine(db, nil)
		cli := provisioning.Actor{Kind: provisioning.ActorCLI}
		tn, err := eng.CreateTenant(ctx, cli, "hooks", "Hooks", 1)
		if err != nil {
			t.Fatal(err)
		}
		events.Store(0)
		logouts.Store(0)
		if _, err := eng.CreateUser(ctx, cli, tn.ID, &provisioning.User{UserName: "a@hooks.test"}); err != nil {
			t.Fatal(err)
		}
		if e, l := events.Load(), logouts.Load(); e != 1 || l != 0 {
			t.Fatalf("after a create: %d event wake-ups, %d logout wake-ups; want 1, 0", e, l)
		}
		if err := db.InTx(ctx, func(tx provisioning.Tx) error {
			return tx.EnqueueLogout(ctx, &provisioning.LogoutRequest{ID: "lo-1", TenantID: tn.ID, UserID: "u",
				Reason: provisioning.LogoutDeactivated, NextAttemptAt: time.Now(), CreatedAt: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		if e, l := events.Load(), logouts.Load(); e != 1 || l != 1 {
			t.Fatalf("after a queued logout: %d event wake-ups, %d logout wake-ups; want 1, 1", e, l)
		}
		// A transaction that fails wakes nobody.
		_ = db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := tx.EnqueueLogout(ctx, &provisioning.LogoutRequest{ID: "lo-2", TenantID: tn.ID, UserID: "u",
				Reason: provisioning.LogoutDeactivated, NextAttemptAt: time.Now(), CreatedAt: time.Now()}); err != nil {
				return err
			}
			return errors.New("changed my mind")
		})
		if e, l := events.Load(), logouts.Load(); e != 1 || l != 1 {
			t.Fatalf("after a rolled-back logout: %d event wake-ups, %d logout wake-ups; want 1, 1", e, l)
		}
	})
}
