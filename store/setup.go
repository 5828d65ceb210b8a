package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's set-up links and provisioning log, on the
// pools (DB) and inside transactions (conn).

type setupLinkRow struct {
	ID         string `db:"id"`
	TenantID   string `db:"tenant_id"`
	SecretHash []byte `db:"secret_hash"`
	CreatedBy  string `db:"created_by"`
	Progress   string `db:"progress"`
	CreatedAt  int64  `db:"created_at"`
	ExpiresAt  int64  `db:"expires_at"`
	RevokedAt  *int64 `db:"revoked_at"`
}

const setupLinkCols = `id, tenant_id, secret_hash, created_by, progress, created_at, expires_at, revoked_at`

func (r *setupLinkRow) link() (*provisioning.SetupLink, error) {
	l := &provisioning.SetupLink{ID: r.ID, TenantID: r.TenantID, SecretHash: r.SecretHash, CreatedBy: r.CreatedBy,
		CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt)}
	if r.RevokedAt != nil {
		t := fromMicros(*r.RevokedAt)
		l.RevokedAt = &t
	}
	if err := json.Unmarshal([]byte(r.Progress), &l.Progress); err != nil {
		return nil, fmt.Errorf("set-up link %s progress: %w", r.ID, err)
	}
	return l, nil
}

func (c *conn) CreateSetupLink(ctx context.Context, l *provisioning.SetupLink) error {
	p, err := json.Marshal(l.Progress)
	if err != nil {
		return fmt.Errorf("set-up link progress: %w", err)
	}
	if _, err := c.exec(ctx, `INSERT INTO setup_links (`+setupLinkCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
		l.ID, l.TenantID, l.SecretHash, l.CreatedBy, string(p), micros(l.CreatedAt), micros(l.ExpiresAt)); err != nil {
		return fmt.Errorf("create set-up link: %w", err)
	}
	return nil
}

func (c *conn) GetSetupLink(ctx context.Context, id string) (*provisioning.SetupLink, error) {
	var r setupLinkRow
	if err := c.get(ctx, &r, `SELECT `+setupLinkCols+` FROM setup_links WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("set-up link %s: %w", id, err)
	}
	return r.link()
}

func (c *conn) ListSetupLinks(ctx context.Context, tenantID string) ([]provisioning.SetupLink, error) {
	var rows []setupLinkRow
	if err := c.selectx(ctx, &rows, `SELECT `+setupLinkCols+` FROM setup_links WHERE tenant_id = ? ORDER BY created_at DESC, id`, tenantID); err != nil {
		return nil, fmt.Errorf("list set-up links: %w", err)
	}
	return fromRows(rows, (*setupLinkRow).link)
}

func (c *conn) RevokeSetupLink(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := c.exec(ctx, `UPDATE setup_links SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?`, micros(at), tenantID, id)
	if err != nil {
		return fmt.Errorf("revoke set-up link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set-up link %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

func (c *conn) SaveSetupProgress(ctx context.Context, tenantID, id string, p provisioning.SetupProgress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("set-up link progress: %w", err)
	}
	res, err := c.exec(ctx, `UPDATE setup_links SET progress = ? WHERE tenant_id = ? AND id = ?`, string(b), tenantID, id)
	if err != nil {
		return fmt.Errorf("save set-up progress: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set-up link %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

// SaveSetupProgress writes through the writer pool (DB's embedded conn is the read pool).
func (db *DB) SaveSetupProgress(ctx context.Context, tenantID, id string, p provisioning.SetupProgress) error {
	return db.writer().SaveSetupProgress(ctx, tenantID, id, p)
}

// CreateSetupLink writes through the writer pool.
func (db *DB) CreateSetupLink(ctx context.Context, l *provisioning.SetupLink) error {
	return db.writer().CreateSetupLink(ctx, l)
}

// RevokeSetupLink writes through the writer pool.
func (db *DB) RevokeSetupLink(ctx context.Context, tenantID, id string, at time.Time) error {
	return db.writer().RevokeSetupLink(ctx, tenantID, id, at)
}

const provLogCols = `tenant_id, at, token_id, request_id, method, path, status, latency_us, scim_type, error, request, response`

// AppendProvisioningLog inserts the batch as one multi-row INSERT (chunks of 50 rows keep
// the bound parameters far below both databases' limits).
func (c *conn) AppendProvisioningLog(ctx context.Context, entries []provisioning.ProvisioningLogEntry) error {
	const chunk = 50
	for start := 0; start < len(entries); start += chunk {
		part := entries[start:min(start+chunk, len(entries))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO provisioning_log (` + provLogCols + `) VALUES `)
		args := make([]any, 0, len(part)*12)
		for i, e := range part {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.TenantID, micros(e.At), e.TokenID, e.RequestID, e.Method, e.Path, e.Status,
				int64(e.LatencyMS*1000), e.SCIMType, e.Error, e.Request, e.Response)
		}
		if _, err := c.exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("append provisioning log: %w", err)
		}
	}
	return nil
}

// AppendProvisioningLog writes through the writer pool. On SQLite the batch joins the
// group commit: written on its own, each chunk was a transaction and a commit of its own
// between the requests' batches on the single write connection, and ran unprepared.
func (db *DB) AppendProvisioningLog(ctx context.Context, entries []provisioning.ProvisioningLogEntry) error {
	if db.batcher != nil {
		return db.InTx(ctx, func(tx provisioning.Tx) error { return tx.(*conn).AppendProvisioningLog(ctx, entries) })
	}
	return db.writer().AppendProvisioningLog(ctx, entries)
}

type provLogRow struct {
	ID        int64  `db:"id"`
	TenantID  string `db:"tenant_id"`
	At        int64  `db:"at"`
	TokenID   string `db:"token_id"`
	RequestID string `db:"request_id"`
	Method    string `db:"method"`
	Path      string `db:"path"`
	Status    int    `db:"status"`
	LatencyUS int64  `db:"latency_us"`
	SCIMType  string `db:"scim_type"`
	Error     string `db:"error"`
	Request   string `db:"request"`
	Response  string `db:"response"`
}

func (c *conn) ListProvisioningLog(ctx context.Context, tenantID string, q provisioning.ProvisioningLogQuery) ([]provisioning.ProvisioningLogEntry, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if q.TokenID != "" {
		where, args = append(where, "token_id = ?"), append(args, q.TokenID)
	}
	if q.Method != "" {
		where, args = append(where, "method = ?"), append(args, strings.ToUpper(q.Method))
	}
	switch q.Status {
	case "":
	case "error":
		where = append(where, "status >= 400")
	case "ok":
		where = append(where, "status < 400")
	default:
		n, err := strconv.Atoi(q.Status)
		if err != nil || n < 100 || n > 599 {
			return nil, provisioning.Invalid("status", "want error, ok or an HTTP status code")
		}
		where, args = append(where, "status = ?"), append(args, n)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, micros(q.Since))
	}
	args = append(args, q.Limit)
	var rows []provLogRow
	if err := c.selectx(ctx, &rows, `SELECT id, `+provLogCols+` FROM provisioning_log WHERE `+strings.Join(where, " AND ")+
		` ORDER BY at DESC, id DESC LIMIT ?`, args...); err != nil {
		return nil, fmt.Errorf("list provisioning log: %w", err)
	}
	out := make([]provisioning.ProvisioningLogEntry, len(rows))
	for i, r := range rows {
		out[i] = provisioning.ProvisioningLogEntry{ID: r.ID, TenantID: r.TenantID, At: fromMicros(r.At), TokenID: r.TokenID,
			RequestID: r.RequestID, Method: r.Method, Path: r.Path, Status: r.Status, LatencyMS: float64(r.LatencyUS) / 1000,
			SCIMType: r.SCIMType, Error: r.Error, Request: r.Request, Response: r.Response}
	}
	return out, nil
}

func (c *conn) PurgeProvisioningLog(ctx context.Context, before time.Time) (int64, error) {
	res, err := c.exec(ctx, `DELETE FROM provisioning_log WHERE at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("purge provisioning log: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PurgeProvisioningLog deletes through the writer pool.
func (db *DB) PurgeProvisioningLog(ctx context.Context, before time.Time) (int64, error) {
	return db.writer().PurgeProvisioningLog(ctx, before)
}
