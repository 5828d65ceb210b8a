package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's events, webhooks and back-channel logouts:
// the event log, webhook endpoints and deliveries, and the logout outbox.

// AppendEvent buffers ev; flushEvents writes the buffer as the transaction's last step.
// On SQLite, taking the tenant's sequence numbers there, and not at the first event, keeps
// the counter locked only for the commit (SQLite has one writer anyway).
func (c *conn) AppendEvent(ctx context.Context, ev *provisioning.Event) error {
	if !c.inTx {
		return errors.New("append event: not in a transaction")
	}
	c.events = append(c.events, ev)
	return nil
}

// flushEvents writes the buffered audit rows, back-channel logouts and events.
//
// Events get their tenant's sequence numbers in one of two ways. On SQLite the transaction
// takes them from the tenant's event_cursors row: SQLite has one writer, so numbers become
// visible in increasing order and no reader can see N+1 before N. On PostgreSQL that row
// lock made every writer of a tenant commit one after another (migration 00021 tells the
// cost), so the transaction only appends its events to event_queue, and sequenceEvents
// numbers them after commit, before any read of the log. ev.Seq is therefore set after
// the flush on SQLite only.
func (c *conn) flushEvents(ctx context.Context) error {
	evs, audits, logouts := c.events, c.audits, c.logouts
	c.events, c.audits, c.logouts = nil, nil, nil
	if len(evs) == 0 && len(audits) == 0 && len(logouts) == 0 {
		return c.settle(ctx, nil)
	}
	if c.d == Postgres {
		t, err := eventsTrip(audits, logouts, evs)
		if err != nil {
			return err
		}
		if t != nil {
			return c.settle(ctx, t)
		}
	}
	for start := 0; start < len(audits); start += auditChunk {
		chunk := audits[start:min(start+auditChunk, len(audits))]
		args := make([]any, 0, 12*len(chunk))
		for _, a := range chunk {
			args = auditArgs(args, a)
		}
		if _, err := c.exec(ctx, `INSERT INTO audit_events (`+auditInsertCols+`) VALUES `+valueRows(auditInsertRow, len(chunk)), args...); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
	}
	for _, l := range logouts {
		if _, err := c.exec(ctx, `INSERT INTO logout_outbox (`+logoutInsertCols+`) VALUES (`+logoutInsertRow+`)`, logoutArgs(nil, l)...); err != nil {
			return fmt.Errorf("queue logout: %w", err)
		}
	}
	if c.d == Postgres {
		for start := 0; start < len(evs); start += eventChunk {
			chunk := evs[start:min(start+eventChunk, len(evs))]
			args := make([]any, 0, 6*len(chunk))
			for _, ev := range chunk {
				var err error
				if args, err = queueArgs(args, ev); err != nil {
					return err
				}
			}
			if _, err := c.exec(ctx, `INSERT INTO event_queue (`+queueCols+`) VALUES `+rowsOf(len(chunk), 6), args...); err != nil {
				return fmt.Errorf("queue events: %w", err)
			}
		}
		return nil
	}
	byTenant := map[string][]*provisioning.Event{}
	var order []string
	for _, ev := range evs {
		if _, ok := byTenant[ev.TenantID]; !ok {
			order = append(order, ev.TenantID)
		}
		byTenant[ev.TenantID] = append(byTenant[ev.TenantID], ev)
	}
	for _, tid := range order {
		list := byTenant[tid]
		var top int64
		if err := c.get(ctx, &top, `INSERT INTO event_cursors (tenant_id, seq) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET seq = event_cursors.seq + excluded.seq RETURNING seq`, tid, len(list)); err != nil {
			return fmt.Errorf("event sequence: %w", err)
		}
		first := top - int64(len(list)) + 1
		// One multi-row INSERT per chunk: these statements run inside the request's
		// transaction under the single writer that SCIM requests wait for, so a change
		// with several events costs one statement, not one per event.
		for start := 0; start < len(list); start += eventChunk {
			chunk := list[start:min(start+eventChunk, len(list))]
			args := make([]any, 0, 7*len(chunk))
			for i, ev := range chunk {
				ev.Seq = first + int64(start+i)
				body, err := json.Marshal(ev)
				if err != nil {
					return fmt.Errorf("event body: %w", err)
				}
				args = append(args, ev.TenantID, ev.Seq, ev.ID, ev.Type, ev.UserID, string(body), micros(ev.Time))
			}
			if _, err := c.exec(ctx, `INSERT INTO events (tenant_id, seq, id, type, user_id, body, created_at) VALUES `+
				rowsOf(len(chunk), 7), args...); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
	}
	return nil
}

// checkRecords reports what in a change's audit rows and events the statements writing
// them would refuse: text that is not storable, an event body that is not JSON. SQLite's
// group commit writes a whole batch's records at once and checks each change's first, so
// that one change's records fail that change alone.
func checkRecords(audits []*provisioning.AuditEvent, evs []*provisioning.Event) error {
	for _, a := range audits {
		if err := checkArgs(auditArgs(nil, a)); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
	}
	for _, ev := range evs {
		if err := checkArgs([]any{ev.TenantID, ev.ID, ev.Type, ev.UserID}); err != nil {
			return fmt.Errorf("event: %w", err)
		}
		if len(ev.Data) > 0 && !json.Valid(ev.Data) {
			return fmt.Errorf("event %s: its data is not JSON", ev.Type)
		}
	}
	return nil
}

// seqPrefix is how every event body starts when Seq is 0: Seq is the first field of
// provisioning.Event, so the body with the real number is `{"seq":` + number + the rest,
// which lets PostgreSQL write the body when it assigns the number.
const seqPrefix = `{"seq":0`

const queueCols = `tenant_id, id, type, user_id, rest, created_at`

// queueArgs appends ev's event_queue row: its body without the number.
func queueArgs(args []any, ev *provisioning.Event) ([]any, error) {
	ev.Seq = 0
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("event body: %w", err)
	}
	rest, ok := strings.CutPrefix(string(body), seqPrefix)
	if !ok {
		return nil, fmt.Errorf("event body: does not start with %s", seqPrefix)
	}
	return append(args, ev.TenantID, ev.ID, ev.Type, ev.UserID, rest, micros(ev.Time)), nil
}

// maxOneTripArgs bounds the arguments of eventsTrip's statement (PostgreSQL takes
// 65,535): a larger batch (a bulk import) takes the statement-per-row path.
const maxOneTripArgs = 20000

// eventsTrip is, on PostgreSQL, one statement (data-modifying CTEs) writing a
// transaction's audit events, queued back-channel logouts and events: a SCIM create or
// delete spent three or four round trips on this. It is nil when there are no events or
// the batch is too large.
func eventsTrip(audits []*provisioning.AuditEvent, logouts []*provisioning.LogoutRequest, evs []*provisioning.Event) (*oneTrip, error) {
	if len(evs) == 0 || 12*len(audits)+7*len(logouts)+6*len(evs) > maxOneTripArgs {
		return nil, nil
	}
	t := &oneTrip{args: make([]any, 0, 12*len(audits)+7*len(logouts)+6*len(evs)), what: "queue events"}
	if len(audits) > 0 {
		t.ctes = append(t.ctes, `a AS (INSERT INTO audit_events (`+auditInsertCols+`) VALUES `+valueRows(auditInsertRow, len(audits))+`)`)
		for _, a := range audits {
			t.args = auditArgs(t.args, a)
		}
	}
	if len(logouts) > 0 {
		t.ctes = append(t.ctes, `l AS (INSERT INTO logout_outbox (`+logoutInsertCols+`) VALUES `+valueRows(logoutInsertRow, len(logouts))+`)`)
		for _, l := range logouts {
			t.args = logoutArgs(t.args, l)
		}
	}
	t.final = `INSERT INTO event_queue (` + queueCols + `) VALUES ` + rowsOf(len(evs), 6)
	for _, ev := range evs {
		var err error
		if t.args, err = queueArgs(t.args, ev); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// sequenceBatch is how many queued events one numbering transaction moves.
const sequenceBatch = 5000

// sequenceEvents numbers, on PostgreSQL, the committed events in event_queue of tenantID
// (every tenant when empty) and moves them into events. Every read of the log calls it
// first, so a reader sees every event committed before its read. Numbering a tenant
// takes its event_cursors row lock, so two replicas never number the same tenant at once.
func (db *DB) sequenceEvents(ctx context.Context, tenantID string) error {
	if db.dialect != Postgres {
		return nil
	}
	var tenants []string
	q, args := `SELECT DISTINCT tenant_id FROM event_queue`, []any{}
	if tenantID != "" {
		q, args = `SELECT tenant_id FROM event_queue WHERE tenant_id = ? LIMIT 1`, []any{tenantID}
	}
	if err := db.selectx(ctx, &tenants, q, args...); err != nil {
		return fmt.Errorf("number events: %w", err)
	}
	for _, t := range tenants {
		// A tenant whose writers queue faster than one transaction moves is left for the
		// next read after a bounded number of rounds, so a reader is never held for long.
		for range 20 {
			n, err := db.sequenceTenant(ctx, t)
			if err != nil {
				return err
			}
			if n < sequenceBatch {
				break
			}
		}
	}
	return nil
}

// sequenceTenant moves up to sequenceBatch of a tenant's queued events, in queue order,
// into events with the tenant's next numbers, and reports how many it moved.
func (db *DB) sequenceTenant(ctx context.Context, tenantID string) (int, error) {
	moved := 0
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		// The counter row is locked in a statement of its own: under READ COMMITTED the
		// next statement's snapshot is taken after the lock is granted, so it sees the
		// queue without the rows the previous holder moved.
		var base int64
		if err := c.get(ctx, &base, `INSERT INTO event_cursors (tenant_id, seq) VALUES (?, 0)
			ON CONFLICT (tenant_id) DO UPDATE SET seq = event_cursors.seq RETURNING seq`, tenantID); err != nil {
			return fmt.Errorf("number events: %w", err)
		}
		var top int64
		if err := c.get(ctx, &top, `WITH q AS (
				DELETE FROM event_queue WHERE pos IN (SELECT pos FROM event_queue WHERE tenant_id = ? ORDER BY pos LIMIT ?)
				RETURNING pos, tenant_id, id, type, user_id, rest, created_at),
			n AS (SELECT q.*, CAST(? AS BIGINT) + row_number() OVER (ORDER BY q.pos) AS seq FROM q),
			e AS (INSERT INTO events (tenant_id, seq, id, type, user_id, body, created_at)
				SELECT tenant_id, seq, id, type, user_id, '{"seq":' || seq || rest, created_at FROM n RETURNING seq)
			UPDATE event_cursors SET seq = (SELECT COALESCE(MAX(seq), CAST(? AS BIGINT)) FROM e) WHERE tenant_id = ? RETURNING seq`,
			tenantID, sequenceBatch, base, base, tenantID); err != nil {
			return fmt.Errorf("number events: %w", err)
		}
		moved = int(top - base)
		return nil
	})
	return moved, err
}

// eventChunk bounds the rows of one multi-row INSERT (7 parameters each, far below
// both databases' parameter limits).
const eventChunk = 100

// auditChunk is how many audit rows one INSERT writes (12 variables each).
const auditChunk = 100

// rowsOf returns n rows of cols placeholders for a multi-row VALUES list.
func rowsOf(n, cols int) string { return valueRows(placeholders(cols), n) }

// valueRows returns n copies of row, each in parentheses, for a multi-row VALUES list.
func valueRows(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat("("+row+"), ", n), ", ")
}

type eventRow struct {
	Seq    int64  `db:"seq"`
	UserID string `db:"user_id"`
	Body   string `db:"body"`
}

func (r *eventRow) event() (provisioning.Event, error) {
	var ev provisioning.Event
	if err := json.Unmarshal([]byte(r.Body), &ev); err != nil {
		return ev, fmt.Errorf("event %d: %w", r.Seq, err)
	}
	ev.Seq, ev.UserID = r.Seq, r.UserID
	return ev, nil
}

func (db *DB) ListEvents(ctx context.Context, tenantID string, after int64, limit int) ([]provisioning.Event, error) {
	if err := db.sequenceEvents(ctx, tenantID); err != nil {
		return nil, err
	}
	var rows []eventRow
	if err := db.selectx(ctx, &rows, `SELECT seq, user_id, body FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		tenantID, after, limit); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	out := make([]provisioning.Event, 0, len(rows))
	for i := range rows {
		ev, err := rows[i].event()
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func (db *DB) LastEventSeq(ctx context.Context, tenantID string) (int64, error) {
	if err := db.sequenceEvents(ctx, tenantID); err != nil {
		return 0, err
	}
	var seq int64
	err := db.get(ctx, &seq, `SELECT seq FROM event_cursors WHERE tenant_id = ?`, tenantID)
	if errors.Is(err, provisioning.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last event: %w", err)
	}
	return seq, nil
}

// EnqueueLogout queues a back-channel logout; inside a PostgreSQL transaction it is
// buffered and written by flushEvents with the audit rows and events, in one statement.
func (c *conn) EnqueueLogout(ctx context.Context, l *provisioning.LogoutRequest) error {
	c.queuedLogout = true
	if c.d == Postgres && c.inTx {
		c.logouts = append(c.logouts, l)
		return nil
	}
	if _, err := c.exec(ctx, `INSERT INTO logout_outbox (`+logoutInsertCols+`) VALUES (`+logoutInsertRow+`)`, logoutArgs(nil, l)...); err != nil {
		return fmt.Errorf("queue logout: %w", err)
	}
	return nil
}

const (
	logoutInsertCols = `id, tenant_id, user_id, session_id, reason, status, attempts, next_attempt_at, created_at`
	logoutInsertRow  = `?, ?, ?, ?, ?, 'pending', 0, ?, ?`
)

func logoutArgs(args []any, l *provisioning.LogoutRequest) []any {
	return append(args, l.ID, l.TenantID, l.UserID, l.SessionID, string(l.Reason), micros(l.NextAttemptAt), micros(l.CreatedAt))
}

type logoutRow struct {
	ID            string `db:"id"`
	TenantID      string `db:"tenant_id"`
	UserID        string `db:"user_id"`
	SessionID     string `db:"session_id"`
	Reason        string `db:"reason"`
	Attempts      int    `db:"attempts"`
	NextAttemptAt int64  `db:"next_attempt_at"`
	CreatedAt     int64  `db:"created_at"`
}

func (db *DB) ClaimLogouts(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]provisioning.LogoutRequest, error) {
	var out []provisioning.LogoutRequest
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		var rows []logoutRow
		if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, user_id, session_id, reason, attempts, next_attempt_at, created_at
			FROM logout_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND claimed_until <= ?
			ORDER BY next_attempt_at, id LIMIT ?`+c.skipLocked(), micros(now), micros(now), limit); err != nil {
			return fmt.Errorf("claim logouts: %w", err)
		}
		out = out[:0]
		for _, r := range rows {
			if _, err := c.exec(ctx, `UPDATE logout_outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 WHERE id = ?`,
				worker, micros(now.Add(lease)), r.ID); err != nil {
				return fmt.Errorf("claim logouts: %w", err)
			}
			out = append(out, provisioning.LogoutRequest{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, SessionID: r.SessionID,
				Reason: provisioning.LogoutReason(r.Reason), Attempts: r.Attempts + 1, NextAttemptAt: fromMicros(r.NextAttemptAt),
				CreatedAt: fromMicros(r.CreatedAt)})
		}
		return nil
	})
	return out, err
}

func (c *conn) FinishLogout(ctx context.Context, l *provisioning.LogoutRequest, status, lastError, worker string) error {
	res, err := c.exec(ctx, `UPDATE logout_outbox SET status = ?, last_error = ?, next_attempt_at = ?, claimed_by = '', claimed_until = 0
		WHERE id = ? AND status = 'pending' AND claimed_by = ?`, status, lastError, micros(l.NextAttemptAt), l.ID, worker)
	if err != nil {
		return fmt.Errorf("finish logout: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("logout %s: claim lost: %w", l.ID, provisioning.ErrConflict)
	}
	return nil
}

// lockOf is skipLocked for a query that joins: it locks the rows of one table only.
func (c *conn) lockOf(alias string) string {
	if c.d == Postgres {
		return " FOR UPDATE OF " + alias + " SKIP LOCKED"
	}
	return ""
}

// skipLocked lets concurrent claimers on PostgreSQL take disjoint rows instead of
// queueing; SQLite's single writer already serialises them.
func (c *conn) skipLocked() string {
	if c.d == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ---- webhook endpoints ----

type webhookRow struct {
	ID             string `db:"id"`
	TenantID       string `db:"tenant_id"`
	URL            string `db:"url"`
	Description    string `db:"description"`
	EventFilter    string `db:"event_filter"`
	Secrets        []byte `db:"secrets"`
	State          string `db:"state"`
	DisabledReason string `db:"disabled_reason"`
	Cursor         int64  `db:"cursor"`
	Version        int64  `db:"version"`
	CreatedAt      int64  `db:"created_at"`
	UpdatedAt      int64  `db:"updated_at"`
}

const webhookCols = `id, tenant_id, url, description, event_filter, secrets, state, disabled_reason, cursor, version, created_at, updated_at`

func (r *webhookRow) endpoint() (*provisioning.WebhookEndpoint, error) {
	ep := &provisioning.WebhookEndpoint{ID: r.ID, TenantID: r.TenantID, URL: r.URL, Description: r.Description, SecretsSealed: r.Secrets,
		State: r.State, DisabledReason: r.DisabledReason, Cursor: r.Cursor, Version: r.Version, CreatedAt: fromMicros(r.CreatedAt),
		UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.EventFilter), &ep.Events); err != nil {
		return nil, fmt.Errorf("webhook %s filter: %w", r.ID, err)
	}
	return ep, nil
}

func (c *conn) CreateWebhook(ctx context.Context, w *provisioning.WebhookEndpoint) error {
	f, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	if _, err := c.exec(ctx, `INSERT INTO webhook_endpoints (`+webhookCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.TenantID, w.URL, w.Description, string(f), w.SecretsSealed, w.State, w.DisabledReason, w.Cursor, w.Version,
		micros(w.CreatedAt), micros(w.UpdatedAt)); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

func (c *conn) getWebhook(ctx context.Context, tenantID, id, lock string) (*provisioning.WebhookEndpoint, error) {
	var r webhookRow
	if err := c.get(ctx, &r, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE tenant_id = ? AND id = ?`+lock, tenantID, id); err != nil {
		return nil, fmt.Errorf("webhook %s: %w", id, err)
	}
	return r.endpoint()
}

func (db *DB) GetWebhook(ctx context.Context, tenantID, id string) (*provisioning.WebhookEndpoint, error) {
	return db.conn.getWebhook(ctx, tenantID, id, "")
}

func (db *DB) ListWebhooks(ctx context.Context, tenantID string) ([]provisioning.WebhookEndpoint, error) {
	var rows []webhookRow
	if err := db.selectx(ctx, &rows, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE tenant_id = ? ORDER BY created_at, id`, tenantID); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]provisioning.WebhookEndpoint, 0, len(rows))
	for i := range rows {
		ep, err := rows[i].endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, *ep)
	}
	return out, nil
}

func (c *conn) UpdateWebhook(ctx context.Context, tenantID, id string, fn func(*provisioning.WebhookEndpoint) error) (*provisioning.WebhookEndpoint, error) {
	ep, err := c.getWebhook(ctx, tenantID, id, c.forUpdate())
	if err != nil {
		return nil, err
	}
	if err := fn(ep); err != nil {
		return nil, err
	}
	ep.Version++
	f, err := json.Marshal(ep.Events)
	if err != nil {
		return nil, err
	}
	if _, err := c.exec(ctx, `UPDATE webhook_endpoints SET url = ?, description = ?, event_filter = ?, secrets = ?, state = ?,
		disabled_reason = ?, version = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		ep.URL, ep.Description, string(f), ep.SecretsSealed, ep.State, ep.DisabledReason, ep.Version, micros(ep.UpdatedAt), tenantID, id); err != nil {
		return nil, fmt.Errorf("update webhook: %w", err)
	}
	return ep, nil
}

func (c *conn) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	res, err := c.exec(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("webhook %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

// ---- deliveries ----

type deliveryRow struct {
	ID            string        `db:"id"`
	TenantID      string        `db:"tenant_id"`
	EndpointID    string        `db:"endpoint_id"`
	EventSeq      int64         `db:"event_seq"`
	EventID       string        `db:"event_id"`
	EventType     string        `db:"event_type"`
	UserKey       string        `db:"user_key"`
	Status        string        `db:"status"`
	Attempts      int           `db:"attempts"`
	NextAttemptAt int64         `db:"next_attempt_at"`
	LastStatus    int           `db:"last_status"`
	LastError     string        `db:"last_error"`
	CreatedAt     int64         `db:"created_at"`
	DeliveredAt   sql.NullInt64 `db:"delivered_at"`
}

const deliveryCols = `d.id, d.tenant_id, d.endpoint_id, d.event_seq, d.event_id, d.event_type, d.user_key, d.status, d.attempts,
	d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at`

func (r *deliveryRow) delivery() provisioning.WebhookDelivery {
	return provisioning.WebhookDelivery{ID: r.ID, TenantID: r.TenantID, EndpointID: r.EndpointID, EventSeq: r.EventSeq, EventID: r.EventID,
		EventType: r.EventType, UserKey: r.UserKey, Status: r.Status, Attempts: r.Attempts, NextAttemptAt: fromMicros(r.NextAttemptAt),
		LastStatus: r.LastStatus, LastError: r.LastError, CreatedAt: fromMicros(r.CreatedAt), DeliveredAt: fromOptMicros(r.DeliveredAt)}
}

func (db *DB) ListDeliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]provisioning.WebhookDelivery, error) {
	var rows []deliveryRow
	if err := db.selectx(ctx, &rows, `SELECT `+deliveryCols+` FROM webhook_deliveries d WHERE d.tenant_id = ? AND d.endpoint_id = ?
		ORDER BY d.event_seq DESC LIMIT ?`, tenantID, endpointID, limit); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]provisioning.WebhookDelivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// ListAttempts lists every attempt of a delivery, successful or not, oldest first: each
// one is a row of webhook_attempts (a replayed delivery keeps its earlier ones).
func (db *DB) ListAttempts(ctx context.Context, tenantID, deliveryID string) ([]provisioning.WebhookAttempt, error) {
	return db.listAttempts(ctx, tenantID, deliveryID)
}

func (db *DB) listAttempts(ctx context.Context, tenantID, deliveryID string) ([]provisioning.WebhookAttempt, error) {
	var rows []struct {
		ID       string `db:"id"`
		Attempt  int    `db:"attempt"`
		Worker   string `db:"worker"`
		Status   int    `db:"status_code"`
		Latency  int64  `db:"latency_ms"`
		Error    string `db:"error"`
		Response string `db:"response_excerpt"`
		At       int64  `db:"at"`
	}
	if err := db.selectx(ctx, &rows, `SELECT id, attempt, worker, status_code, latency_ms, error, response_excerpt, at
		FROM webhook_attempts WHERE tenant_id = ? AND delivery_id = ? ORDER BY attempt, at`, tenantID, deliveryID); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	out := make([]provisioning.WebhookAttempt, len(rows))
	for i, r := range rows {
		out[i] = provisioning.WebhookAttempt{ID: r.ID, TenantID: tenantID, DeliveryID: deliveryID, Attempt: r.Attempt, Worker: r.Worker,
			StatusCode: r.Status, LatencyMS: r.Latency, Error: r.Error, ResponseExcerpt: r.Response, At: fromMicros(r.At)}
	}
	return out, nil
}

// FanOutWebhooks runs in its own short transaction per call. On PostgreSQL each active
// endpoint row is locked with SKIP LOCKED, so two replicas never fan out the same
// endpoint's events at once, and the delivery's unique (endpoint, event) index makes a
// repeat harmless anyway. Each endpoint takes one INSERT … SELECT from the events (the
// filter as a type list, the id derived from endpoint and seq) and one cursor update:
// no event row travels to Go and back, which matters on SQLite, where every statement
// holds the single writer that SCIM requests wait for.
func (db *DB) FanOutWebhooks(ctx context.Context, now time.Time, limit int, selects func(*provisioning.WebhookEndpoint) (types []string, all bool)) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	if err := db.sequenceEvents(ctx, ""); err != nil {
		return 0, err
	}
	created := 0
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		created = 0
		var rows []struct {
			webhookRow
			Top int64 `db:"top"`
		}
		if err := c.selectx(ctx, &rows, `SELECT e.`+strings.ReplaceAll(webhookCols, ", ", ", e.")+`, k.seq AS top FROM webhook_endpoints e
			JOIN event_cursors k ON k.tenant_id = e.tenant_id
			WHERE e.state = 'active' AND k.seq > e.cursor
			ORDER BY e.updated_at, e.id LIMIT 50`+c.lockOf("e")); err != nil {
			return fmt.Errorf("fan out: %w", err)
		}
		for i := range rows {
			ep, err := rows[i].endpoint()
			if err != nil {
				return err
			}
			// Seqs are dense per tenant and the counter moves with its events in one
			// transaction (both ways of numbering, flushEvents), and the counter read
			// above is committed, so every event up to upTo exists.
			upTo := min(rows[i].Top, ep.Cursor+int64(limit))
			types, all := selects(ep)
			if all || len(types) > 0 {
				q := `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_seq, event_id, event_type, user_key,
					status, attempts, next_attempt_at, created_at)
					SELECT CAST(? AS TEXT) || CAST(ev.seq AS TEXT), ev.tenant_id, ?, ev.seq, ev.id, ev.type, ev.user_id, 'pending', 0, ?, ?
					FROM events ev WHERE ev.tenant_id = ? AND ev.seq > ? AND ev.seq <= ?`
				args := []any{"whd_" + strings.TrimPrefix(ep.ID, "wh_") + "_", ep.ID, micros(now), micros(now), ep.TenantID, ep.Cursor, upTo}
				if !all {
					q += ` AND ev.type IN (` + placeholders(len(types)) + `)`
					for _, t := range types {
						args = append(args, t)
					}
				}
				res, err := c.exec(ctx, q+` ON CONFLICT (endpoint_id, event_seq) DO NOTHING`, args...)
				if err != nil {
					return fmt.Errorf("fan out: %w", err)
				}
				n, _ := res.RowsAffected()
				created += int(n)
			}
			if _, err := c.exec(ctx, `UPDATE webhook_endpoints SET cursor = ? WHERE id = ?`, upTo, ep.ID); err != nil {
				return fmt.Errorf("fan out: %w", err)
			}
		}
		return nil
	})
	return created, err
}

// ClaimDeliveries takes, per endpoint and user, only the oldest pending delivery: the
// next one becomes claimable when that one is delivered or fails for good, so one user's
// events reach the receiver in order, whatever the number of workers.
func (db *DB) ClaimDeliveries(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]provisioning.ClaimedDelivery, error) {
	if limit <= 0 {
		limit = 20
	}
	var out []provisioning.ClaimedDelivery
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		lock := c.lockOf("d")
		var rows []struct {
			deliveryRow
			URL     string `db:"url"`
			Secrets []byte `db:"secrets"`
			Body    string `db:"body"`
		}
		if err := c.selectx(ctx, &rows, `SELECT `+deliveryCols+`, e.url, e.secrets, ev.body FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id
			JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.seq = d.event_seq
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND d.claimed_until <= ? AND e.state = 'active'
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.user_key = d.user_key
				AND p.status = 'pending' AND p.event_seq < d.event_seq)
			ORDER BY d.next_attempt_at, d.event_seq LIMIT ?`+lock, micros(now), micros(now), limit); err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		out = out[:0]
		if len(rows) > 0 {
			args := []any{worker, micros(now.Add(lease))}
			for i := range rows {
				args = append(args, rows[i].ID)
			}
			if _, err := c.exec(ctx, `UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1
				WHERE id IN (`+placeholders(len(rows))+`)`, args...); err != nil {
				return fmt.Errorf("claim deliveries: %w", err)
			}
		}
		for i := range rows {
			r := &rows[i]
			r.Attempts++
			// The stored body is the event as published, seq included (flushEvents).
			out = append(out, provisioning.ClaimedDelivery{WebhookDelivery: r.delivery(), URL: r.URL, SecretsSealed: r.Secrets, Body: []byte(r.Body)})
		}
		return nil
	})
	return out, err
}

func (c *conn) FinishDelivery(ctx context.Context, d *provisioning.WebhookDelivery, a *provisioning.WebhookAttempt, worker string) error {
	res, err := c.exec(ctx, `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status = ?, last_error = ?, delivered_at = ?,
		claimed_by = '', claimed_until = 0 WHERE id = ? AND status = 'pending' AND claimed_by = ?`,
		d.Status, micros(d.NextAttemptAt), d.LastStatus, d.LastError, optMicros(d.DeliveredAt), d.ID, worker)
	if err != nil {
		return fmt.Errorf("finish delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("delivery %s: claim lost: %w", d.ID, provisioning.ErrConflict)
	}
	return c.logAttempts(ctx, []*provisioning.WebhookAttempt{a})
}

// MarkDelivered finishes successful deliveries still claimed by worker and logs each
// one's attempt as a row of webhook_attempts, like every other attempt; it returns how
// many it finished (fewer when claims were lost). A CASE per column keeps the update one
// statement per chunk, and the attempts take one more.
func (c *conn) MarkDelivered(ctx context.Context, as []*provisioning.WebhookAttempt, worker string) (int, error) {
	total := 0
	for len(as) > 0 {
		chunk := as[:min(len(as), 100)]
		as = as[len(chunk):]
		// The casts give PostgreSQL the parameters' types, which it cannot infer here.
		cases := func(col, typ string, val func(*provisioning.WebhookAttempt) any) (string, []any) {
			var b strings.Builder
			var args []any
			b.WriteString(col + " = CASE id")
			for _, a := range chunk {
				b.WriteString(" WHEN ? THEN CAST(? AS " + typ + ")")
				args = append(args, a.DeliveryID, val(a))
			}
			b.WriteString(" END")
			return b.String(), args
		}
		var sets []string
		var args []any
		for _, col := range []struct {
			name, typ string
			val       func(*provisioning.WebhookAttempt) any
		}{
			{"last_status", "INTEGER", func(a *provisioning.WebhookAttempt) any { return a.StatusCode }},
			{"delivered_at", "BIGINT", func(a *provisioning.WebhookAttempt) any { return micros(a.At) }},
		} {
			s, a := cases(col.name, col.typ, col.val)
			sets = append(sets, s)
			args = append(args, a...)
		}
		args = append(args, worker)
		for _, a := range chunk {
			args = append(args, a.DeliveryID)
		}
		// RETURNING names the deliveries still claimed: the others' claims were lost and
		// their new holder logs them.
		var done []string
		if err := c.selectx(ctx, &done, `UPDATE webhook_deliveries SET status = 'delivered', last_error = '', `+strings.Join(sets, ", ")+`,
			claimed_by = '', claimed_until = 0 WHERE status = 'pending' AND claimed_by = ? AND id IN (`+placeholders(len(chunk))+`)
			RETURNING id`, args...); err != nil {
			return total, fmt.Errorf("mark delivered: %w", err)
		}
		total += len(done)
		mine := chunk
		if len(done) < len(chunk) {
			mine = slices.DeleteFunc(slices.Clone(chunk), func(a *provisioning.WebhookAttempt) bool { return !slices.Contains(done, a.DeliveryID) })
		}
		if err := c.logAttempts(ctx, mine); err != nil {
			return total, err
		}
	}
	return total, nil
}

// logAttempts inserts attempts in one multi-row INSERT (chunks of at most 100).
func (c *conn) logAttempts(ctx context.Context, as []*provisioning.WebhookAttempt) error {
	if len(as) == 0 {
		return nil
	}
	args := make([]any, 0, 10*len(as))
	for _, a := range as {
		args = append(args, a.ID, a.TenantID, a.DeliveryID, a.Attempt, a.Worker, a.StatusCode, a.LatencyMS, a.Error, a.ResponseExcerpt, micros(a.At))
	}
	if _, err := c.exec(ctx, `INSERT INTO webhook_attempts (id, tenant_id, delivery_id, attempt, worker, status_code, latency_ms, error,
		response_excerpt, at) VALUES `+rowsOf(len(as), 10), args...); err != nil {
		return fmt.Errorf("log attempts: %w", err)
	}
	return nil
}

func (c *conn) ReplayDelivery(ctx context.Context, tenantID, endpointID, id string, now time.Time) (*provisioning.WebhookDelivery, error) {
	res, err := c.exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, created_at = ?, claimed_by = '',
		claimed_until = 0, delivered_at = NULL WHERE tenant_id = ? AND endpoint_id = ? AND id = ? AND status <> 'pending'`,
		micros(now), micros(now), tenantID, endpointID, id)
	if err != nil {
		return nil, fmt.Errorf("replay delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var status string
		if err := c.get(ctx, &status, `SELECT status FROM webhook_deliveries WHERE tenant_id = ? AND endpoint_id = ? AND id = ?`,
			tenantID, endpointID, id); err != nil {
			return nil, fmt.Errorf("delivery %s: %w", id, err)
		}
		return nil, &provisioning.RuleError{Field: "id", Reason: "the delivery is still pending"}
	}
	var r deliveryRow
	if err := c.get(ctx, &r, `SELECT `+deliveryCols+` FROM webhook_deliveries d WHERE d.tenant_id = ? AND d.id = ?`, tenantID, id); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", id, err)
	}
	d := r.delivery()
	return &d, nil
}

// ClaimSink leases, for one sink, up to limit tenants whose events it has not published
// yet, with the events after its cursor (at most perTenant each).
func (db *DB) ClaimSink(ctx context.Context, sink, worker string, now time.Time, lease time.Duration, limit, perTenant int) ([]provisioning.SinkBatch, error) {
	if err := db.sequenceEvents(ctx, ""); err != nil {
		return nil, err
	}
	var out []provisioning.SinkBatch
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		out = out[:0]
		if _, err := c.exec(ctx, `INSERT INTO event_sinks (sink, tenant_id) SELECT ?, k.tenant_id FROM event_cursors k
			WHERE NOT EXISTS (SELECT 1 FROM event_sinks s WHERE s.sink = ? AND s.tenant_id = k.tenant_id)
			ON CONFLICT (sink, tenant_id) DO NOTHING`, sink, sink); err != nil {
			return fmt.Errorf("claim sink: %w", err)
		}
		var rows []struct {
			TenantID string `db:"tenant_id"`
			Cursor   int64  `db:"cursor"`
		}
		if err := c.selectx(ctx, &rows, `SELECT s.tenant_id, s.cursor FROM event_sinks s JOIN event_cursors k ON k.tenant_id = s.tenant_id
			WHERE s.sink = ? AND s.cursor < k.seq AND s.claimed_until <= ? ORDER BY s.tenant_id LIMIT ?`+c.skipLocked(),
			sink, micros(now), limit); err != nil {
			return fmt.Errorf("claim sink: %w", err)
		}
		for _, r := range rows {
			if _, err := c.exec(ctx, `UPDATE event_sinks SET claimed_by = ?, claimed_until = ? WHERE sink = ? AND tenant_id = ?`,
				worker, micros(now.Add(lease)), sink, r.TenantID); err != nil {
				return fmt.Errorf("claim sink: %w", err)
			}
			var evs []eventRow
			if err := c.selectx(ctx, &evs, `SELECT seq, user_id, body FROM events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
				r.TenantID, r.Cursor, perTenant); err != nil {
				return fmt.Errorf("claim sink: %w", err)
			}
			b := provisioning.SinkBatch{TenantID: r.TenantID}
			for i := range evs {
				ev, err := evs[i].event()
				if err != nil {
					return err
				}
				b.Events = append(b.Events, ev)
			}
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

// ReleaseSink moves a claimed sink cursor to seq (never backwards) and ends the lease.
func (db *DB) ReleaseSink(ctx context.Context, sink, worker, tenantID string, seq int64) error {
	return db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		res, err := c.exec(ctx, `UPDATE event_sinks SET cursor = CASE WHEN cursor < ? THEN ? ELSE cursor END, claimed_by = '', claimed_until = 0
			WHERE sink = ? AND tenant_id = ? AND claimed_by = ?`, seq, seq, sink, tenantID, worker)
		if err != nil {
			return fmt.Errorf("release sink: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("sink %s tenant %s: claim lost: %w", sink, tenantID, provisioning.ErrConflict)
		}
		return nil
	})
}

// PurgeEvents deletes what retention no longer keeps: events, deliveries (with their
// attempts) and finished back-channel logouts. Deliveries still pending go too: their
// events are gone, and left behind they would hold back their users' later deliveries.
func (db *DB) PurgeEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	err := db.InTx(ctx, func(tx provisioning.Tx) error {
		c := tx.(*conn)
		total = 0
		for _, q := range []string{
			`DELETE FROM webhook_deliveries WHERE created_at < ?`,
			`DELETE FROM events WHERE created_at < ?`,
			`DELETE FROM logout_outbox WHERE created_at < ? AND status <> 'pending'`,
		} {
			res, err := c.exec(ctx, q, micros(cutoff))
			if err != nil {
				return fmt.Errorf("purge events: %w", err)
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}
