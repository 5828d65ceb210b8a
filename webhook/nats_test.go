package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
	"github.com/seatbridge/seatbridge/webhook"
)

const natsURL = "nats://127.0.0.1:4222"

// The NATS JetStream sink publishes every event once, in order, with its id as
// Nats-Msg-Id. It needs the NATS server on 127.0.0.1:4222 and skips without one.
func TestNATSSink(t *testing.T) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skip("no NATS server on 127.0.0.1:4222")
	}
	c.Close()
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		for i := range 5 {
			e.user(t, fmt.Sprintf("n%d@acme.test", i))
		}
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		tag := hex.EncodeToString(b)
		sink := &webhook.NATSSink{Source: e.wh, URL: natsURL, Prefix: "sbtest" + tag, Stream: "SBTEST_" + tag, ID: "t"}
		js, closeFn, err := sink.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		defer func() { _ = js.DeleteStream(ctx, sink.Stream) }()
		want, err := e.eng.ListEvents(ctx, e.tenant.ID, 0, 100)
		if err != nil || len(want) != 5 {
			t.Fatalf("%d events (%v)", len(want), err)
		}
		if n, err := sink.RunOnce(ctx, js); err != nil || n != len(want) {
			t.Fatalf("published %d of %d (%v)", n, len(want), err)
		}
		if n, err := sink.RunOnce(ctx, js); err != nil || n != 0 {
			t.Fatalf("second run published %d (%v): the cursor did not move", n, err)
		}
		cons, err := js.OrderedConsumer(ctx, sink.Stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.Fetch(len(want), jetstream.FetchMaxWait(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for m := range batch.Messages() {
			var ev provisioning.Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			if i >= len(want) || ev.ID != want[i].ID || m.Headers().Get(nats.MsgIdHdr) != ev.ID ||
				m.Subject() != sink.Prefix+"."+ev.TenantID+"."+ev.Type {
				t.Fatalf("message %d: %s %s on %s", i, ev.ID, ev.Type, m.Subject())
			}
			i++
		}
		if i != len(want) {
			t.Fatalf("%d messages, want %d", i, len(want))
		}
	})
}
