package mail

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/seatbridge/seatbridge/internal/poll"
	"github.com/seatbridge/seatbridge/provisioning"
)

// Outbox is the provisioning side the worker drains; *provisioning.Accounts implements it.
type Outbox interface {
	ClaimMail(ctx context.Context, worker string, limit int) ([]provisioning.Mail, error)
	MailSent(ctx context.Context, m provisioning.Mail, worker string) error
	MailFailed(ctx context.Context, m provisioning.Mail, worker, reason string, permanent bool) error
}

// Transport sends one message; *Sender implements it. Errors that are a *DeliveryError
// with Permanent set suppress the address.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Worker delivers the outbox. Several replicas may each run one: claims are leases in the
// database, so a message goes to one worker at a time and to another if that one dies.
type Worker struct {
	Outbox    Outbox
	Transport Transport
	Templates *Templates
	Log       *slog.Logger
	// ID names this worker in claims (default host name and process id).
	ID string
	// Interval is the pause between polls when the outbox is empty (default 5 s).
	Interval time.Duration
	// Batch is how many messages one poll claims (default 10).
	Batch int
}

func (w *Worker) defaults() {
	if w.ID == "" {
		host, _ := os.Hostname()
		w.ID = host + ":" + strconv.Itoa(os.Getpid())
	}
	if w.Interval <= 0 {
		w.Interval = 5 * time.Second
	}
	if w.Batch <= 0 {
		w.Batch = 10
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
}

// Run polls until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	w.Log.InfoContext(ctx, "mail worker started", "worker", w.ID)
	for {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.ErrorContext(ctx, "mail worker poll failed", "err", err)
		}
		if n == w.Batch && err == nil {
			continue // more may be waiting
		}
		if _, ok := poll.Wait(ctx, w.Interval, nil); !ok {
			return nil
		}
	}
}

// RunOnce claims one batch and tries each message once. It returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	msgs, err := w.Outbox.ClaimMail(ctx, w.ID, w.Batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, m := range msgs {
		if err := w.deliver(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return len(msgs), errors.Join(errs...)
}

func (w *Worker) deliver(ctx context.Context, m provisioning.Mail) error {
	log := w.Log.With("message", m.ID, "tenant", m.TenantID, "kind", string(m.Kind), "attempt", m.Attempts)
	msg, err := w.Templates.Render(m)
	if err != nil {
		log.ErrorContext(ctx, "mail render failed", "err", err)
		return w.Outbox.MailFailed(ctx, m, w.ID, "render: "+err.Error(), false)
	}
	err = w.Transport.Send(ctx, msg)
	if err == nil {
		log.InfoContext(ctx, "mail sent")
		return w.Outbox.MailSent(ctx, m, w.ID)
	}
	var de *DeliveryError
	permanent := errors.As(err, &de) && de.Permanent
	// The recipient address is personal data and the error carries no secret; the
	// message body (link, password) is never logged.
	log.WarnContext(ctx, "mail delivery failed", "permanent", permanent, "err", err)
	return w.Outbox.MailFailed(ctx, m, w.ID, err.Error(), permanent)
}
