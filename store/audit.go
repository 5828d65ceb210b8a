package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

type roleRow struct {
	ID          string `db:"id"`
	TenantID    string `db:"tenant_id"`
	Name        string `db:"name"`
	Description string `db:"description"`
	BuiltIn     bool   `db:"built_in"`
	Permissions string `db:"permissions"`
	CreatedAt   int64  `db:"created_at"`
}

func (c *conn) CreateRole(ctx context.Context, tenantID string, r *provisioning.Role) error {
	perms, err := json.Marshal(r.Permissions)
	if err != nil {
		return fmt.Errorf("role permissions: %w", err)
	}
	r.TenantID = tenantID
	_, err = c.exec(ctx, `INSERT INTO roles (id, tenant_id, name, name_key, description, built_in, permissions, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, tenantID, r.Name, provisioning.FoldKey(r.Name), r.Description, r.BuiltIn, string(perms), micros(r.CreatedAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "name", Value: r.Name}
	}
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return nil
}

func (c *conn) ListRoles(ctx context.Context, tenantID string) ([]provisioning.Role, error) {
	var rows []roleRow
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, name, description, built_in, permissions, created_at FROM roles
		WHERE tenant_id = ? ORDER BY built_in DESC, name_key`, tenantID); err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	out := make([]provisioning.Role, len(rows))
	for i, r := range rows {
		out[i] = provisioning.Role{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Description: r.Description, BuiltIn: r.BuiltIn,
			CreatedAt: fromMicros(r.CreatedAt)}
		if err := json.Unmarshal([]byte(r.Permissions), &out[i].Permissions); err != nil {
			return nil, fmt.Errorf("role %s permissions: %w", r.ID, err)
		}
	}
	return out, nil
}

// SetUserRoles replaces the admin-granted roles of a user (roles granted by an IdP mapping
// keep their own source and are left alone).
func (c *conn) SetUserRoles(ctx context.Context, tenantID, userID string, roleIDs []string) error {
	if _, err := c.exec(ctx, `DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ? AND source = 'admin'`, tenantID, userID); err != nil {
		return fmt.Errorf("clear roles: %w", err)
	}
	for _, id := range dedupe(roleIDs) {
		res, err := c.exec(ctx, `INSERT INTO user_roles (tenant_id, user_id, role_id, source)
			SELECT ?, ?, r.id, 'admin' FROM roles r WHERE r.tenant_id = ? AND r.id = ? ON CONFLICT (user_id, role_id) DO NOTHING`,
			tenantID, userID, tenantID, id)
		if err != nil {
			return fmt.Errorf("grant role: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			if err := c.get(ctx, &exists, `SELECT COUNT(*) FROM roles WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
				return fmt.Errorf("check role: %w", err)
			}
			if exists == 0 {
				return provisioning.Invalid("roles", "no role with id %q", id)
			}
		}
	}
	return nil
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func (c *conn) AppendAudit(ctx context.Context, e *provisioning.AuditEvent) error {
	_, err := c.exec(ctx, `INSERT INTO audit_events (tenant_id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id,
		before_json, after_json, ip, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, micros(e.At), string(e.ActorKind), e.ActorID, e.ActorName, e.Action, e.TargetKind, e.TargetID,
		nullBytes(e.Before), nullBytes(e.After), e.IP, e.RequestID)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

type auditRow struct {
	ID         int64   `db:"id"`
	TenantID   string  `db:"tenant_id"`
	At         int64   `db:"at"`
	ActorKind  string  `db:"actor_kind"`
	ActorID    string  `db:"actor_id"`
	ActorName  string  `db:"actor_name"`
	Action     string  `db:"action"`
	TargetKind string  `db:"target_kind"`
	TargetID   string  `db:"target_id"`
	Before     *string `db:"before_json"`
	After      *string `db:"after_json"`
	IP         string  `db:"ip"`
	RequestID  string  `db:"request_id"`
}

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return clampLimit(n)
}

// ListAudit returns events newest first.
func (c *conn) ListAudit(ctx context.Context, tenantID string, q provisioning.AuditQuery) ([]provisioning.AuditEvent, error) {
	conds := []string{"tenant_id = ?"}
	args := []any{tenantID}
	add := func(cond string, v any) { conds = append(conds, cond); args = append(args, v) }
	if q.ActorID != "" {
		add("actor_id = ?", q.ActorID)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.TargetKind != "" {
		add("target_kind = ?", q.TargetKind)
	}
	if q.TargetID != "" {
		add("target_id = ?", q.TargetID)
	}
	if !q.Since.IsZero() {
		add("at >= ?", micros(q.Since))
	}
	if !q.Until.IsZero() {
		add("at < ?", micros(q.Until))
	}
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	args = append(args, limitOr(q.Limit, 100))
	var rows []auditRow
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id,
		before_json, after_json, ip, request_id FROM audit_events WHERE `+strings.Join(conds, " AND ")+` ORDER BY id DESC LIMIT ?`, args...); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	out := make([]provisioning.AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = provisioning.AuditEvent{ID: r.ID, TenantID: r.TenantID, At: fromMicros(r.At), ActorKind: provisioning.ActorKind(r.ActorKind),
			ActorID: r.ActorID, ActorName: r.ActorName, Action: r.Action, TargetKind: r.TargetKind, TargetID: r.TargetID, IP: r.IP, RequestID: r.RequestID}
		if r.Before != nil {
			out[i].Before = []byte(*r.Before)
		}
		if r.After != nil {
			out[i].After = []byte(*r.After)
		}
	}
	return out, nil
}

func (c *conn) AppendLogin(ctx context.Context, e *provisioning.LoginEvent) error {
	_, err := c.exec(ctx, `INSERT INTO login_events (tenant_id, user_id, connection_id, method, result, reason, subject, ip, user_agent, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.TenantID, e.UserID, e.ConnectionID, e.Method, e.Result, e.Reason, e.Subject, e.IP, e.UserAgent, micros(e.At))
	if err != nil {
		return fmt.Errorf("append login event: %w", err)
	}
	return nil
}

// ListLogins returns login events newest first.
func (c *conn) ListLogins(ctx context.Context, tenantID string, q provisioning.LoginQuery) ([]provisioning.LoginEvent, error) {
	conds := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if q.UserID != "" {
		conds, args = append(conds, "user_id = ?"), append(args, q.UserID)
	}
	if q.Result != "" {
		conds, args = append(conds, "result = ?"), append(args, q.Result)
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "at >= ?"), append(args, micros(q.Since))
	}
	if q.BeforeID > 0 {
		conds, args = append(conds, "id < ?"), append(args, q.BeforeID)
	}
	args = append(args, limitOr(q.Limit, 100))
	var rows []struct {
		provisioning.LoginEvent
		AtMicros int64 `db:"at_us"`
	}
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, user_id, connection_id, method, result, reason, subject, ip, user_agent, at AS at_us
		FROM login_events WHERE `+strings.Join(conds, " AND ")+` ORDER BY id DESC LIMIT ?`, args...); err != nil {
		return nil, fmt.Errorf("list logins: %w", err)
	}
	out := make([]provisioning.LoginEvent, len(rows))
	for i, r := range rows {
		out[i] = r.LoginEvent
		out[i].At = fromMicros(r.AtMicros)
	}
	return out, nil
}
