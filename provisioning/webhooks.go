package provisioning

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"
)

// WebhookEndpoint is a URL of the platform that receives the tenant's events, signed
// with the Standard Webhooks scheme. Its signing secrets are sealed at rest.
type WebhookEndpoint struct {
	ID             string    `json:"id"`
	TenantID       string    `json:"tenantId"`
	URL            string    `json:"url"`
	Description    string    `json:"description,omitempty"`
	Events         []string  `json:"events"`
	State          string    `json:"state"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	Version        int64     `json:"version"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// SecretsSealed is the sealed JSON list of WebhookSecret; Cursor is the last event
	// Seq fanned out into deliveries.
	SecretsSealed []byte `json:"-"`
	Cursor        int64  `json:"-"`
}

// The endpoint states.
const (
	WebhookActive   = "active"
	WebhookDisabled = "disabled"
)

// WebhookDisabledByAdmin is the DisabledReason of an endpoint an admin disabled; any
// other reason of a disabled endpoint is the delivery worker's, after persistent failure.
const WebhookDisabledByAdmin = "disabled by an admin"

// WebhookSecret is one signing secret; a rotated-out secret keeps signing until
// ExpiresAt so that the receiver can switch without losing a delivery.
type WebhookSecret struct {
	Secret    string     `json:"secret"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// WebhookDelivery is one event to one endpoint.
type WebhookDelivery struct {
	ID            string     `json:"id"`
	TenantID      string     `json:"tenantId"`
	EndpointID    string     `json:"endpointId"`
	EventSeq      int64      `json:"eventSeq"`
	EventID       string     `json:"eventId"`
	EventType     string     `json:"eventType"`
	UserKey       string     `json:"-"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"nextAttemptAt"`
	LastStatus    int        `json:"lastStatus,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	DeliveredAt   *time.Time `json:"deliveredAt,omitempty"`
}

// The delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// WebhookAttempt is the log of one delivery attempt.
type WebhookAttempt struct {
	ID              string    `json:"id"`
	TenantID        string    `json:"-"`
	DeliveryID      string    `json:"deliveryId"`
	Attempt         int       `json:"attempt"`
	Worker          string    `json:"worker,omitempty"`
	StatusCode      int       `json:"statusCode,omitempty"`
	LatencyMS       int64     `json:"latencyMs"`
	Error           string    `json:"error,omitempty"`
	ResponseExcerpt string    `json:"responseExcerpt,omitempty"`
	At              time.Time `json:"at"`
}

// ClaimedDelivery is a delivery leased to a worker with what it needs to send it.
type ClaimedDelivery struct {
	WebhookDelivery
	URL string
	// SecretsSealed comes from the store; Secrets are the valid signing secrets, opened,
	// newest first.
	SecretsSealed []byte
	Secrets       []string
	Body          []byte // the event as JSON
}

// WebhookRetry spaces delivery attempts: exponential from Base with ±20 % jitter, capped
// at Max, until GiveUpAfter has passed since the delivery was created; then the delivery
// fails and the endpoint is disabled.
type WebhookRetry struct {
	Base        time.Duration
	Max         time.Duration
	GiveUpAfter time.Duration
	Lease       time.Duration
}

// DefaultWebhookRetry retries for about three days: 5 s, 20 s, 80 s, 5 min, 21 min,
// 85 min, 5.7 h, then every 12 h (about 12 attempts).
var DefaultWebhookRetry = WebhookRetry{Base: 5 * time.Second, Max: 12 * time.Hour, GiveUpAfter: 72 * time.Hour, Lease: 2 * time.Minute}

// Backoff is the delay after the given number of failed attempts, jittered.
func (p WebhookRetry) Backoff(attempts int) time.Duration {
	d := p.Base
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 4
	}
	d = min(d, p.Max)
	// ±20 % jitter keeps retries of many deliveries from arriving at the same instant.
	span := int64(d) * 2 / 5
	if span > 0 {
		if n, err := rand.Int(rand.Reader, big.NewInt(span)); err == nil {
			d += time.Duration(n.Int64() - span/2)
		}
	}
	return d
}

// WebhookSecretPrefix starts every signing secret (Standard Webhooks).
const WebhookSecretPrefix = "whsec_"

// WebhookSecretContext is the secretbox context of an endpoint's sealed secrets.
func WebhookSecretContext(endpointID string) string { return "webhook-secrets:" + endpointID }

// Webhooks manages webhook endpoints and their deliveries on top of the engine.
type Webhooks struct {
	*Engine
	Sealer Sealer
	Retry  WebhookRetry
	// RotationOverlap is how long a rotated-out secret keeps signing (default 24 h).
	RotationOverlap time.Duration
	// CheckURL, when set, refuses an endpoint URL when it is created or changed (the
	// wiring sets the delivery client's SSRF rule: no loopback, private or link-local
	// address unless the operator allows them). The client refuses such addresses when
	// it dials anyway; checking early tells the admin at once and stores nothing. Its
	// error text is shown to the admin next to the URL.
	CheckURL func(ctx context.Context, u *url.URL) error
}

// NewWebhooks returns the webhook service with the default retry policy.
func NewWebhooks(e *Engine, sealer Sealer) *Webhooks {
	return &Webhooks{Engine: e, Sealer: sealer, Retry: DefaultWebhookRetry, RotationOverlap: 24 * time.Hour}
}

// WebhookRequest creates or changes an endpoint; nil fields are left alone on update.
type WebhookRequest struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Events      *[]string `json:"events"`
	// Enabled re-enables (true) or disables (false) the endpoint.
	Enabled *bool `json:"enabled"`
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Invalid("url", "must be an absolute http(s) URL without credentials or fragment")
	}
	if len(raw) > 2048 {
		return Invalid("url", "must be at most 2048 characters")
	}
	return nil
}

// checkURL applies the syntax rules and then the operator's CheckURL.
func (w *Webhooks) checkURL(ctx context.Context, raw string) error {
	if err := checkWebhookURL(raw); err != nil {
		return err
	}
	if w.CheckURL == nil {
		return nil
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Invalid("url", "is not a valid URL")
	}
	if err := w.CheckURL(ctx, u); err != nil {
		return Invalid("url", "%s", err.Error())
	}
	return nil
}

func checkEventFilter(f []string) error {
	if len(f) == 0 {
		return Invalid("events", "list at least one event type, \"kind.*\" or \"*\"")
	}
	for _, x := range f {
		if !ValidEventFilter(x) {
			return Invalid("events", "unknown event type or pattern %q", x)
		}
	}
	return nil
}

func newWebhookSecret() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(raw), nil
}

func (w *Webhooks) seal(id string, secrets []WebhookSecret) ([]byte, error) {
	b, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	return w.Sealer.Seal(b, WebhookSecretContext(id))
}

func (w *Webhooks) open(ep *WebhookEndpoint) ([]WebhookSecret, error) {
	b, err := w.Sealer.Open(ep.SecretsSealed, WebhookSecretContext(ep.ID))
	if err != nil {
		return nil, fmt.Errorf("open webhook secrets of %s: %w", ep.ID, err)
	}
	var out []WebhookSecret
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("webhook secrets of %s: %w", ep.ID, err)
	}
	return out, nil
}

// CreateWebhook registers an endpoint that receives the tenant's events from now on. The
// signing secret is returned once; only its sealed form is kept.
func (w *Webhooks) CreateWebhook(ctx context.Context, actor Actor, tenantID string, req WebhookRequest) (*WebhookEndpoint, string, error) {
	if req.URL == nil {
		return nil, "", Invalid("url", "is required")
	}
	if err := w.checkURL(ctx, *req.URL); err != nil {
		return nil, "", err
	}
	events := []string{"*"}
	if req.Events != nil {
		events = *req.Events
	}
	if err := checkEventFilter(events); err != nil {
		return nil, "", err
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return nil, "", err
	}
	now := w.now()
	ep := &WebhookEndpoint{ID: "wh_" + strings.ReplaceAll(w.NewID(), "-", ""), TenantID: tenantID, URL: strings.TrimSpace(*req.URL),
		Events: events, State: WebhookActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	if req.Description != nil {
		ep.Description = strings.TrimSpace(*req.Description)
	}
	if ep.SecretsSealed, err = w.seal(ep.ID, []WebhookSecret{{Secret: secret}}); err != nil {
		return nil, "", err
	}
	s := w.Store
	err = w.Store.InTx(ctx, func(tx Tx) error {
		// Deliveries start with the next event: the endpoint never receives history.
		if ep.Cursor, err = s.LastEventSeq(ctx, tenantID); err != nil {
			return err
		}
		if err := tx.CreateWebhook(ctx, ep); err != nil {
			return err
		}
		return w.audit(ctx, tx, actor, tenantID, "webhook.create", "webhook", ep.ID, nil, ep)
	})
	if err != nil {
		return nil, "", err
	}
	return ep, secret, nil
}

// ListWebhooks lists the tenant's endpoints.
func (w *Webhooks) ListWebhooks(ctx context.Context, tenantID string) ([]WebhookEndpoint, error) {
	s := w.Store
	return s.ListWebhooks(ctx, tenantID)
}

// GetWebhook returns one endpoint.
func (w *Webhooks) GetWebhook(ctx context.Context, tenantID, id string) (*WebhookEndpoint, error) {
	s := w.Store
	return s.GetWebhook(ctx, tenantID, id)
}

// UpdateWebhook changes an endpoint's URL, description, filter or state.
func (w *Webhooks) UpdateWebhook(ctx context.Context, actor Actor, tenantID, id string, req WebhookRequest) (*WebhookEndpoint, error) {
	if req.URL != nil {
		if err := w.checkURL(ctx, *req.URL); err != nil {
			return nil, err
		}
	}
	if req.Events != nil {
		if err := checkEventFilter(*req.Events); err != nil {
			return nil, err
		}
	}
	var out *WebhookEndpoint
	err := w.Store.InTx(ctx, func(tx Tx) error {
		var before WebhookEndpoint
		ep, err := tx.UpdateWebhook(ctx, tenantID, id, func(ep *WebhookEndpoint) error {
			before = *ep
			if req.URL != nil {
				ep.URL = strings.TrimSpace(*req.URL)
			}
			if req.Description != nil {
				ep.Description = strings.TrimSpace(*req.Description)
			}
			if req.Events != nil {
				ep.Events = *req.Events
			}
			if req.Enabled != nil {
				if *req.Enabled {
					ep.State, ep.DisabledReason = WebhookActive, ""
				} else if ep.State == WebhookActive {
					ep.State, ep.DisabledReason = WebhookDisabled, WebhookDisabledByAdmin
				}
			}
			ep.UpdatedAt = w.now()
			return nil
		})
		if err != nil {
			return err
		}
		out = ep
		return w.audit(ctx, tx, actor, tenantID, "webhook.update", "webhook", id, &before, ep)
	})
	return out, err
}

// RotateWebhookSecret issues a new signing secret, returned once. The previous one keeps
// signing for RotationOverlap, so deliveries carry both signatures meanwhile.
func (w *Webhooks) RotateWebhookSecret(ctx context.Context, actor Actor, tenantID, id string) (string, error) {
	secret, err := newWebhookSecret()
	if err != nil {
		return "", err
	}
	err = w.Store.InTx(ctx, func(tx Tx) error {
		var openErr error
		_, err := tx.UpdateWebhook(ctx, tenantID, id, func(ep *WebhookEndpoint) error {
			old, err := w.open(ep)
			if err != nil {
				openErr = err
				return err
			}
			now := w.now()
			until := now.Add(w.RotationOverlap)
			keep := []WebhookSecret{{Secret: secret}}
			for _, s := range old {
				if s.ExpiresAt == nil {
					s.ExpiresAt = &until
				}
				if s.ExpiresAt.After(now) {
					keep = append(keep, s)
				}
			}
			if len(keep) > 2 {
				keep = keep[:2] // at most two valid at once: the newest and the one before
			}
			ep.SecretsSealed, err = w.seal(ep.ID, keep)
			ep.UpdatedAt = now
			return err
		})
		if err != nil {
			if openErr != nil {
				return openErr
			}
			return err
		}
		return w.audit(ctx, tx, actor, tenantID, "webhook.rotate_secret", "webhook", id, nil, nil)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// DeleteWebhook removes an endpoint with its deliveries.
func (w *Webhooks) DeleteWebhook(ctx context.Context, actor Actor, tenantID, id string) error {
	return w.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.DeleteWebhook(ctx, tenantID, id); err != nil {
			return err
		}
		return w.audit(ctx, tx, actor, tenantID, "webhook.delete", "webhook", id, nil, nil)
	})
}

// ListDeliveries lists an endpoint's newest deliveries.
func (w *Webhooks) ListDeliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]WebhookDelivery, error) {
	s := w.Store
	if _, err := s.GetWebhook(ctx, tenantID, endpointID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.ListDeliveries(ctx, tenantID, endpointID, limit)
}

// ListAttempts lists the attempts of one delivery.
func (w *Webhooks) ListAttempts(ctx context.Context, tenantID, deliveryID string) ([]WebhookAttempt, error) {
	s := w.Store
	return s.ListAttempts(ctx, tenantID, deliveryID)
}

// ReplayDelivery sends a delivery again (after a fix on the receiver's side); its retry
// window starts over.
func (w *Webhooks) ReplayDelivery(ctx context.Context, actor Actor, tenantID, endpointID, id string) (*WebhookDelivery, error) {
	var out *WebhookDelivery
	err := w.Store.InTx(ctx, func(tx Tx) error {
		d, err := tx.ReplayDelivery(ctx, tenantID, endpointID, id, w.now())
		if err != nil {
			return err
		}
		out = d
		return w.audit(ctx, tx, actor, tenantID, "webhook.replay", "webhook_delivery", id, nil, nil)
	})
	return out, err
}

// FanOut creates the deliveries of new events for every active endpoint.
func (w *Webhooks) FanOut(ctx context.Context, limit int) (int, error) {
	s := w.Store
	return s.FanOutWebhooks(ctx, w.now(), limit, func(ep *WebhookEndpoint) ([]string, bool) { return SelectedEventTypes(ep.Events) })
}

// SelectedEventTypes lists the event types a filter selects (MatchEventFilter as a
// list, so that the store can select the events itself); all is true for "*", which
// selects every type, listed or not.
func SelectedEventTypes(filters []string) (types []string, all bool) {
	if slices.Contains(filters, "*") {
		return nil, true
	}
	for _, t := range EventTypes {
		if MatchEventFilter(filters, t) {
			types = append(types, t)
		}
	}
	return types, false
}

// ClaimDeliveries leases due deliveries to worker with their signing secrets opened.
func (w *Webhooks) ClaimDeliveries(ctx context.Context, worker string, limit int) ([]ClaimedDelivery, error) {
	s := w.Store
	ds, err := s.ClaimDeliveries(ctx, worker, w.now(), w.Retry.Lease, limit)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if ds[i].Secrets, err = w.OpenSecrets(&WebhookEndpoint{ID: ds[i].EndpointID, SecretsSealed: ds[i].SecretsSealed}); err != nil {
			return nil, err
		}
		ds[i].SecretsSealed = nil
	}
	return ds, nil
}

// OpenSecrets returns the endpoint's signing secrets still valid at now, newest first.
func (w *Webhooks) OpenSecrets(ep *WebhookEndpoint) ([]string, error) {
	all, err := w.open(ep)
	if err != nil {
		return nil, err
	}
	now := w.now()
	var out []string
	for _, s := range all {
		if s.ExpiresAt == nil || s.ExpiresAt.After(now) {
			out = append(out, s.Secret)
		}
	}
	return out, nil
}

// AttemptResult is the outcome of one delivery attempt.
type AttemptResult struct {
	StatusCode int
	Latency    time.Duration
	Err        string
	Excerpt    string
}

// OK reports whether the receiver accepted the delivery (any 2xx).
func (r AttemptResult) OK() bool { return r.Err == "" && r.StatusCode >= 200 && r.StatusCode < 300 }

// FinishDelivery logs the attempt and moves the delivery on: delivered, retried later
// with backoff, or failed when the retry window has passed, which disables the endpoint
// (audited, with a webhook.disabled event).
func (w *Webhooks) FinishDelivery(ctx context.Context, worker string, d *ClaimedDelivery, r AttemptResult) error {
	return w.FinishDeliveries(ctx, worker, []ClaimedDelivery{*d}, []AttemptResult{r})
}

// FinishDeliveries is FinishDelivery for a batch, in one transaction: on SQLite every
// transaction takes the single writer that SCIM requests also wait for, so a worker
// finishing deliveries one by one would slow provisioning down. A delivery whose claim
// was lost (its lease expired and another worker took it) is skipped, not an error for
// the others.
func (w *Webhooks) FinishDeliveries(ctx context.Context, worker string, ds []ClaimedDelivery, rs []AttemptResult) error {
	if len(ds) != len(rs) {
		return fmt.Errorf("finish deliveries: %d deliveries, %d results", len(ds), len(rs))
	}
	if len(ds) == 0 {
		return nil
	}
	var lost []error
	err := w.Store.InTx(ctx, func(tx Tx) error {
		lost = lost[:0]
		// The common case, accepted deliveries, takes a few statements for the whole
		// batch; failures go one by one (backoff, give-up, disabling).
		now := w.now()
		var attempts []*WebhookAttempt
		for i := range ds {
			if rs[i].OK() {
				attempts = append(attempts, w.attemptOf(worker, &ds[i], rs[i], now))
			}
		}
		n, err := tx.MarkDelivered(ctx, attempts, worker)
		if err != nil {
			return err
		}
		if n != len(attempts) {
			// Leases ran out and another worker took some over: it will record them.
			lost = append(lost, fmt.Errorf("%d of %d deliveries: claim lost: %w", len(attempts)-n, len(attempts), ErrConflict))
		}
		for i := range ds {
			if rs[i].OK() {
				continue
			}
			err := w.finishTx(ctx, tx, worker, &ds[i], rs[i])
			if errors.Is(err, ErrConflict) {
				lost = append(lost, err)
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(lost...)
}

func (w *Webhooks) attemptOf(worker string, d *ClaimedDelivery, r AttemptResult, now time.Time) *WebhookAttempt {
	return &WebhookAttempt{ID: "wha_" + strings.ReplaceAll(w.NewID(), "-", ""), TenantID: d.TenantID, DeliveryID: d.ID, Attempt: d.Attempts,
		Worker: worker, StatusCode: r.StatusCode, LatencyMS: r.Latency.Milliseconds(), Error: Truncate(r.Err, 500),
		ResponseExcerpt: Truncate(r.Excerpt, 1024), At: now}
}

func (w *Webhooks) finishTx(ctx context.Context, tx Tx, worker string, d *ClaimedDelivery, r AttemptResult) error {
	now := w.now()
	a := w.attemptOf(worker, d, r, now)
	upd := d.WebhookDelivery
	upd.LastStatus, upd.LastError = r.StatusCode, a.Error
	giveUp := false
	switch {
	case r.OK():
		upd.Status, upd.DeliveredAt = WebhookDelivered, &now
	case now.Sub(d.CreatedAt) >= w.Retry.GiveUpAfter:
		upd.Status, giveUp = WebhookFailed, true
	default:
		upd.Status, upd.NextAttemptAt = WebhookPending, now.Add(w.Retry.Backoff(d.Attempts))
	}
	{
		if err := tx.FinishDelivery(ctx, &upd, a, worker); err != nil {
			return err
		}
		if !giveUp {
			return nil
		}
		var before WebhookEndpoint
		ep, err := tx.UpdateWebhook(ctx, d.TenantID, d.EndpointID, func(ep *WebhookEndpoint) error {
			before = *ep
			ep.State = WebhookDisabled
			ep.DisabledReason = fmt.Sprintf("deliveries failed for %s (last: %s)", w.Retry.GiveUpAfter, firstNonEmpty(a.Error, fmt.Sprintf("HTTP %d", r.StatusCode)))
			ep.UpdatedAt = now
			return nil
		})
		if err != nil {
			return err
		}
		if before.State == WebhookDisabled {
			return nil
		}
		w.Log.WarnContext(ctx, "webhook endpoint disabled after persistent failure", "tenant", d.TenantID, "endpoint", d.EndpointID)
		return w.audit(ctx, tx, Actor{Kind: ActorSystem, ID: "webhook", Name: worker}, d.TenantID, "webhook.disable", "webhook",
			d.EndpointID, &before, ep)
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// SinkBatch is a tenant's events leased to a broker sink, in Seq order.
type SinkBatch struct {
	TenantID string
	Events   []Event
}

// ClaimSink leases unpublished events of up to limit tenants to a broker sink's worker.
func (w *Webhooks) ClaimSink(ctx context.Context, sink, worker string, limit int) ([]SinkBatch, error) {
	s := w.Store
	return s.ClaimSink(ctx, sink, worker, w.now(), w.Retry.Lease, limit, 500)
}

// ReleaseSink records that the sink published a tenant's events up to seq.
func (w *Webhooks) ReleaseSink(ctx context.Context, sink, worker, tenantID string, seq int64) error {
	s := w.Store
	return s.ReleaseSink(ctx, sink, worker, tenantID, seq)
}

// ClaimLogouts leases due back-channel logouts to worker.
func (w *Webhooks) ClaimLogouts(ctx context.Context, worker string, limit int) ([]LogoutRequest, error) {
	s := w.Store
	return s.ClaimLogouts(ctx, worker, w.now(), w.Retry.Lease, limit)
}

// FinishLogout records a back-channel logout's outcome: sent, retried with backoff, or
// failed after a day (a logout that late no longer protects anything).
func (w *Webhooks) FinishLogout(ctx context.Context, worker string, l *LogoutRequest, sendErr error) error {
	now := w.now()
	status, msg := "sent", ""
	if sendErr != nil {
		msg = Truncate(sendErr.Error(), 500)
		status = "pending"
		l.NextAttemptAt = now.Add(w.Retry.Backoff(l.Attempts))
		if now.Sub(l.CreatedAt) >= 24*time.Hour {
			status = "failed"
		}
	}
	return w.Store.InTx(ctx, func(tx Tx) error { return tx.FinishLogout(ctx, l, status, msg, worker) })
}

// PurgeEvents deletes events and finished deliveries older than retention.
func (w *Webhooks) PurgeEvents(ctx context.Context, retention time.Duration) (int64, error) {
	s := w.Store
	return s.PurgeEvents(ctx, w.now().Add(-retention))
}
