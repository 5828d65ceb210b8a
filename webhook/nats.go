package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seatbridge/seatbridge/internal/poll"
	"github.com/seatbridge/seatbridge/provisioning"
)

// SinkSource is the provisioning side of a broker sink; *provisioning.Webhooks
// implements it.
type SinkSource interface {
	ClaimSink(ctx context.Context, sink, worker string, limit int) ([]provisioning.SinkBatch, error)
	ReleaseSink(ctx context.Context, sink, worker, tenantID string, seq int64) error
}

// NATSSink publishes every event to NATS JetStream, on the subject
// PREFIX.<tenantId>.<type> with the event id as Nats-Msg-Id, so that JetStream drops a
// repeat (a worker that died after publishing and before recording it) within the stream's
// duplicate window. It is off unless configured.
type NATSSink struct {
	Source SinkSource
	// URL of the NATS server, e.g. nats://127.0.0.1:4222.
	URL string
	// Subject prefix (default "seatbridge.events") and the stream created for it when
	// missing (default "SEATBRIDGE_EVENTS").
	Prefix string
	Stream string
	Log    *slog.Logger
	ID     string
	// Interval is the pause between polls when nothing is new (default 500 ms).
	Interval time.Duration
	Wake     <-chan struct{}
}

// sinkName keys the sink's cursors in the database.
const sinkName = "nats"

func (s *NATSSink) defaults() {
	if s.Prefix == "" {
		s.Prefix = "seatbridge.events"
	}
	if s.Stream == "" {
		s.Stream = "SEATBRIDGE_EVENTS"
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.ID == "" {
		host, _ := os.Hostname()
		s.ID = host + ":" + strconv.Itoa(os.Getpid()) + ":nats"
	}
	if s.Interval <= 0 {
		s.Interval = 500 * time.Millisecond
	}
}

// Connect opens the connection and makes sure the stream exists.
func (s *NATSSink) Connect(ctx context.Context) (jetstream.JetStream, func(), error) {
	s.defaults()
	nc, err := nats.Connect(s.URL, nats.Name("seatbridge"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: s.Stream, Subjects: []string{s.Prefix + ".>"}})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		nc.Close()
		return nil, nil, fmt.Errorf("create stream %s: %w", s.Stream, err)
	}
	return js, nc.Close, nil
}

// Run publishes until ctx ends.
func (s *NATSSink) Run(ctx context.Context) error {
	s.defaults()
	js, closeFn, err := s.Connect(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	for {
		n, err := s.RunOnce(ctx, js)
		if err != nil && ctx.Err() == nil {
			s.Log.ErrorContext(ctx, "NATS sink poll failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		if _, ok := poll.Wait(ctx, s.Interval, s.Wake); !ok {
			return nil
		}
	}
}

// RunOnce publishes one claim's events and returns how many it published.
func (s *NATSSink) RunOnce(ctx context.Context, js jetstream.JetStream) (int, error) {
	s.defaults()
	batches, err := s.Source.ClaimSink(ctx, sinkName, s.ID, 10)
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, b := range batches {
		var done int64
		for _, ev := range b.Events {
			body, err := json.Marshal(ev)
			if err != nil {
				errs = append(errs, err)
				break
			}
			msg := nats.NewMsg(s.Prefix + "." + ev.TenantID + "." + ev.Type)
			msg.Data = body
			msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				errs = append(errs, fmt.Errorf("publish %s: %w", ev.ID, err))
				break // keep the order: the rest waits for the next claim
			}
			done = ev.Seq
			total++
		}
		// Record what was published even if ctx ended meanwhile.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if done > 0 {
			if err := s.Source.ReleaseSink(rctx, sinkName, s.ID, b.TenantID, done); err != nil {
				errs = append(errs, err)
			}
		} else if len(b.Events) > 0 {
			if err := s.Source.ReleaseSink(rctx, sinkName, s.ID, b.TenantID, 0); err != nil {
				errs = append(errs, err)
			}
		}
		cancel()
	}
	return total, errors.Join(errs...)
}
