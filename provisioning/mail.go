package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sealer encrypts values at rest; internal/secretbox.Box implements it. context binds a
// sealed value to its purpose so that it cannot be moved elsewhere.
type Sealer interface {
	Seal(plaintext []byte, context string) ([]byte, error)
	Open(sealed []byte, context string) ([]byte, error)
}

// MailKind names a mail template.
type MailKind string

// The mails Seatbridge sends.
const (
	MailInvitation  MailKind = "invitation"
	MailCredentials MailKind = "credentials"
)

// MailData is what a template needs. It is sealed in the outbox because Token and
// Password are secrets.
type MailData struct {
	TenantName  string    `json:"tenantName"`
	TenantSlug  string    `json:"tenantSlug"`
	Email       string    `json:"email"`
	DisplayName string    `json:"displayName,omitempty"`
	InvitedBy   string    `json:"invitedBy,omitempty"`
	Token       string    `json:"token,omitempty"`
	Password    string    `json:"password,omitempty"`
	MustChange  bool      `json:"mustChange,omitempty"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"`
	Roles       []string  `json:"roles,omitempty"`
}

// Outbox message states.
const (
	OutboxPending    = "pending"
	OutboxSent       = "sent"
	OutboxFailed     = "failed"
	OutboxSuppressed = "suppressed"
	OutboxCancelled  = "cancelled"
)

// OutboxMessage is one row of the transactional outbox.
type OutboxMessage struct {
	ID            string
	TenantID      string
	Kind          MailKind
	RefID         string
	To            string
	Payload       []byte // sealed MailData; nil once the message is final
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
}

// Suppression is an address of a tenant no mail goes to, because its server refused our
// mail permanently.
type Suppression struct {
	TenantID  string    `json:"tenantId"`
	Email     string    `json:"email"`
	Reason    string    `json:"reason"`
	MessageID string    `json:"messageId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// RetryPolicy spaces delivery attempts after temporary failures.
type RetryPolicy struct {
	MaxAttempts int
	Base        time.Duration
	Max         time.Duration
	// Lease is how long a worker holds a claimed message; after it another replica may
	// take the message over (the first one crashed).
	Lease time.Duration
}

// DefaultRetry tries for about a day: 1m, 2m, 4m … capped at 2h, 12 attempts.
var DefaultRetry = RetryPolicy{MaxAttempts: 12, Base: time.Minute, Max: 2 * time.Hour, Lease: 5 * time.Minute}

// Backoff is the delay after the given number of failed attempts.
func (p RetryPolicy) Backoff(attempts int) time.Duration {
	d := p.Base
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Mail is a claimed outbox message, opened and ready to render and send.
type Mail struct {
	ID       string
	TenantID string
	Kind     MailKind
	RefID    string
	To       string
	Attempts int
	Data     MailData
}

func mailContext(id string) string { return "mail-outbox:" + id }

// enqueue seals data and inserts the message in tx, so that the mail goes out if and only
// if the change that causes it commits.
func (a *Accounts) enqueue(ctx context.Context, tx Tx, tenantID string, kind MailKind, refID, to string, data MailData) error {
	if a.Sealer == nil {
		return errors.New("accounts: no sealer configured for the mail outbox")
	}
	if _, err := NormalizeEmail("email", to); err != nil {
		// SCIM stores e-mail values as the directory sends them, "@" or not: only a real
		// address is ever mailed.
		return Invalid("email", "%q cannot receive mail: it is not an e-mail address", to)
	}
	plain, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("mail payload: %w", err)
	}
	now := a.now()
	m := &OutboxMessage{ID: a.NewID(), TenantID: tenantID, Kind: kind, RefID: refID, To: to, Status: OutboxPending,
		NextAttemptAt: now, CreatedAt: now}
	if m.Payload, err = a.Sealer.Seal(plain, mailContext(m.ID)); err != nil {
		return fmt.Errorf("seal mail payload: %w", err)
	}
	return tx.EnqueueMail(ctx, m)
}

// ClaimMail leases due messages to worker and returns those that may be sent. Messages to
// suppressed addresses are closed here without being sent.
func (a *Accounts) ClaimMail(ctx context.Context, worker string, limit int) ([]Mail, error) {
	s := a.Store
	msgs, err := s.ClaimMail(ctx, worker, a.now(), a.Retry.Lease, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Mail, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if sup, err := s.GetSuppression(ctx, m.TenantID, m.To); err == nil {
			if err := a.finish(ctx, m, worker, OutboxSuppressed, "address suppressed: "+sup.Reason, false); err != nil {
				return nil, err
			}
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		plain, err := a.Sealer.Open(m.Payload, mailContext(m.ID))
		var data MailData
		if err == nil {
			err = json.Unmarshal(plain, &data)
		}
		if err != nil {
			a.Log.ErrorContext(ctx, "mail payload cannot be opened", "message", m.ID, "err", err)
			if err := a.finish(ctx, m, worker, OutboxFailed, "payload cannot be opened (secret key changed?)", false); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, Mail{ID: m.ID, TenantID: m.TenantID, Kind: m.Kind, RefID: m.RefID, To: m.To, Attempts: m.Attempts, Data: data})
	}
	return out, nil
}

// MailSent records a delivered message.
func (a *Accounts) MailSent(ctx context.Context, m Mail, worker string) error {
	return a.finish(ctx, &OutboxMessage{ID: m.ID, TenantID: m.TenantID, Kind: m.Kind, RefID: m.RefID, To: m.To, Attempts: m.Attempts},
		worker, OutboxSent, "", false)
}

// MailFailed records a failed attempt. A permanent failure (the server answered 5xx)
// suppresses the address until an admin clears it; a temporary one is retried with
// exponential backoff until the policy gives up.
func (a *Accounts) MailFailed(ctx context.Context, m Mail, worker, reason string, permanent bool) error {
	reason = truncateReason(reason)
	om := &OutboxMessage{ID: m.ID, TenantID: m.TenantID, Kind: m.Kind, RefID: m.RefID, To: m.To, Attempts: m.Attempts}
	switch {
	case permanent:
		return a.finish(ctx, om, worker, OutboxSuppressed, reason, true)
	case m.Attempts >= a.Retry.MaxAttempts:
		return a.finish(ctx, om, worker, OutboxFailed, fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, reason), false)
	default:
		return a.finish(ctx, om, worker, OutboxPending, reason, false)
	}
}

func truncateReason(s string) string {
	return Truncate(strings.Join(strings.Fields(s), " "), 500)
}

// finish writes a message's outcome, the invitation's delivery state and, for a permanent
// refusal, the suppression entry in one transaction.
func (a *Accounts) finish(ctx context.Context, m *OutboxMessage, worker, status, reason string, suppress bool) error {
	now := a.now()
	m.Status, m.LastError = status, reason
	m.NextAttemptAt = now
	if status == OutboxPending {
		m.NextAttemptAt = now.Add(a.Retry.Backoff(m.Attempts))
	} else {
		m.Payload = nil
	}
	if status == OutboxSent {
		m.SentAt = &now
	}
	err := a.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.FinishMail(ctx, m, worker); err != nil {
			return err
		}
		if suppress {
			s := &Suppression{TenantID: m.TenantID, Email: m.To, Reason: reason, MessageID: m.ID, CreatedAt: now}
			if err := tx.AddSuppression(ctx, s); err != nil {
				return err
			}
			if err := a.audit(ctx, tx, Actor{Kind: ActorSystem, ID: "mail", Name: worker}, m.TenantID, "mail.suppress", "email", m.To, nil, s); err != nil {
				return err
			}
		}
		if m.Kind != MailInvitation || m.RefID == "" {
			return nil
		}
		delivery := map[string]string{OutboxSent: DeliverySent, OutboxPending: DeliveryRetrying, OutboxFailed: DeliveryFailed,
			OutboxSuppressed: DeliverySuppressed}[status]
		_, err := tx.UpdateInvitation(ctx, m.TenantID, m.RefID, func(inv *Invitation) error {
			inv.DeliveryStatus, inv.DeliveryError = delivery, reason
			return nil
		})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
	if errors.Is(err, ErrConflict) {
		// The lease ran out or a resend / revoke cancelled the message meanwhile: its
		// outcome no longer matters.
		a.Log.WarnContext(ctx, "mail outcome dropped: claim lost", "message", m.ID, "status", status)
		return nil
	}
	return err
}

// ListSuppressions lists a tenant's suppressed addresses.
func (a *Accounts) ListSuppressions(ctx context.Context, tenantID string) ([]Suppression, error) {
	s := a.Store
	return s.ListSuppressions(ctx, tenantID)
}

// ClearSuppression lets mail go to an address again (the admin fixed the mailbox).
func (a *Accounts) ClearSuppression(ctx context.Context, actor Actor, tenantID, email string) error {
	return a.Store.InTx(ctx, func(tx Tx) error {
		s, err := tx.GetSuppression(ctx, tenantID, email)
		if err != nil {
			return err
		}
		if err := tx.DeleteSuppression(ctx, tenantID, email); err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, tenantID, "mail.unsuppress", "email", s.Email, s, nil)
	})
}
