package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/seatbridge/seatbridge/internal/poll"
	"github.com/seatbridge/seatbridge/provisioning"
)

// Deliveries is the provisioning side the worker drains; *provisioning.Webhooks
// implements it.
type Deliveries interface {
	FanOut(ctx context.Context, limit int) (int, error)
	ClaimDeliveries(ctx context.Context, worker string, limit int) ([]provisioning.ClaimedDelivery, error)
	FinishDeliveries(ctx context.Context, worker string, ds []provisioning.ClaimedDelivery, rs []provisioning.AttemptResult) error
	PurgeEvents(ctx context.Context, retention time.Duration) (int64, error)
}

// Worker delivers webhooks. Every replica may run one: deliveries are leased in the
// database, so each attempt goes to one worker, and a worker that dies loses its lease
// to another. It runs beside the HTTP server and never inside a SCIM or SSO request.
type Worker struct {
	Deliveries Deliveries
	Client     *http.Client
	Log        *slog.Logger
	// ID names this worker in claims (default host name and process id).
	ID string
	// Interval is the pause between polls when nothing is due (default 500 ms).
	Interval time.Duration
	// Batch is how many deliveries one poll claims (default 500); Parallel how many of
	// them are sent at once (default 8: enough to hide a receiver's latency, few enough
	// not to crowd two cores shared with the server's requests).
	Batch    int
	Parallel int
	// Yield paces the worker while requests are changing data (events committed during
	// its last batch): it pauses Yield times as long as that batch took, at least the
	// coalescing pause and at most MaxPause, so it holds the database and the CPU for at
	// most 1/(1+Yield) of the time and the requests keep the rest (default 9: a tenth of
	// its full rate). On an idle server it does not pause, so a backlog built up during
	// a bulk sync drains at full rate once the sync ends. MaxPause (default 5 s) bounds
	// the pause, so deliveries go on during a long sync: at least one batch per MaxPause
	// plus the batch's own time.
	Yield    float64
	MaxPause time.Duration
	// MaxResponse is how much of a response body is read (default 64 KiB); the rest is
	// dropped and the connection closed.
	MaxResponse int64
	// Retention, when set, purges events and finished deliveries older than it, hourly.
	Retention time.Duration
	// Now is the clock of webhook-timestamp (default time.Now).
	Now func() time.Time
	// Wake, when set, ends the pause between polls early: the store signals it when this
	// process commits events, so they go out at once; events of other replicas are found
	// by the next poll.
	Wake <-chan struct{}
}

func (w *Worker) defaults() {
	if w.ID == "" {
		host, _ := os.Hostname()
		w.ID = host + ":" + strconv.Itoa(os.Getpid())
	}
	if w.Interval <= 0 {
		w.Interval = 500 * time.Millisecond
	}
	if w.Batch <= 0 {
		w.Batch = 500
	}
	if w.Parallel <= 0 {
		w.Parallel = 8
	}
	if w.Yield <= 0 {
		w.Yield = 9
	}
	if w.MaxPause <= 0 {
		w.MaxPause = 5 * time.Second
	}
	if w.MaxResponse <= 0 {
		w.MaxResponse = 64 << 10
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Client == nil {
		w.Client = NewClient(ClientOptions{})
	}
	if w.Now == nil {
		w.Now = time.Now
	}
}

// coalesce is the pause after a wake-up before polling: long enough to gather a burst
// of commits into one batch (every poll costs a few write transactions, which on SQLite
// queue with the SCIM requests' for the single writer), short enough to keep delivery
// well within a second.
const coalesce = 150 * time.Millisecond

// Run polls until ctx ends. The latency it gives: on an idle server (or one with a
// change now and then) an event goes out within coalesce (150 ms) plus one batch's time,
// the pauses being Yield times a small batch's time; while requests keep committing
// changes the worker yields (see Yield), so an event waits for the deliveries queued
// before it at a tenth of the full rate, a batch at least every MaxPause.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	w.Log.InfoContext(ctx, "webhook worker started", "worker", w.ID)
	var lastPurge time.Time
	for {
		if w.Retention > 0 && time.Since(lastPurge) > time.Hour {
			lastPurge = time.Now()
			if n, err := w.Deliveries.PurgeEvents(ctx, w.Retention); err != nil && ctx.Err() == nil {
				w.Log.ErrorContext(ctx, "event purge failed", "err", err)
			} else if n > 0 {
				w.Log.InfoContext(ctx, "events purged", "rows", n)
			}
		}
		w.woken() // a wake-up from before this batch says nothing about load during it
		start := time.Now()
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.ErrorContext(ctx, "webhook worker poll failed", "err", err)
		}
		if n > 0 && err == nil {
			if w.woken() {
				// Requests committed changes meanwhile: give them the database and the
				// CPU for a while, then go on (events keep coming, so do not wait for a
				// wake-up).
				if !sleep(ctx, w.pause(time.Since(start))) {
					return nil
				}
				continue
			}
			if n >= w.Batch {
				continue // an idle server and a full batch: more are waiting
			}
		}
		woke, ok := poll.Wait(ctx, w.Interval, w.Wake)
		if !ok {
			return nil
		}
		// Let a burst of commits gather into one batch: a poll per commit would spend
		// more transactions (SQLite's single writer) than the deliveries need.
		if woke && !sleep(ctx, coalesce) {
			return nil
		}
	}
}

// pause is the yield after a batch that took took while requests were committing.
func (w *Worker) pause(took time.Duration) time.Duration {
	return min(max(time.Duration(float64(took)*w.Yield), coalesce), w.MaxPause)
}

// woken reports, without waiting, whether a wake-up (events committed by this process)
// is pending, and consumes it.
func (w *Worker) woken() bool {
	select {
	case <-w.Wake:
		return true
	default:
		return false
	}
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RunOnce fans new events out into deliveries, then claims one batch and attempts each
// delivery once, in parallel (a claim holds at most one delivery per endpoint and user,
// so parallel sends keep each user's order). It returns how many deliveries it made or
// attempted.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	made, err := w.Deliveries.FanOut(ctx, 500)
	if err != nil {
		return 0, err
	}
	ds, err := w.Deliveries.ClaimDeliveries(ctx, w.ID, w.Batch)
	if err != nil {
		return made, err
	}
	var wg sync.WaitGroup
	rs := make([]provisioning.AttemptResult, len(ds))
	sem := make(chan struct{}, w.Parallel)
	for i := range ds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rs[i] = w.attempt(ctx, &ds[i])
		}()
	}
	wg.Wait()
	// One transaction records the whole batch (see FinishDeliveries). It runs even when
	// ctx ended meanwhile (shutdown): what was sent is recorded, not sent again.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return made + len(ds), w.Deliveries.FinishDeliveries(fctx, w.ID, ds, rs)
}

func (w *Worker) attempt(ctx context.Context, d *provisioning.ClaimedDelivery) provisioning.AttemptResult {
	r := w.Send(ctx, d)
	if r.OK() {
		w.Log.DebugContext(ctx, "webhook delivered", "delivery", d.ID, "tenant", d.TenantID, "endpoint", d.EndpointID,
			"status", r.StatusCode, "latency_ms", r.Latency.Milliseconds())
	} else {
		w.Log.WarnContext(ctx, "webhook delivery failed", "delivery", d.ID, "tenant", d.TenantID, "endpoint", d.EndpointID,
			"event", d.EventID, "attempt", d.Attempts, "status", r.StatusCode, "err", r.Err)
	}
	return r
}

// Send makes one attempt: POST the event with the Standard Webhooks headers.
func (w *Worker) Send(ctx context.Context, d *provisioning.ClaimedDelivery) provisioning.AttemptResult {
	w.defaults()
	// The id stays the same across retries (receivers deduplicate on it); timestamp and
	// signature are fresh for every attempt.
	ts := w.Now()
	sig, err := Sign(d.Secrets, d.EventID, ts, d.Body)
	if err != nil {
		return provisioning.AttemptResult{Err: "sign: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return provisioning.AttemptResult{Err: "request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Seatbridge-Webhooks/1")
	req.Header.Set(HeaderID, d.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	start := time.Now()
	resp, err := w.Client.Do(req)
	if err != nil {
		return provisioning.AttemptResult{Err: err.Error(), Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, w.MaxResponse))
	res := provisioning.AttemptResult{StatusCode: resp.StatusCode, Latency: time.Since(start), Excerpt: string(body)}
	if rerr != nil {
		res.Err = "read response: " + rerr.Error()
	}
	return res
}
