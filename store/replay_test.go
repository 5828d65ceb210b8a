package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestReplayCache: an assertion ID is accepted once per connection while remembered,
// again once its entry has expired, and exactly once when used concurrently.
func TestReplayCache(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		until := now.Add(5 * time.Minute)
		if err := db.RememberAssertion(ctx, "conn-a", "id-1", until, now); err != nil {
			t.Fatal(err)
		}
		if err := db.RememberAssertion(ctx, "conn-a", "id-1", until, now.Add(time.Minute)); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("replay while remembered: %v", err)
		}
		if err := db.RememberAssertion(ctx, "conn-b", "id-1", until, now); err != nil {
			t.Fatalf("same ID on another connection: %v", err)
		}
		// Expired but not purged yet: the ID is usable again, and remembered anew.
		later := until.Add(time.Second)
		if err := db.RememberAssertion(ctx, "conn-a", "id-1", later.Add(5*time.Minute), later); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if err := db.RememberAssertion(ctx, "conn-a", "id-1", later.Add(5*time.Minute), later); !errors.Is(err, provisioning.ErrConflict) {
			t.Fatalf("replay after renewal: %v", err)
		}

		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.RememberAssertion(ctx, "conn-a", "id-race", until, now)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, provisioning.ErrConflict):
					t.Errorf("concurrent use: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d concurrent uses accepted, want 1", ok)
		}
	})
}
