package poll

import (
	"context"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	t.Run("interval", func(t *testing.T) {
		woke, ok := Wait(context.Background(), time.Millisecond, nil)
		if woke || !ok {
			t.Fatalf("woke=%v ok=%v, want the interval to end the wait", woke, ok)
		}
	})
	t.Run("wake", func(t *testing.T) {
		wake := make(chan struct{}, 1)
		wake <- struct{}{}
		woke, ok := Wait(context.Background(), time.Hour, wake)
		if !woke || !ok {
			t.Fatalf("woke=%v ok=%v, want the wake-up to end the wait", woke, ok)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		woke, ok := Wait(ctx, time.Hour, make(chan struct{}))
		if woke || ok {
			t.Fatalf("woke=%v ok=%v, want the ended context to end the wait", woke, ok)
		}
	})
}
