package main

import (
	"context"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso/provider"
	"github.com/seatbridge/seatbridge/webhook"
)

// EventsConfig configures the event log, webhook delivery and back-channel logout.
type EventsConfig struct {
	// AllowPrivate lets webhooks reach loopback and private addresses.
	AllowPrivate bool
	Retention    time.Duration
	Poll         time.Duration
	Timeout      time.Duration
	// NATSURL turns on the NATS JetStream sink; NATSPrefix is its subject prefix.
	NATSURL    string
	NATSPrefix string
}

// bindEventFlags adds the event and webhook flags to serve (called from serveFlags).
func bindEventFlags(b *flagBinder, c *EventsConfig) {
	b.boolean(&c.AllowPrivate, "webhook-allow-private", false, "let webhooks reach loopback, link-local and private addresses (tests, private networks)")
	b.duration(&c.Retention, "event-retention", 30*24*time.Hour, "how long events and finished webhook deliveries are kept")
	b.duration(&c.Poll, "webhook-poll", 500*time.Millisecond, "how often the webhook and back-channel logout workers poll when idle")
	b.duration(&c.Timeout, "webhook-timeout", 10*time.Second, "timeout of one webhook request")
	b.str(&c.NATSURL, "nats-url", "", "also publish every event to NATS JetStream at this URL, e.g. nats://127.0.0.1:4222 (empty: off)")
	b.str(&c.NATSPrefix, "nats-subject-prefix", "seatbridge.events", "subject prefix of published events: PREFIX.<tenantId>.<type>")
}

// webhooks is the webhook service of an opened app (it seals signing secrets).
func (a *app) webhooks() (*provisioning.Webhooks, error) {
	box, err := a.secretBox()
	if err != nil {
		return nil, err
	}
	wh := provisioning.NewWebhooks(a.eng, box)
	if !a.cfg.Events.AllowPrivate {
		// The admin API and the console refuse an SSRF target when it is registered.
		wh.CheckURL = webhook.URLGuard{}.Check
	}
	return wh, nil
}

// wakeOnEvents returns a channel signalled when this process commits events.
func wakeOnEvents(a *app) <-chan struct{} { return wakeOn(a.db.OnEvents) }

// wakeOnLogouts returns a channel signalled when this process queues back-channel
// logouts: the sender has nothing to do after the other commits with events.
func wakeOnLogouts(a *app) <-chan struct{} { return wakeOn(a.db.OnLogouts) }

// wakeOn returns a channel that the hook registered with register signals; a signal
// already pending absorbs the next ones.
func wakeOn(register func(func())) <-chan struct{} {
	ch := make(chan struct{}, 1)
	register(func() {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	})
	return ch
}

// runWebhookWorker delivers webhooks until ctx ends; every replica runs one.
func runWebhookWorker(ctx context.Context, a *app) error {
	wh, err := a.webhooks()
	if err != nil {
		return err
	}
	c := a.cfg.Events
	w := &webhook.Worker{Deliveries: wh, Log: a.log.With("worker", "webhook"), Interval: c.Poll, Retention: c.Retention, Wake: wakeOnEvents(a),
		Client: webhook.NewClient(webhook.ClientOptions{AllowPrivate: c.AllowPrivate, Timeout: c.Timeout})}
	return w.Run(ctx)
}

// runLogoutSender sends back-channel logouts until ctx ends; every replica runs one.
func runLogoutSender(ctx context.Context, a *app) error {
	wh, err := a.webhooks()
	if err != nil {
		return err
	}
	svc, err := ssoService(a)
	if err != nil {
		return err
	}
	s := &provider.LogoutSender{P: provider.New(svc), Queue: wh, Log: a.log.With("worker", "backchannel-logout"), Interval: a.cfg.Events.Poll,
		Wake: wakeOnLogouts(a)}
	return s.Run(ctx)
}

// runNATSSink publishes events to NATS JetStream when --nats-url is set.
func runNATSSink(ctx context.Context, a *app) error {
	c := a.cfg.Events
	if c.NATSURL == "" {
		return nil
	}
	wh, err := a.webhooks()
	if err != nil {
		return err
	}
	s := &webhook.NATSSink{Source: wh, URL: c.NATSURL, Prefix: c.NATSPrefix, Log: a.log.With("worker", "nats"), Interval: c.Poll,
		Wake: wakeOnEvents(a)}
	return s.Run(ctx)
}
