package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's invitations, local accounts and second
// factors.

type invitationRow struct {
	ID             string        `db:"id"`
	TenantID       string        `db:"tenant_id"`
	UserID         string        `db:"user_id"`
	Email          string        `db:"email"`
	DisplayName    string        `db:"display_name"`
	Roles          string        `db:"roles"`
	Teams          string        `db:"teams"`
	Seat           bool          `db:"seat"`
	TokenHash      []byte        `db:"token_hash"`
	State          string        `db:"state"`
	ExpiresAt      int64         `db:"expires_at"`
	SentCount      int           `db:"sent_count"`
	DeliveryStatus string        `db:"delivery_status"`
	DeliveryError  string        `db:"delivery_error"`
	InvitedBy      string        `db:"invited_by"`
	CreatedAt      int64         `db:"created_at"`
	UpdatedAt      int64         `db:"updated_at"`
	AcceptedAt     sql.NullInt64 `db:"accepted_at"`
	RevokedAt      sql.NullInt64 `db:"revoked_at"`
}

const invitationCols = `id, tenant_id, user_id, email, display_name, roles, teams, seat, token_hash, state, expires_at,
 sent_count, delivery_status, delivery_error, invited_by, created_at, updated_at, accepted_at, revoked_at`

func (r *invitationRow) invitation() (*provisioning.Invitation, error) {
	inv := &provisioning.Invitation{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, Email: r.Email, DisplayName: r.DisplayName,
		Seat: r.Seat, TokenHash: r.TokenHash, State: provisioning.InvitationState(r.State), ExpiresAt: fromMicros(r.ExpiresAt),
		SentCount: r.SentCount, DeliveryStatus: r.DeliveryStatus, DeliveryError: r.DeliveryError, InvitedBy: r.InvitedBy,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), AcceptedAt: fromOptMicros(r.AcceptedAt),
		RevokedAt: fromOptMicros(r.RevokedAt)}
	if err := json.Unmarshal([]byte(r.Roles), &inv.Roles); err != nil {
		return nil, fmt.Errorf("invitation %s roles: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Teams), &inv.Teams); err != nil {
		return nil, fmt.Errorf("invitation %s teams: %w", r.ID, err)
	}
	return inv, nil
}

func jsonList(s []string) (string, error) {
	if s == nil {
		s = []string{}
	}
	b, err := json.Marshal(s)
	return string(b), err
}

func (c *conn) CreateInvitation(ctx context.Context, inv *provisioning.Invitation) error {
	roles, err := jsonList(inv.Roles)
	if err != nil {
		return fmt.Errorf("invitation roles: %w", err)
	}
	teams, err := jsonList(inv.Teams)
	if err != nil {
		return fmt.Errorf("invitation teams: %w", err)
	}
	_, err = c.exec(ctx, `INSERT INTO invitations (`+invitationCols+`, email_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.TenantID, inv.UserID, inv.Email, inv.DisplayName, roles, teams, inv.Seat, inv.TokenHash, string(inv.State),
		micros(inv.ExpiresAt), inv.SentCount, inv.DeliveryStatus, inv.DeliveryError, inv.InvitedBy, micros(inv.CreatedAt),
		micros(inv.UpdatedAt), optMicros(inv.AcceptedAt), optMicros(inv.RevokedAt), provisioning.FoldKey(inv.Email))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "email", Value: inv.Email, Hint: "already invited: resend the invitation instead"}
	}
	if err != nil {
		return fmt.Errorf("create invitation: %w", err)
	}
	return nil
}

func (c *conn) getInvitation(ctx context.Context, where string, lock bool, args ...any) (*provisioning.Invitation, error) {
	var r invitationRow
	q := `SELECT ` + invitationCols + ` FROM invitations WHERE ` + where
	if lock {
		q += c.forUpdate()
	}
	if err := c.get(ctx, &r, q, args...); err != nil {
		return nil, err
	}
	return r.invitation()
}

func (c *conn) GetInvitation(ctx context.Context, tenantID, id string) (*provisioning.Invitation, error) {
	inv, err := c.getInvitation(ctx, `tenant_id = ? AND id = ?`, false, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("invitation %s: %w", id, err)
	}
	return inv, nil
}

func (c *conn) GetInvitationByToken(ctx context.Context, tokenHash []byte) (*provisioning.Invitation, error) {
	inv, err := c.getInvitation(ctx, `token_hash = ?`, false, tokenHash)
	if err != nil {
		return nil, fmt.Errorf("invitation: %w", err)
	}
	return inv, nil
}

func (c *conn) ListInvitations(ctx context.Context, tenantID string, q provisioning.InvitationQuery) ([]provisioning.Invitation, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	now := micros(q.Now)
	switch q.State {
	case "":
	case provisioning.InvitePending:
		where, args = append(where, "state = 'pending' AND expires_at > ?"), append(args, now)
	case provisioning.InviteExpired:
		where, args = append(where, "state = 'pending' AND expires_at <= ?"), append(args, now)
	default:
		where, args = append(where, "state = ?"), append(args, string(q.State))
	}
	var rows []invitationRow
	if err := c.selectx(ctx, &rows, `SELECT `+invitationCols+` FROM invitations WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limitOr(q.Limit, 1000))...); err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return fromRows(rows, (*invitationRow).invitation)
}

// UpdateInvitation locks the row (FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE
// transaction already excludes other writers), so two concurrent accepts of one token
// run one after the other and the second sees the first's state.
func (c *conn) UpdateInvitation(ctx context.Context, tenantID, id string, fn func(*provisioning.Invitation) error) (*provisioning.Invitation, error) {
	inv, err := c.getInvitation(ctx, `tenant_id = ? AND id = ?`, true, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("invitation %s: %w", id, err)
	}
	if err := fn(inv); err != nil {
		return nil, err
	}
	roles, err := jsonList(inv.Roles)
	if err != nil {
		return nil, fmt.Errorf("invitation roles: %w", err)
	}
	teams, err := jsonList(inv.Teams)
	if err != nil {
		return nil, fmt.Errorf("invitation teams: %w", err)
	}
	_, err = c.exec(ctx, `UPDATE invitations SET display_name = ?, roles = ?, teams = ?, token_hash = ?, state = ?, expires_at = ?,
		sent_count = ?, delivery_status = ?, delivery_error = ?, updated_at = ?, accepted_at = ?, revoked_at = ?
		WHERE tenant_id = ? AND id = ?`,
		inv.DisplayName, roles, teams, inv.TokenHash, string(inv.State), micros(inv.ExpiresAt), inv.SentCount, inv.DeliveryStatus,
		inv.DeliveryError, micros(inv.UpdatedAt), optMicros(inv.AcceptedAt), optMicros(inv.RevokedAt), tenantID, id)
	if errors.Is(err, errUnique) {
		return nil, &provisioning.ConflictError{Field: "email", Value: inv.Email}
	}
	if err != nil {
		return nil, fmt.Errorf("update invitation: %w", err)
	}
	return inv, nil
}

func (c *conn) DeleteInvitedUser(ctx context.Context, tenantID, userID string) error {
	u, _, err := c.DeleteUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	return c.clearTombstone(ctx, tenantID, u.UserName)
}

type localAccountRow struct {
	TenantID          string        `db:"tenant_id"`
	UserID            string        `db:"user_id"`
	PlatformRole      string        `db:"platform_role"`
	MustChange        bool          `db:"must_change"`
	FailedCount       int           `db:"failed_count"`
	LockedUntil       sql.NullInt64 `db:"locked_until"`
	LastFailedAt      sql.NullInt64 `db:"last_failed_at"`
	PasswordChangedAt sql.NullInt64 `db:"password_changed_at"`
}

const localAccountCols = `tenant_id, user_id, platform_role, must_change, failed_count, locked_until, last_failed_at, password_changed_at`

const platformRestricted = "password_restricted"

func (r *localAccountRow) account() *provisioning.LocalAccount {
	return &provisioning.LocalAccount{TenantID: r.TenantID, UserID: r.UserID, PasswordRestricted: r.PlatformRole == platformRestricted,
		MustChange: r.MustChange, FailedCount: r.FailedCount, LockedUntil: fromOptMicros(r.LockedUntil),
		LastFailedAt: fromOptMicros(r.LastFailedAt), PasswordChangedAt: fromOptMicros(r.PasswordChangedAt)}
}

func (c *conn) GetLocalAccount(ctx context.Context, tenantID, userID string) (*provisioning.LocalAccount, error) {
	var r localAccountRow
	if err := c.get(ctx, &r, `SELECT `+localAccountCols+` FROM local_accounts WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
		return nil, fmt.Errorf("local account %s: %w", userID, err)
	}
	return r.account(), nil
}

func (c *conn) UpdateLocalAccount(ctx context.Context, tenantID, userID string, fn func(*provisioning.LocalAccount) error) (*provisioning.LocalAccount, error) {
	// The user row is locked first: it exists for every account, so concurrent first
	// writers of a missing account row queue on it instead of racing to insert.
	var exists int
	if err := c.get(ctx, &exists, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`+c.forUpdate(), tenantID, userID); err != nil {
		return nil, fmt.Errorf("user %s: %w", userID, err)
	}
	var r localAccountRow
	err := c.get(ctx, &r, `SELECT `+localAccountCols+` FROM local_accounts WHERE tenant_id = ? AND user_id = ?`+c.forUpdate(), tenantID, userID)
	acc := &provisioning.LocalAccount{TenantID: tenantID, UserID: userID}
	switch {
	case err == nil:
		acc = r.account()
	case errors.Is(err, provisioning.ErrNotFound):
	default:
		return nil, fmt.Errorf("local account %s: %w", userID, err)
	}
	if err := fn(acc); err != nil {
		return nil, err
	}
	acc.TenantID, acc.UserID = tenantID, userID
	role := "user"
	if acc.PasswordRestricted {
		role = platformRestricted
	}
	_, err = c.exec(ctx, `INSERT INTO local_accounts (`+localAccountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET platform_role = excluded.platform_role, must_change = excluded.must_change,
		failed_count = excluded.failed_count, locked_until = excluded.locked_until, last_failed_at = excluded.last_failed_at,
		password_changed_at = excluded.password_changed_at`,
		tenantID, userID, role, acc.MustChange, acc.FailedCount, optMicros(acc.LockedUntil), optMicros(acc.LastFailedAt),
		optMicros(acc.PasswordChangedAt))
	if err != nil {
		return nil, fmt.Errorf("write local account: %w", err)
	}
	return acc, nil
}

// AcceptUserInvitations marks a user's pending invitations accepted (their first SSO
// sign-in); their queued mail is no longer needed.
func (c *conn) AcceptUserInvitations(ctx context.Context, tenantID, userID string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE invitations SET state = 'accepted', accepted_at = ?, updated_at = ?
		WHERE tenant_id = ? AND user_id = ? AND state = 'pending'`, micros(at), micros(at), tenantID, userID); err != nil {
		return fmt.Errorf("accept invitations: %w", err)
	}
	return nil
}

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
