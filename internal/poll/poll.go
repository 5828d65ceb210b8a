// Package poll holds what every background worker does between two polls of its outbox:
// wait for the interval, for a wake-up from this process (it committed work for the
// worker), or for the end of the context — one way, so the workers cannot drift apart.
package poll

import (
	"context"
	"time"
)

// Wait blocks until d elapses or wake receives. ok is false when ctx ended first; woke
// tells whether a wake-up ended the wait. A nil wake channel never wakes.
func Wait(ctx context.Context, d time.Duration, wake <-chan struct{}) (woke, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-wake:
		return true, true
	case <-t.C:
		return false, true
	}
}
