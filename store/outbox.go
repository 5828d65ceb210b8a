package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's mail outbox and suppression list.

type outboxRow struct {
	ID            string        `db:"id"`
	TenantID      string        `db:"tenant_id"`
	Kind          string        `db:"kind"`
	RefID         string        `db:"ref_id"`
	Recipient     string        `db:"recipient"`
	Payload       []byte        `db:"payload"`
	Status        string        `db:"status"`
	Attempts      int           `db:"attempts"`
	NextAttemptAt int64         `db:"next_attempt_at"`
	LastError     string        `db:"last_error"`
	CreatedAt     int64         `db:"created_at"`
	SentAt        sql.NullInt64 `db:"sent_at"`
}

const outboxCols = `id, tenant_id, kind, ref_id, recipient, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at`

func (r *outboxRow) message() provisioning.OutboxMessage {
	return provisioning.OutboxMessage{ID: r.ID, TenantID: r.TenantID, Kind: provisioning.MailKind(r.Kind), RefID: r.RefID,
		To: r.Recipient, Payload: r.Payload, Status: r.Status, Attempts: r.Attempts, NextAttemptAt: fromMicros(r.NextAttemptAt),
		LastError: r.LastError, CreatedAt: fromMicros(r.CreatedAt), SentAt: fromOptMicros(r.SentAt)}
}

func (c *conn) EnqueueMail(ctx context.Context, m *provisioning.OutboxMessage) error {
	if _, err := c.exec(ctx, `INSERT INTO mail_outbox (id, tenant_id, kind, ref_id, recipient, recipient_key, payload, status,
		attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		m.ID, m.TenantID, string(m.Kind), m.RefID, m.To, provisioning.FoldKey(m.To), m.Payload, m.Status,
		micros(m.NextAttemptAt), micros(m.CreatedAt)); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	return nil
}

func (c *conn) CancelMail(ctx context.Context, tenantID, refID string) error {
	if _, err := c.exec(ctx, `UPDATE mail_outbox SET status = 'cancelled', payload = NULL, claimed_by = '', claimed_until = 0
		WHERE tenant_id = ? AND ref_id = ? AND status = 'pending'`, tenantID, refID); err != nil {
		return fmt.Errorf("cancel mail: %w", err)
	}
	return nil
}

// FinishMail only touches a message still pending and claimed by this worker: a worker
// whose lease ran out (another one took over) or whose message was cancelled meanwhile
// must not overwrite the newer state.
func (c *conn) FinishMail(ctx context.Context, m *provisioning.OutboxMessage, worker string) error {
	res, err := c.exec(ctx, `UPDATE mail_outbox SET status = ?, payload = CASE WHEN ? THEN payload ELSE NULL END,
		next_attempt_at = ?, last_error = ?, sent_at = ?, claimed_by = '', claimed_until = 0
		WHERE id = ? AND tenant_id = ? AND status = 'pending' AND claimed_by = ?`,
		m.Status, m.Status == provisioning.OutboxPending, micros(m.NextAttemptAt), m.LastError, optMicros(m.SentAt),
		m.ID, m.TenantID, worker)
	if err != nil {
		return fmt.Errorf("finish mail: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("mail %s: claim lost: %w", m.ID, provisioning.ErrConflict)
	}
	return nil
}

func (c *conn) ListMail(ctx context.Context, tenantID, refID string) ([]provisioning.OutboxMessage, error) {
	var rows []outboxRow
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, kind, ref_id, recipient, NULL AS payload, status, attempts, next_attempt_at,
		last_error, created_at, sent_at FROM mail_outbox WHERE tenant_id = ? AND ref_id = ? ORDER BY created_at, id`, tenantID, refID); err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	out := make([]provisioning.OutboxMessage, len(rows))
	for i := range rows {
		out[i] = rows[i].message()
	}
	return out, nil
}

// ClaimMail leases due messages to worker in one short transaction. On PostgreSQL the
// candidate rows are locked with FOR UPDATE SKIP LOCKED, so replicas claiming at the same
// moment take disjoint sets instead of queueing on each other; the lease written before
// commit keeps them disjoint afterwards. On SQLite the IMMEDIATE transaction is the only
// writer, which gives the same guarantee.
func (db *DB) ClaimMail(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]provisioning.OutboxMessage, error) {
	if limit <= 0 {
		limit = 10
	}
	var out []provisioning.OutboxMessage
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		lock := ""
		if c.d == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		var rows []outboxRow
		if err := c.selectx(ctx, &rows, `SELECT `+outboxCols+` FROM mail_outbox
			WHERE status = 'pending' AND next_attempt_at <= ? AND claimed_until <= ?
			ORDER BY next_attempt_at, id LIMIT ?`+lock, micros(now), micros(now), limit); err != nil {
			return fmt.Errorf("claim mail: %w", err)
		}
		for i := range rows {
			r := &rows[i]
			if _, err := c.exec(ctx, `UPDATE mail_outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 WHERE id = ?`,
				worker, micros(now.Add(lease)), r.ID); err != nil {
				return fmt.Errorf("claim mail: %w", err)
			}
			r.Attempts++
			out = append(out, r.message())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type suppressionRow struct {
	TenantID  string `db:"tenant_id"`
	Email     string `db:"email"`
	Reason    string `db:"reason"`
	MessageID string `db:"message_id"`
	CreatedAt int64  `db:"created_at"`
}

func (r *suppressionRow) suppression() provisioning.Suppression {
	return provisioning.Suppression{TenantID: r.TenantID, Email: r.Email, Reason: r.Reason, MessageID: r.MessageID,
		CreatedAt: fromMicros(r.CreatedAt)}
}

func (c *conn) GetSuppression(ctx context.Context, tenantID, email string) (*provisioning.Suppression, error) {
	var r suppressionRow
	if err := c.get(ctx, &r, `SELECT tenant_id, email, reason, message_id, created_at FROM mail_suppressions
		WHERE tenant_id = ? AND email_key = ?`, tenantID, provisioning.FoldKey(email)); err != nil {
		return nil, fmt.Errorf("suppression: %w", err)
	}
	s := r.suppression()
	return &s, nil
}

func (c *conn) ListSuppressions(ctx context.Context, tenantID string) ([]provisioning.Suppression, error) {
	var rows []suppressionRow
	if err := c.selectx(ctx, &rows, `SELECT tenant_id, email, reason, message_id, created_at FROM mail_suppressions
		WHERE tenant_id = ? ORDER BY created_at DESC, email_key`, tenantID); err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	out := make([]provisioning.Suppression, len(rows))
	for i := range rows {
		out[i] = rows[i].suppression()
	}
	return out, nil
}

// AddSuppression keeps the first refusal of an address: its reason and time are what the
// admin needs to see.
func (c *conn) AddSuppression(ctx context.Context, s *provisioning.Suppression) error {
	if _, err := c.exec(ctx, `INSERT INTO mail_suppressions (tenant_id, email_key, email, reason, message_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, email_key) DO NOTHING`,
		s.TenantID, provisioning.FoldKey(s.Email), s.Email, s.Reason, s.MessageID, micros(s.CreatedAt)); err != nil {
		return fmt.Errorf("add suppression: %w", err)
	}
	return nil
}

func (c *conn) DeleteSuppression(ctx context.Context, tenantID, email string) error {
	res, err := c.exec(ctx, `DELETE FROM mail_suppressions WHERE tenant_id = ? AND email_key = ?`, tenantID, provisioning.FoldKey(email))
	if err != nil {
		return fmt.Errorf("delete suppression: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("suppression %s: %w", email, provisioning.ErrNotFound)
	}
	return nil
}

// OutboxPending counts the messages waiting for delivery, across tenants (metrics).
func (db *DB) OutboxPending(ctx context.Context) (int, error) {
	var n int
	if err := db.conn.get(ctx, &n, `SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'`); err != nil {
		return 0, fmt.Errorf("outbox depth: %w", err)
	}
	return n, nil
}
