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

// This file implements the store contract's tenants, tokens and seats: tenants and their
// policy, SCIM/API tokens, the tenant row lock and the seat counter (takeSeats, SetSeats).

type tenantRow struct {
	ID        string `db:"id"`
	Slug      string `db:"slug"`
	Name      string `db:"name"`
	SeatLimit int    `db:"seat_limit"`
	SeatsUsed int    `db:"seats_used"`
	Policy    string `db:"policy"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

const tenantCols = `id, slug, name, seat_limit, seats_used, policy, created_at, updated_at`

func (r *tenantRow) tenant() (*provisioning.Tenant, error) {
	t := &provisioning.Tenant{ID: r.ID, Slug: r.Slug, Name: r.Name, SeatLimit: r.SeatLimit, SeatsUsed: r.SeatsUsed,
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if r.Policy != "" {
		if err := json.Unmarshal([]byte(r.Policy), &t.Policy); err != nil {
			return nil, fmt.Errorf("tenant %s policy: %w", r.ID, err)
		}
	}
	if t.Policy.InvitationTTL <= 0 {
		t.Policy.InvitationTTL = provisioning.Duration(provisioning.DefaultInvitationTTL)
	}
	return t, nil
}

func (c *conn) CreateTenant(ctx context.Context, t *provisioning.Tenant) error {
	pol, err := json.Marshal(t.Policy)
	if err != nil {
		return fmt.Errorf("tenant policy: %w", err)
	}
	_, err = c.exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, 0, ?, ?, ?)`,
		t.ID, t.Slug, t.Name, t.SeatLimit, string(pol), micros(t.CreatedAt), micros(t.UpdatedAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "slug", Value: t.Slug}
	}
	if err != nil {
		return fmt.Errorf("create tenant: %w", err)
	}
	return nil
}

func (c *conn) GetTenant(ctx context.Context, id string) (*provisioning.Tenant, error) {
	var r tenantRow
	if err := c.get(ctx, &r, `SELECT `+tenantCols+` FROM tenants WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	return r.tenant()
}

func (c *conn) GetTenantBySlug(ctx context.Context, slug string) (*provisioning.Tenant, error) {
	var r tenantRow
	if err := c.get(ctx, &r, `SELECT `+tenantCols+` FROM tenants WHERE slug = ?`, slug); err != nil {
		return nil, fmt.Errorf("tenant %q: %w", slug, err)
	}
	return r.tenant()
}

func (c *conn) ListTenants(ctx context.Context) ([]provisioning.Tenant, error) {
	var rows []tenantRow
	if err := c.selectx(ctx, &rows, `SELECT `+tenantCols+` FROM tenants ORDER BY slug`); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return fromRows(rows, (*tenantRow).tenant)
}

// UpdateTenant changes name, seat limit and policy; seats_used is the store's own count and
// is never taken from fn.
func (c *conn) UpdateTenant(ctx context.Context, id string, fn func(*provisioning.Tenant) error) (*provisioning.Tenant, error) {
	var r tenantRow
	if err := c.get(ctx, &r, `SELECT `+tenantCols+` FROM tenants WHERE id = ?`+c.forUpdate(), id); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	t, err := r.tenant()
	if err != nil {
		return nil, err
	}
	used := t.SeatsUsed
	if err := fn(t); err != nil {
		return nil, err
	}
	t.ID, t.SeatsUsed = id, used
	pol, err := json.Marshal(t.Policy)
	if err != nil {
		return nil, fmt.Errorf("tenant policy: %w", err)
	}
	_, err = c.exec(ctx, `UPDATE tenants SET name = ?, seat_limit = ?, policy = ?, updated_at = ? WHERE id = ?`,
		t.Name, t.SeatLimit, string(pol), micros(t.UpdatedAt), id)
	if errors.Is(err, errCheck) {
		return nil, provisioning.Invalid("seatLimit", "is below the %d seats in use", used)
	}
	if err != nil {
		return nil, fmt.Errorf("update tenant: %w", err)
	}
	return t, nil
}

// takeSeats moves n seats (negative to free) in one conditional UPDATE: the row lock it takes
// orders concurrent assigners, and the WHERE clause re-checked after the lock makes the
// limit hold without a separate read.
func (c *conn) takeSeats(ctx context.Context, tenantID string, n int) error {
	if n == 0 {
		return nil
	}
	if n < 0 {
		_, err := c.exec(ctx, `UPDATE tenants SET seats_used = seats_used + ? WHERE id = ? AND seats_used + ? >= 0`, n, tenantID, n)
		if err != nil {
			return fmt.Errorf("free seats: %w", err)
		}
		return nil
	}
	res, err := c.exec(ctx, `UPDATE tenants SET seats_used = seats_used + ? WHERE id = ? AND seats_used + ? <= seat_limit`, n, tenantID, n)
	if err != nil && !errors.Is(err, errCheck) {
		return fmt.Errorf("take seats: %w", err)
	}
	if err == nil {
		if affected, _ := res.RowsAffected(); affected == 1 {
			return nil
		}
	}
	var lim struct {
		Limit int `db:"seat_limit"`
		Used  int `db:"seats_used"`
	}
	if err := c.get(ctx, &lim, `SELECT seat_limit, seats_used FROM tenants WHERE id = ?`, tenantID); err != nil {
		return fmt.Errorf("seat count: %w", err)
	}
	free := lim.Limit - lim.Used
	if free < 0 {
		free = 0
	}
	return &provisioning.SeatLimitError{Requested: n, Free: free, Limit: lim.Limit}
}

type tokenRow struct {
	ID         string        `db:"id"`
	TenantID   string        `db:"tenant_id"`
	Kind       string        `db:"kind"`
	Name       string        `db:"name"`
	SecretHash []byte        `db:"secret_hash"`
	CreatedAt  int64         `db:"created_at"`
	LastUsedAt sql.NullInt64 `db:"last_used_at"`
	RevokedAt  sql.NullInt64 `db:"revoked_at"`
}

const tokenCols = `id, tenant_id, kind, name, secret_hash, created_at, last_used_at, revoked_at`

func (r *tokenRow) token() provisioning.APIToken {
	return provisioning.APIToken{ID: r.ID, TenantID: r.TenantID, Kind: provisioning.TokenKind(r.Kind), Name: r.Name,
		SecretHash: r.SecretHash, CreatedAt: fromMicros(r.CreatedAt), LastUsedAt: fromOptMicros(r.LastUsedAt), RevokedAt: fromOptMicros(r.RevokedAt)}
}

func (c *conn) CreateToken(ctx context.Context, t *provisioning.APIToken) error {
	_, err := c.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)`,
		t.ID, t.TenantID, string(t.Kind), t.Name, t.SecretHash, micros(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

func (c *conn) GetToken(ctx context.Context, id string) (*provisioning.APIToken, error) {
	var r tokenRow
	if err := c.get(ctx, &r, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	t := r.token()
	return &t, nil
}

func (c *conn) GetTokenTenant(ctx context.Context, id string) (*provisioning.APIToken, *provisioning.Tenant, error) {
	var r struct {
		tokenRow
		T tenantRow `db:"t"`
	}
	if err := c.get(ctx, &r, `SELECT k.id, k.tenant_id, k.kind, k.name, k.secret_hash, k.created_at, k.last_used_at, k.revoked_at,
		t.id AS "t.id", t.slug AS "t.slug", t.name AS "t.name", t.seat_limit AS "t.seat_limit", t.seats_used AS "t.seats_used",
		t.policy AS "t.policy", t.created_at AS "t.created_at", t.updated_at AS "t.updated_at"
		FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ?`, id); err != nil {
		return nil, nil, fmt.Errorf("token: %w", err)
	}
	tok := r.token()
	tn, err := r.T.tenant()
	if err != nil {
		return nil, nil, err
	}
	return &tok, tn, nil
}

func (c *conn) ListTokens(ctx context.Context, tenantID string) ([]provisioning.APIToken, error) {
	var rows []tokenRow
	if err := c.selectx(ctx, &rows, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant_id = ? ORDER BY created_at, id`, tenantID); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]provisioning.APIToken, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

func (c *conn) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := c.exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?`, micros(at), tenantID, id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

func (c *conn) TouchToken(ctx context.Context, id string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, micros(at), id); err != nil {
		return fmt.Errorf("touch token: %w", err)
	}
	return nil
}

func (c *conn) LockTenant(ctx context.Context, tenantID string) error {
	if c.d != Postgres || !c.inTx {
		return nil
	}
	var id string
	if err := c.get(ctx, &id, `SELECT id FROM tenants WHERE id = ? FOR UPDATE`, tenantID); err != nil {
		return fmt.Errorf("lock tenant: %w", err)
	}
	return nil
}

// SetSeats moves the tenant's seat count by len(ids) in one conditional UPDATE (takeSeats)
// before flipping the users' flags, so a shortage refuses the whole batch.
func (c *conn) SetSeats(ctx context.Context, tenantID string, ids []string, seat bool, at time.Time) error {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil
	}
	n := len(ids)
	if !seat {
		n = -n
	}
	if err := c.takeSeats(ctx, tenantID, n); err != nil {
		return err
	}
	changed := 0
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		res, err := c.exec(ctx, `UPDATE users SET seat = ?, version = version + 1, updated_at = ?
			WHERE tenant_id = ? AND seat = ? AND id IN (`+placeholders(len(chunk))+`)`,
			idArgs([]any{seat, micros(at), tenantID, !seat}, chunk)...)
		if err != nil {
			return fmt.Errorf("set seats: %w", err)
		}
		k, _ := res.RowsAffected()
		changed += int(k)
	}
	if changed != len(ids) {
		// The caller locked the users and passed only those whose flag differs: a mismatch
		// means that contract was broken, and the count would drift.
		return fmt.Errorf("set seats: %d of %d users changed", changed, len(ids))
	}
	return nil
}
