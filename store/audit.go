package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's audit and login events.

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// AppendAudit writes e; inside a PostgreSQL transaction or SQLite's group commit it is
// buffered instead and written by flushEvents: on PostgreSQL in the same statement as the
// transaction's events (one round trip fewer for every audited change), on SQLite in one
// statement for the whole batch (the single writer's statements are what every queued
// change waits for).
func (c *conn) AppendAudit(ctx context.Context, e *provisioning.AuditEvent) error {
	if (c.d == Postgres || c.shared) && c.inTx {
		c.audits = append(c.audits, e)
		return nil
	}
	_, err := c.exec(ctx, `INSERT INTO audit_events (`+auditInsertCols+`) VALUES (`+auditInsertRow+`)`, auditArgs(nil, e)...)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

const (
	auditInsertCols = `tenant_id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, before_json, after_json, ip, request_id`
	auditInsertRow  = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`
)

// auditArgs appends e's values in auditInsertCols order.
func auditArgs(args []any, e *provisioning.AuditEvent) []any {
	return append(args, e.TenantID, micros(e.At), string(e.ActorKind), e.ActorID, e.ActorName, e.Action, e.TargetKind, e.TargetID,
		nullBytes(e.Before), nullBytes(e.After), e.IP, e.RequestID)
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

func (c *conn) LoginSummary(ctx context.Context, tenantID, userID string) (*provisioning.LoginSummary, error) {
	var agg struct {
		Count    int           `db:"n"`
		Failures int           `db:"failures"`
		Last     sql.NullInt64 `db:"last_at"`
	}
	if err := c.get(ctx, &agg, `SELECT
		COALESCE(SUM(CASE WHEN result = 'success' THEN 1 ELSE 0 END), 0) AS n,
		COALESCE(SUM(CASE WHEN result <> 'success' THEN 1 ELSE 0 END), 0) AS failures,
		MAX(CASE WHEN result = 'success' THEN at END) AS last_at
		FROM login_events WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
		return nil, fmt.Errorf("login summary: %w", err)
	}
	s := &provisioning.LoginSummary{Count: agg.Count, Failures: agg.Failures, LastLoginAt: fromOptMicros(agg.Last),
		IPs: []provisioning.LoginSeen{}, UserAgents: []provisioning.LoginSeen{}}
	for _, col := range []struct {
		name string
		dst  *[]provisioning.LoginSeen
	}{{"ip", &s.IPs}, {"user_agent", &s.UserAgents}} {
		var rows []struct {
			provisioning.LoginSeen
			Last int64 `db:"last_at"`
		}
		// col.name is one of two constants above, never input.
		if err := c.selectx(ctx, &rows, `SELECT `+col.name+` AS value, COUNT(*) AS n, MAX(at) AS last_at FROM login_events
			WHERE tenant_id = ? AND user_id = ? AND `+col.name+` <> '' GROUP BY `+col.name+` ORDER BY last_at DESC LIMIT 20`,
			tenantID, userID); err != nil {
			return nil, fmt.Errorf("login summary %s: %w", col.name, err)
		}
		for _, r := range rows {
			r.LoginSeen.LastSeen = fromMicros(r.Last)
			*col.dst = append(*col.dst, r.LoginSeen)
		}
	}
	return s, nil
}
