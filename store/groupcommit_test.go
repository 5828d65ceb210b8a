package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// Concurrent SQLite transactions share commits: a failing closure must roll back alone, a
// panicking one must panic in its caller, and the others must all be committed.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	eng := provisioning.NewEngine(db, nil)
	tn, err := eng.CreateTenant(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, "acme", "Acme", 1000)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	results := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			results[i] = db.InTx(ctx, func(tx provisioning.Tx) error {
				u := &provisioning.User{ID: fmt.Sprintf("u%d", i), UserName: fmt.Sprintf("user%d@acme.test", i), Status: provisioning.StatusActive, Source: provisioning.SourceAdmin, Version: 1}
				if err := tx.CreateUser(ctx, tn.ID, u); err != nil {
					return err
				}
				// The batch writes its audit rows and events after its last closure: a
				// failed closure's must not be among them.
				if err := tx.AppendAudit(ctx, &provisioning.AuditEvent{TenantID: tn.ID, At: time.Now(), ActorKind: provisioning.ActorCLI,
					Action: "user.create", TargetKind: "user", TargetID: u.ID}); err != nil {
					return err
				}
				data := []byte(`{}`)
				if i%10 == 5 {
					data = []byte(`{"not json`) // refused when the batch writes it: only this closure may fail
				}
				if err := tx.AppendEvent(ctx, &provisioning.Event{ID: "ev-" + u.ID, TenantID: tn.ID, Type: "user.created", Time: time.Now(),
					UserID: u.ID, Data: data}); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return errBoom // after a write: the write must disappear
				case 7:
					panic("closure panicked")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		_, getErr := db.GetUser(ctx, tn.ID, fmt.Sprintf("u%d", i))
		switch i % 10 {
		case 3:
			if !errors.Is(results[i], errBoom) || !errors.Is(getErr, provisioning.ErrNotFound) {
				t.Fatalf("closure %d failed: got %v, user lookup %v", i, results[i], getErr)
			}
		case 5:
			if results[i] == nil || !errors.Is(getErr, provisioning.ErrNotFound) {
				t.Fatalf("closure %d wrote an event the batch cannot store: got %v, user lookup %v", i, results[i], getErr)
			}
		case 7:
			if panics[i] != "closure panicked" || !errors.Is(getErr, provisioning.ErrNotFound) {
				t.Fatalf("closure %d panicked: recovered %v, user lookup %v", i, panics[i], getErr)
			}
		default:
			if results[i] != nil || panics[i] != nil || getErr != nil {
				t.Fatalf("closure %d: %v / %v / lookup %v", i, results[i], panics[i], getErr)
			}
		}
	}
	audits, err := db.ListAudit(ctx, tn.ID, provisioning.AuditQuery{Action: "user.create", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.ListEvents(ctx, tn.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited, evented := map[string]int{}, map[string]int{}
	for _, a := range audits {
		audited[a.TargetID]++
	}
	for i, ev := range evs {
		evented[ev.UserID]++
		if want := int64(i + 1); ev.Seq != want {
			t.Fatalf("event %d has seq %d, want %d (dense, in order)", i, ev.Seq, want)
		}
	}
	for i := range n {
		id, want := fmt.Sprintf("u%d", i), 1
		if i%10 == 3 || i%10 == 5 || i%10 == 7 {
			want = 0
		}
		if audited[id] != want || evented[id] != want {
			t.Fatalf("closure %d: %d audit rows, %d events; want %d of each", i, audited[id], evented[id], want)
		}
	}
	// A caller whose context is already done never runs.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := db.InTx(cctx, func(provisioning.Tx) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("cancelled caller: err %v, ran %v", err, ran)
	}
}

// A caller whose context ends while its closure runs in a shared SQLite transaction must
// not take the other callers' work down with it: modernc interrupts the whole connection
// on a context's end, which rolled back the shared transaction ("no such savepoint").
func TestGroupCommitSurvivesCancelledCallers(t *testing.T) {
	db := storetest.OpenSQLite(t)
	ctx := context.Background()
	eng := provisioning.NewEngine(db, nil)
	tn, err := eng.CreateTenant(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, "acme", "Acme", 1000)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			results[i] = db.InTx(cctx, func(tx provisioning.Tx) error {
				for j := range 2 {
					if i%5 == 0 && j == 1 {
						// The client goes away while a statement of the shared
						// transaction runs.
						time.AfterFunc(time.Duration(i%8)*50*time.Microsecond, cancel)
					}
					u := &provisioning.User{ID: fmt.Sprintf("u%d-%d", i, j), UserName: fmt.Sprintf("user%d-%d@acme.test", i, j),
						Status: provisioning.StatusActive, Source: provisioning.SourceAdmin, Version: 1}
					for k := range 100 { // slow statements widen the window
						u.PhoneNumbers = append(u.PhoneNumbers, provisioning.MultiValue{Value: fmt.Sprintf("+1 555 %07d", k)})
					}
					if err := tx.CreateUser(cctx, tn.ID, u); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		if i%5 == 0 {
			continue // its own outcome may go either way
		}
		if results[i] != nil {
			t.Fatalf("caller %d, which did not cancel, failed: %v", i, results[i])
		}
		for j := range 2 {
			if _, err := db.GetUser(ctx, tn.ID, fmt.Sprintf("u%d-%d", i, j)); err != nil {
				t.Fatalf("caller %d's user %d: %v", i, j, err)
			}
		}
	}
}
