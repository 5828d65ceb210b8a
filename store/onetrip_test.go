package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// A directory's create on PostgreSQL is one round trip: the user's rows, its audit row and
// its event in one statement, without BEGIN and COMMIT. A create that conflicts costs the
// same trip and leaves nothing behind: no user, no audit row, no event.
func TestCreateIsOneRoundTrip(t *testing.T) {
	storetest.PostgresDSN(t)
	ctx := context.Background()
	db, proxy := storetest.OpenPostgresProxied(t, nil)
	eng := provisioning.NewEngine(db, nil)
	tn, err := eng.CreateTenant(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, "trips", "Trips", 10)
	if err != nil {
		t.Fatal(err)
	}
	okta := provisioning.Actor{Kind: provisioning.ActorSCIMToken, ID: "tok", Name: "okta"}
	create := func(name string) error {
		_, err := eng.CreateUser(ctx, okta, tn.ID, &provisioning.User{UserName: name, ExternalID: "ext-" + name,
			Emails: []provisioning.MultiValue{{Value: name, Type: "work", Primary: true}}})
		return err
	}
	for _, name := range []string{"warm-1@trips.test", "warm-2@trips.test"} { // statements get prepared
		if err := create(name); err != nil {
			t.Fatal(err)
		}
	}
	before := proxy.Trips()
	if err := create("ada@trips.test"); err != nil {
		t.Fatal(err)
	}
	if got := proxy.Trips() - before; got != 1 {
		t.Errorf("a create took %d round trips, want 1", got)
	}
	before = proxy.Trips()
	err = create("ADA@trips.test")
	var ce *provisioning.ConflictError
	if !errors.As(err, &ce) || ce.Field != "userName" {
		t.Fatalf("second create of the userName: %v, want a userName conflict", err)
	}
	if got := proxy.Trips() - before; got != 1 {
		t.Errorf("a refused create took %d round trips, want 1", got)
	}
	page, err := eng.ListUsers(ctx, tn.ID, provisioning.UserQuery{Limit: 10})
	if err != nil || page.Total != 3 {
		t.Fatalf("users after the refused create: %d, %v; want 3", page.Total, err)
	}
	var audits, events int
	if err := db.SQL().GetContext(ctx, &audits, `SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND action = 'user.create'`, tn.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().GetContext(ctx, &events, `SELECT COUNT(*) FROM event_queue WHERE tenant_id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	if audits != 3 || events != 3 {
		t.Errorf("after three creates and a refused one: %d audit rows, %d queued events; want 3 and 3", audits, events)
	}
	// A transaction that runs nothing sends nothing.
	before = proxy.Trips()
	if err := db.InTx(ctx, func(provisioning.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := proxy.Trips() - before; got != 0 {
		t.Errorf("an empty transaction took %d round trips, want 0", got)
	}
}

type lateCreator interface {
	CreateUserLate(ctx context.Context, tenantID string, u *provisioning.User) error
}

// A create that waits for the end of its transaction is seen by every later statement of
// it, rolls back with it, and reports its conflict from whichever call runs it.
func TestLateCreate(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		eng := provisioning.NewEngine(db, nil)
		tn, err := eng.CreateTenant(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, "late", "Late", 10)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		user := func(name string) *provisioning.User {
			n++
			return &provisioning.User{ID: "late-" + string(rune('a'+n)), UserName: name, Status: provisioning.StatusActive,
				Source: provisioning.SourceSCIM, Version: 1, Emails: []provisioning.MultiValue{{Value: name, Primary: true}}}
		}
		late := func(tx provisioning.Tx, u *provisioning.User) error {
			return tx.(lateCreator).CreateUserLate(ctx, tn.ID, u)
		}
		rollback := errors.New("rollback")

		// Seen by a later read of the transaction; gone with its rollback.
		u := user("grace@late.test")
		err = db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := late(tx, u); err != nil {
				return err
			}
			got, err := tx.GetUserByUserName(ctx, tn.ID, "grace@late.test")
			if err != nil || got.ID != u.ID || len(got.Emails) != 1 {
				t.Errorf("read after a late create: %+v, %v", got, err)
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("InTx = %v, want the rollback", err)
		}
		if _, err := db.GetUser(ctx, tn.ID, u.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("user of a rolled-back transaction: %v, want ErrNotFound", err)
		}

		// Gone with a rollback before any statement ran (a transaction never begun).
		u = user("linus@late.test")
		if err := db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := late(tx, u); err != nil {
				return err
			}
			return rollback
		}); !errors.Is(err, rollback) {
			t.Fatalf("InTx = %v, want the rollback", err)
		}
		if _, err := db.GetUser(ctx, tn.ID, u.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("user of a transaction that ended in an error: %v, want ErrNotFound", err)
		}

		// Committed alone, and then a conflict, from InTx or from the next call.
		if err := db.InTx(ctx, func(tx provisioning.Tx) error { return late(tx, user("ken@late.test")) }); err != nil {
			t.Fatal(err)
		}
		var ce *provisioning.ConflictError
		err = db.InTx(ctx, func(tx provisioning.Tx) error { return late(tx, user("KEN@late.test")) })
		if !errors.As(err, &ce) || ce.Field != "userName" {
			t.Fatalf("late create of a taken userName: %v, want a userName conflict", err)
		}
		err = db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := late(tx, user("ken@late.test")); err != nil {
				return err
			}
			_, err := tx.GetTenant(ctx, tn.ID)
			return err
		})
		if !errors.As(err, &ce) || ce.Field != "userName" {
			t.Fatalf("late create of a taken userName, then a read: %v, want a userName conflict", err)
		}
		// Two late creates in one transaction: both written, in order.
		a, b := user("ann@late.test"), user("bob@late.test")
		if err := db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := late(tx, a); err != nil {
				return err
			}
			return late(tx, b)
		}); err != nil {
			t.Fatal(err)
		}
		for _, u := range []*provisioning.User{a, b} {
			if _, err := db.GetUser(ctx, tn.ID, u.ID); err != nil {
				t.Fatalf("%s after a transaction of two late creates: %v", u.UserName, err)
			}
		}
	})
}
