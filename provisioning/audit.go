package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Audit and login events: every change appends its audit event (and the typed event
// derived from it) in its own transaction; sign-ins append login events. The store side
// is store/audit.go.

// audit appends an audit event inside tx. before and after are JSON-encoded snapshots.
func (e *Engine) audit(ctx context.Context, tx Tx, actor Actor, tenantID, action, targetKind, targetID string, before, after any) error {
	return e.auditLogout(ctx, tx, actor, tenantID, action, targetKind, targetID, before, after, true)
}

// auditLogout is audit for a change that knows whether a back-channel logout would end
// anything (Tx.DeleteUser tells it): with logoutDue false the events derived from the
// record queue none. Most deleted users (a directory's deprovisioning) never signed in,
// and each queued logout cost an outbox row, its claim and its finish.
func (e *Engine) auditLogout(ctx context.Context, tx Tx, actor Actor, tenantID, action, targetKind, targetID string, before, after any,
	logoutDue bool) error {
	ev := &AuditEvent{TenantID: tenantID, At: e.now(), ActorKind: actor.Kind, ActorID: actor.ID, ActorName: actor.Name,
		Action: action, TargetKind: targetKind, TargetID: targetID, IP: actor.IP, RequestID: actor.RequestID}
	var err error
	if ev.Before, err = snapshot(before); err != nil {
		return err
	}
	if ev.After, err = snapshot(after); err != nil {
		return err
	}
	if err := tx.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	// The typed event is derived here, from the same snapshots, so that every audited
	// change also reaches the event log in its transaction.
	var ds []derived
	if b, a, ok := userSnaps(before, after); ok {
		ds, err = deriveFrom(action, targetID, b, a, ev.Before, ev.After)
	} else {
		ds, err = deriveEvents(action, targetID, ev.Before, ev.After)
	}
	if err != nil {
		return err
	}
	if !logoutDue {
		for i := range ds {
			ds[i].logout = ""
		}
	}
	return e.emit(ctx, tx, actor, tenantID, ev.At, ds)
}

func snapshot(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case *User:
		if x == nil {
			return nil, nil
		}
	case *Group:
		if x == nil {
			return nil, nil
		}
	case *Tenant:
		if x == nil {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit snapshot: %w", err)
	}
	return b, nil
}

// appendLogin records a login event in tx and tells the observer.
func (e *Engine) appendLogin(ctx context.Context, tx Tx, ev *LoginEvent) error {
	if err := tx.AppendLogin(ctx, ev); err != nil {
		return err
	}
	if err := e.emitLogin(ctx, tx, ev); err != nil {
		return err
	}
	if e.LoginObserver != nil {
		e.LoginObserver(ev.Method, ev.Result)
	}
	return nil
}

// ListAudit returns a page of the tenant's audit events, newest first.
func (e *Engine) ListAudit(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error) {
	return e.Store.ListAudit(ctx, tenantID, q)
}

// LoginHistory returns a user's login summary and a page of its login events, newest
// first.
func (e *Engine) LoginHistory(ctx context.Context, tenantID, userID string, q LoginQuery) (*LoginSummary, error) {
	s := e.Store
	if _, err := s.GetUser(ctx, tenantID, userID); err != nil {
		return nil, err
	}
	sum, err := s.LoginSummary(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	q.UserID = userID
	if sum.Events, err = s.ListLogins(ctx, tenantID, q); err != nil {
		return nil, err
	}
	return sum, nil
}

// LoginSummary sums up a user's sign-ins.
type LoginSummary struct {
	LastLoginAt *time.Time   `json:"lastLoginAt,omitempty"`
	Count       int          `json:"count"`
	Failures    int          `json:"failures"`
	IPs         []LoginSeen  `json:"ips"`
	UserAgents  []LoginSeen  `json:"userAgents"`
	Events      []LoginEvent `json:"-"`
}

// LoginSeen is one IP address or user agent a user signed in from.
type LoginSeen struct {
	Value    string    `json:"value" db:"value"`
	Count    int       `json:"count" db:"n"`
	LastSeen time.Time `json:"lastSeen" db:"-"`
}
