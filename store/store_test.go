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

// OnLogouts fires after a commit that queued a back-channel logout, and only then: the
// logout sender, woken by it, no longer polls an empty outbox after every SCIM delete.
func TestOnLogoutsWakesOnQueuedLogoutsOnly(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		eng := provisioning.NewEngine(db, nil)
		var events, logouts atomic.Int32
		db.OnEvents(func() { events.Add(1) })
		db.OnLogouts(func() { logouts.Add(1) })
		actor := provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test"}
		tn, err := eng.CreateTenant(ctx, actor, "acme", "Acme", 10)
		if err != nil {
			t.Fatal(err)
		}
		u, err := eng.CreateUser(ctx, actor, tn.ID, &provisioning.User{UserName: "never@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		// A delete of a user who never signed in writes events and queues no logout.
		if err := eng.DeleteUser(ctx, actor, tn.ID, u.ID, provisioning.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if events.Load() == 0 || logouts.Load() != 0 {
			t.Fatalf("after a delete without logout: %d event wake-ups, %d logout wake-ups; want some and none", events.Load(), logouts.Load())
		}
		now := time.Now()
		l := &provisioning.LogoutRequest{ID: "lo-1", TenantID: tn.ID, UserID: u.ID, Reason: provisioning.LogoutDeleted, NextAttemptAt: now, CreatedAt: now}
		// A closure that fails rolls its logout back: no wake-up.
		errBoom := errors.New("boom")
		if err := db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := tx.EnqueueLogout(ctx, l); err != nil {
				return err
			}
			return errBoom
		}); !errors.Is(err, errBoom) {
			t.Fatalf("failing closure: %v", err)
		}
		if logouts.Load() != 0 {
			t.Fatal("a rolled-back logout woke the sender")
		}
		if err := db.InTx(ctx, func(tx provisioning.Tx) error { return tx.EnqueueLogout(ctx, l) }); err != nil {
			t.Fatal(err)
		}
		if logouts.Load() != 1 {
			t.Fatalf("after a queued logout: %d logout wake-ups, want 1", logouts.Load())
		}
	})
}
