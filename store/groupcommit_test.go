package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

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
	// A caller whose context is already done never runs.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := db.InTx(cctx, func(provisioning.Tx) error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("cancelled caller: err %v, ran %v", err, ran)
	}
}
