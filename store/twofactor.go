package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

type twoFactorRow struct {
	TenantID      string        `db:"tenant_id"`
	UserID        string        `db:"user_id"`
	Secret        []byte        `db:"totp_secret"`
	ConfirmedAt   sql.NullInt64 `db:"confirmed_at"`
	LastStep      int64         `db:"last_step"`
	RecoveryCodes string        `db:"recovery_codes"`
	CreatedAt     int64         `db:"created_at"`
	UpdatedAt     int64         `db:"updated_at"`
}

const twoFactorCols = `tenant_id, user_id, totp_secret, confirmed_at, last_step, recovery_codes, created_at, updated_at`

func (r *twoFactorRow) twoFactor() (*provisioning.TwoFactor, error) {
	tf := &provisioning.TwoFactor{TenantID: r.TenantID, UserID: r.UserID, SecretSealed: r.Secret,
		ConfirmedAt: fromOptMicros(r.ConfirmedAt), LastStep: r.LastStep, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.RecoveryCodes), &tf.RecoveryHashes); err != nil {
		return nil, fmt.Errorf("two factor %s recovery codes: %w", r.UserID, err)
	}
	return tf, nil
}

// GetTwoFactor returns the user's second factor or ErrNotFound.
func (c *conn) GetTwoFactor(ctx context.Context, tenantID, userID string) (*provisioning.TwoFactor, error) {
	var r twoFactorRow
	if err := c.get(ctx, &r, `SELECT `+twoFactorCols+` FROM two_factor WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
		return nil, fmt.Errorf("two factor %s: %w", userID, err)
	}
	return r.twoFactor()
}

// UpdateTwoFactor locks the user's second factor (a missing one is the zero value with
// CreatedAt unset), applies fn and writes it back.
func (c *conn) UpdateTwoFactor(ctx context.Context, tenantID, userID string, fn func(*provisioning.TwoFactor) error) (*provisioning.TwoFactor, error) {
	// Lock the user row first, as UpdateLocalAccount does, so that two first writers queue.
	var exists int
	if err := c.get(ctx, &exists, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`+c.forUpdate(), tenantID, userID); err != nil {
		return nil, fmt.Errorf("user %s: %w", userID, err)
	}
	var r twoFactorRow
	err := c.get(ctx, &r, `SELECT `+twoFactorCols+` FROM two_factor WHERE tenant_id = ? AND user_id = ?`+c.forUpdate(), tenantID, userID)
	tf := &provisioning.TwoFactor{TenantID: tenantID, UserID: userID}
	switch {
	case err == nil:
		if tf, err = r.twoFactor(); err != nil {
			return nil, err
		}
	case errors.Is(err, provisioning.ErrNotFound):
	default:
		return nil, fmt.Errorf("two factor %s: %w", userID, err)
	}
	if err := fn(tf); err != nil {
		return nil, err
	}
	tf.TenantID, tf.UserID = tenantID, userID
	codes := tf.RecoveryHashes
	if codes == nil {
		codes = []string{}
	}
	raw, err := json.Marshal(codes)
	if err != nil {
		return nil, fmt.Errorf("two factor recovery codes: %w", err)
	}
	if _, err := c.exec(ctx, `INSERT INTO two_factor (`+twoFactorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET totp_secret = excluded.totp_secret, confirmed_at = excluded.confirmed_at,
		last_step = excluded.last_step, recovery_codes = excluded.recovery_codes, updated_at = excluded.updated_at`,
		tenantID, userID, tf.SecretSealed, optMicros(tf.ConfirmedAt), tf.LastStep, string(raw), micros(tf.CreatedAt), micros(tf.UpdatedAt)); err != nil {
		return nil, fmt.Errorf("write two factor %s: %w", userID, err)
	}
	return tf, nil
}

// DeleteTwoFactor removes the user's second factor; a missing one is not an error.
func (c *conn) DeleteTwoFactor(ctx context.Context, tenantID, userID string) error {
	if _, err := c.exec(ctx, `DELETE FROM two_factor WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
		return fmt.Errorf("delete two factor %s: %w", userID, err)
	}
	return nil
}

// ListUserSessions returns the user's sessions open at now, newest first.
func (c *conn) ListUserSessions(ctx context.Context, tenantID, userID string, now time.Time) ([]provisioning.Session, error) {
	var rows []sessionRow
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, user_id, secret_hash, connection_id, amr, created_at, expires_at, ended_at
		FROM sessions WHERE tenant_id = ? AND user_id = ? AND ended_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id LIMIT 200`,
		tenantID, userID, micros(now)); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]provisioning.Session, len(rows))
	for i, r := range rows {
		out[i] = provisioning.Session{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, ConnectionID: r.ConnectionID, AMR: r.AMR,
			CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt)}
	}
	return out, nil
}
