package provisioning_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestChangeOwnPasswordLockoutHoldsAgainstConcurrentGuesses: changing one's own password
// checks the current one with the same slow hash as sign-in, so a burst of guesses sent at
// once all passed a lock check made before hashing. The lock is looked at again with each
// counted failure and after a right answer: a burst buys no more wrong answers than the
// policy allows, and the right password that arrives after the lock changes nothing.
func TestChangeOwnPasswordLockoutHoldsAgainstConcurrentGuesses(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 5)
		// Slow enough that every guess of the burst reads the account before the first
		// hash ends, as with production parameters.
		f.acc.Password = provisioning.PasswordParams{Time: 2, MemoryKiB: 32 * 1024, Threads: 1}
		const pw = "violet kayak thunder harbour"
		u, _, err := f.acc.CreateLocalUser(f.ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{
			Email: "one@example.com", DisplayName: "One", Seat: true, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		const guesses = 12
		var (
			mu            sync.Mutex
			wrong, locked int
			wg            sync.WaitGroup
		)
		for i := range guesses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f.acc.ChangeOwnPassword(f.ctx, f.tenant.ID, u.ID, fmt.Sprintf("wrong guess %d", i), "orange piano glacier meadow", "192.0.2.1")
				var ve *provisioning.ValidationError
				var le *provisioning.LoginRefusedError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.As(err, &ve) && ve.Field == "currentPassword":
					wrong++
				case errors.As(err, &le) && le.Reason == provisioning.RefuseLockedOut:
					locked++
				default:
					t.Errorf("guess %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if max := provisioning.DefaultLockout.MaxFailures; wrong > max {
			t.Errorf("%d wrong answers to a burst of %d guesses; the lockout allows %d", wrong, guesses, max)
		}
		if locked == 0 {
			t.Errorf("no guess of the burst met the lock (%d wrong)", wrong)
		}
		err = f.acc.ChangeOwnPassword(f.ctx, f.tenant.ID, u.ID, pw, "orange piano glacier meadow", "192.0.2.1")
		var le *provisioning.LoginRefusedError
		if !errors.As(err, &le) || le.Reason != provisioning.RefuseLockedOut {
			t.Fatalf("right password on a locked account: %v, want the lockout refusal", err)
		}
	})
}
