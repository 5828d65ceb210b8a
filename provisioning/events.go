package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is one entry of a tenant's typed, ordered change log. The engine derives it from
// the audit event of the same change, inside the same transaction: no change without its
// event, no event without its change. Seq is the tenant's cursor, assigned when the
// transaction commits, strictly increasing in commit order.
type Event struct {
	Seq      int64           `json:"seq"`
	ID       string          `json:"id"`
	TenantID string          `json:"tenantId"`
	Type     string          `json:"type"`
	Time     time.Time       `json:"time"`
	Actor    EventActor      `json:"actor"`
	Data     json.RawMessage `json:"data"`
	// UserID orders deliveries: webhooks deliver one user's events in Seq order.
	UserID string `json:"-"`
}

// EventActor says who made a change; the IP and request ID stay in the audit log.
type EventActor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id,omitempty"`
	Name string    `json:"name,omitempty"`
}

// LogoutReason says why a back-channel logout is sent.
type LogoutReason string

// The back-channel logout reasons.
const (
	LogoutDeactivated LogoutReason = "deactivated"
	LogoutDeleted     LogoutReason = "deleted"
	LogoutSeatFreed   LogoutReason = "seat_freed"
	LogoutSignedOut   LogoutReason = "signed_out"
)

// LogoutRequest is a back-channel logout to send to every OIDC client that registered a
// backchannel_logout_uri (OpenID Connect Back-Channel Logout 1.0). SessionID is set when
// one session ended (sign-out); otherwise every session of the user is meant.
type LogoutRequest struct {
	ID            string
	TenantID      string
	UserID        string
	SessionID     string
	Reason        LogoutReason
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// The event types. EventTypes lists them; docs/events.md documents each one's data.
const (
	EvUserCreated       = "user.created"
	EvUserUpdated       = "user.updated"
	EvUserDeactivated   = "user.deactivated"
	EvUserReactivated   = "user.reactivated"
	EvUserDeleted       = "user.deleted"
	EvSeatAssigned      = "seat.assigned"
	EvSeatFreed         = "seat.freed"
	EvRoleGranted       = "role.granted"
	EvRoleRevoked       = "role.revoked"
	EvRoleCreated       = "role.created"
	EvRoleUpdated       = "role.updated"
	EvRoleDeleted       = "role.deleted"
	EvTeamCreated       = "team.created"
	EvTeamUpdated       = "team.updated"
	EvTeamDeleted       = "team.deleted"
	EvTeamMemberAdded   = "team.member_added"
	EvTeamMemberRemoved = "team.member_removed"
	EvGroupCreated      = "group.created"
	EvGroupUpdated      = "group.updated"
	EvGroupDeleted      = "group.deleted"
	EvInvitationCreated = "invitation.created"
	EvInvitationResent  = "invitation.resent"
	EvInvitationRevoked = "invitation.revoked"
	EvInvitationAccept  = "invitation.accepted"
	EvLoginSucceeded    = "login.succeeded"
	EvLoginFailed       = "login.failed"
	EvSessionEnded      = "session.ended"
	EvConnectionCreated = "connection.created"
	EvConnectionUpdated = "connection.updated"
	EvConnectionDeleted = "connection.deleted"
	EvWebhookDisabled   = "webhook.disabled"
)

// EventTypes lists every event type, for filters and the schema document.
var EventTypes = []string{
	EvUserCreated, EvUserUpdated, EvUserDeactivated, EvUserReactivated, EvUserDeleted,
	EvSeatAssigned, EvSeatFreed,
	EvRoleGranted, EvRoleRevoked, EvRoleCreated, EvRoleUpdated, EvRoleDeleted,
	EvTeamCreated, EvTeamUpdated, EvTeamDeleted, EvTeamMemberAdded, EvTeamMemberRemoved,
	EvGroupCreated, EvGroupUpdated, EvGroupDeleted,
	EvInvitationCreated, EvInvitationResent, EvInvitationRevoked, EvInvitationAccept,
	EvLoginSucceeded, EvLoginFailed, EvSessionEnded,
	EvConnectionCreated, EvConnectionUpdated, EvConnectionDeleted,
	EvWebhookDisabled,
}

// ValidEventFilter checks a webhook's event filter: "*", "kind.*" or a known type.
func ValidEventFilter(f string) bool {
	if f == "*" {
		return true
	}
	if kind, ok := strings.CutSuffix(f, ".*"); ok {
		return slices.ContainsFunc(EventTypes, func(t string) bool { return strings.HasPrefix(t, kind+".") })
	}
	return slices.Contains(EventTypes, f)
}

// MatchEventFilter reports whether typ is selected by one of filters.
func MatchEventFilter(filters []string, typ string) bool {
	for _, f := range filters {
		if f == "*" || f == typ {
			return true
		}
		if kind, ok := strings.CutSuffix(f, ".*"); ok && strings.HasPrefix(typ, kind+".") {
			return true
		}
	}
	return false
}

// UserView is the user as events show it: identity, status, seat and access, never
// secrets or the whole SCIM profile.
type UserView struct {
	ID           string     `json:"id"`
	UserName     string     `json:"userName"`
	ExternalID   string     `json:"externalId,omitempty"`
	DisplayName  string     `json:"displayName,omitempty"`
	Email        string     `json:"email,omitempty"`
	Status       UserStatus `json:"status"`
	Source       Source     `json:"source,omitempty"`
	ManagedByIdP bool       `json:"managedByIdp"`
	Seat         bool       `json:"seat"`
	Roles        []string   `json:"roles"`
	Teams        []string   `json:"teams"`
	Version      int64      `json:"version"`
}

// snap is the union of the audit snapshot fields events are derived from.
type snap struct {
	ID           string       `json:"id"`
	UserName     string       `json:"userName"`
	ExternalID   string       `json:"externalId"`
	DisplayName  string       `json:"displayName"`
	Emails       []MultiValue `json:"emails"`
	Status       UserStatus   `json:"status"`
	Source       Source       `json:"source"`
	ManagedByIdP bool         `json:"managedByIdp"`
	Seat         *bool        `json:"seat"`
	Roles        []string     `json:"roles"`
	Teams        []string     `json:"teams"`
	UserIDs      []string     `json:"userIds"`
	Version      int64        `json:"version"`
}

func (s *snap) user() UserView {
	u := User{Emails: s.Emails}
	return UserView{ID: s.ID, UserName: s.UserName, ExternalID: s.ExternalID, DisplayName: s.DisplayName,
		Email: u.PrimaryEmail(), Status: s.Status, Source: s.Source, ManagedByIdP: s.ManagedByIdP,
		Seat: s.Seat != nil && *s.Seat, Roles: nonNilStrings(s.Roles), Teams: nonNilStrings(s.Teams), Version: s.Version}
}

func (s *snap) seated() bool { return s != nil && s.Seat != nil && *s.Seat }

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// derived is one event the engine derives from an audit record.
type derived struct {
	typ    string
	userID string
	data   any
	logout LogoutReason
	// sessionID narrows the logout to one session (sid).
	sessionID string
}

// The event data shapes (docs/events.md has their JSON schemas).
type (
	userData struct {
		User UserView `json:"user"`
	}
	seatData struct {
		UserID string `json:"userId"`
	}
	accessData struct {
		UserID string   `json:"userId"`
		Roles  []string `json:"roles,omitempty"`
		Teams  []string `json:"teams,omitempty"`
		TeamID string   `json:"teamId,omitempty"`
	}
	objectData struct {
		Object json.RawMessage `json:"object"`
	}
	loginData struct {
		UserID       string `json:"userId,omitempty"`
		Method       string `json:"method"`
		Result       string `json:"result"`
		Reason       string `json:"reason,omitempty"`
		ConnectionID string `json:"connectionId,omitempty"`
		Subject      string `json:"subject,omitempty"`
	}
	sessionData struct {
		UserID    string `json:"userId"`
		SessionID string `json:"sessionId,omitempty"`
	}
)

// deriveEvents maps one audit record to its events. Actions without a public event
// (tokens, tenant settings, mail suppression, passwords) yield none.
func deriveEvents(action, targetID string, before, after []byte) ([]derived, error) {
	var b, a *snap
	parse := func(raw []byte) (*snap, error) {
		if raw == nil {
			return nil, nil
		}
		var s snap
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("event from %s: %w", action, err)
		}
		return &s, nil
	}
	var err error
	if b, err = parse(before); err != nil {
		return nil, err
	}
	if a, err = parse(after); err != nil {
		return nil, err
	}
	return deriveFrom(action, targetID, b, a, before, after)
}

// userSnaps returns the snaps of an audit record whose snapshots are users (or absent),
// built from the structs: what parsing their JSON snapshots back gives, without the
// parse (a fifth of the engine's own CPU in a SCIM delete). ok is false for any other
// snapshot type.
func userSnaps(before, after any) (b, a *snap, ok bool) {
	of := func(v any) (*snap, bool) {
		switch u := v.(type) {
		case nil:
			return nil, true
		case *User:
			if u == nil {
				return nil, true
			}
			return userSnap(u), true
		}
		return nil, false
	}
	if b, ok = of(before); !ok {
		return nil, nil, false
	}
	a, ok = of(after)
	return b, a, ok
}

// userSnap is the snap that decoding u's JSON snapshot yields: members left out when
// empty (omitempty) decode as nil slices, and seat is always present.
func userSnap(u *User) *snap {
	orNil := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	s := &snap{ID: u.ID, UserName: u.UserName, ExternalID: u.ExternalID, DisplayName: u.DisplayName, Status: u.Status,
		Source: u.Source, ManagedByIdP: u.ManagedByIdP, Seat: new(bool), Roles: orNil(u.Roles), Teams: orNil(u.Teams), Version: u.Version}
	*s.Seat = u.Seat
	if len(u.Emails) > 0 {
		s.Emails = u.Emails
	}
	return s
}

// deriveFrom is deriveEvents on decoded snaps; before and after are the raw snapshots
// that object events carry.
func deriveFrom(action, targetID string, b, a *snap, before, after []byte) ([]derived, error) {
	object := func(typ string, raw []byte) []derived {
		return []derived{{typ: typ, data: objectData{Object: json.RawMessage(raw)}}}
	}
	access := func(uid string, from, to *snap) []derived {
		var out []derived
		var fr, tr, ft, tt []string
		if from != nil {
			fr, ft = from.Roles, from.Teams
		}
		if to != nil {
			tr, tt = to.Roles, to.Teams
		}
		if add := minus(tr, fr); len(add) > 0 {
			out = append(out, derived{typ: EvRoleGranted, userID: uid, data: accessData{UserID: uid, Roles: add}})
		}
		if del := minus(fr, tr); len(del) > 0 && to != nil && to.Roles != nil {
			out = append(out, derived{typ: EvRoleRevoked, userID: uid, data: accessData{UserID: uid, Roles: del}})
		}
		if add := minus(tt, ft); len(add) > 0 {
			out = append(out, derived{typ: EvTeamMemberAdded, userID: uid, data: accessData{UserID: uid, Teams: add}})
		}
		if del := minus(ft, tt); len(del) > 0 && to != nil && to.Teams != nil {
			out = append(out, derived{typ: EvTeamMemberRemoved, userID: uid, data: accessData{UserID: uid, Teams: del}})
		}
		return out
	}
	switch action {
	case "user.create", "user.import":
		return []derived{{typ: EvUserCreated, userID: targetID, data: userData{a.user()}}}, nil
	case "user.update":
		out := []derived{{typ: EvUserUpdated, userID: targetID, data: userData{a.user()}}}
		if b.seated() && a != nil && a.Seat != nil && !*a.Seat {
			out = append(out, derived{typ: EvSeatFreed, userID: targetID, data: seatData{targetID}, logout: LogoutSeatFreed})
		}
		return out, nil
	case "user.deactivate":
		out := []derived{{typ: EvUserDeactivated, userID: targetID, data: userData{a.user()}, logout: LogoutDeactivated}}
		if b.seated() {
			out = append(out, derived{typ: EvSeatFreed, userID: targetID, data: seatData{targetID}})
		}
		return out, nil
	case "user.reactivate":
		return []derived{{typ: EvUserReactivated, userID: targetID, data: userData{a.user()}}}, nil
	case "user.delete":
		out := []derived{{typ: EvUserDeleted, userID: targetID, data: userData{b.user()}, logout: LogoutDeleted}}
		if b.seated() {
			out = append(out, derived{typ: EvSeatFreed, userID: targetID, data: seatData{targetID}})
		}
		return out, nil
	case "seat.assign", "user.roles.grant":
		var out []derived
		if action == "seat.assign" && !b.seated() {
			out = append(out, derived{typ: EvSeatAssigned, userID: targetID, data: seatData{targetID}})
		}
		if a != nil && len(a.Roles) > 0 {
			if b == nil {
				b = &snap{}
			}
			// the after snapshot lists the roles granted, not the whole set
			if add := minus(a.Roles, b.Roles); len(add) > 0 {
				out = append(out, derived{typ: EvRoleGranted, userID: targetID, data: accessData{UserID: targetID, Roles: add}})
			}
		}
		return out, nil
	case "seat.unassign":
		return []derived{{typ: EvSeatFreed, userID: targetID, data: seatData{targetID}, logout: LogoutSeatFreed}}, nil
	case "user.roles", "user.teams", "user.access.idp":
		return access(targetID, b, a), nil
	case "team.members.add", "team.members.remove":
		typ, s := EvTeamMemberAdded, a
		if action == "team.members.remove" {
			typ, s = EvTeamMemberRemoved, b
		}
		var out []derived
		if s != nil {
			for _, uid := range s.UserIDs {
				out = append(out, derived{typ: typ, userID: uid, data: accessData{UserID: uid, TeamID: targetID}})
			}
		}
		return out, nil
	case "team.create":
		return object(EvTeamCreated, after), nil
	case "team.update":
		return object(EvTeamUpdated, after), nil
	case "team.delete":
		return object(EvTeamDeleted, before), nil
	case "role.create":
		return object(EvRoleCreated, after), nil
	case "role.update":
		return object(EvRoleUpdated, after), nil
	case "role.delete":
		return object(EvRoleDeleted, before), nil
	case "group.create":
		return object(EvGroupCreated, after), nil
	case "group.update":
		return object(EvGroupUpdated, after), nil
	case "group.delete":
		return object(EvGroupDeleted, before), nil
	case "invitation.create":
		return userObject(EvInvitationCreated, after)
	case "invitation.resend":
		return userObject(EvInvitationResent, after)
	case "invitation.revoke":
		return userObject(EvInvitationRevoked, after)
	case "invitation.accept":
		return userObject(EvInvitationAccept, after)
	case "connection.create":
		return object(EvConnectionCreated, after), nil
	case "connection.update", "connection.disable", "connection.enable":
		return object(EvConnectionUpdated, after), nil
	case "connection.delete":
		return object(EvConnectionDeleted, before), nil
	case "session.end":
		// One session ended by its user: the platform's session of it ends too (sid).
		// "Sign out everywhere else" names no session: its event carries none, and no
		// logout is sent, since a logout by sub alone would end the kept session as well.
		var s struct {
			SessionID string `json:"sessionId"`
		}
		if after != nil {
			if err := json.Unmarshal(after, &s); err != nil {
				return nil, fmt.Errorf("event from %s: %w", action, err)
			}
		}
		d := derived{typ: EvSessionEnded, userID: targetID, data: sessionData{UserID: targetID, SessionID: s.SessionID}}
		if s.SessionID != "" {
			d.logout, d.sessionID = LogoutSignedOut, s.SessionID
		}
		return []derived{d}, nil
	case "webhook.disable":
		return object(EvWebhookDisabled, after), nil
	}
	return nil, nil
}

// userObject is an object event ordered with its user's events (invitations).
func userObject(typ string, raw []byte) ([]derived, error) {
	var s struct {
		UserID string `json:"userId"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("event %s: %w", typ, err)
	}
	return []derived{{typ: typ, userID: s.UserID, data: objectData{Object: json.RawMessage(raw)}}}, nil
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// emit appends the events derived from one audit record to tx, and queues the
// back-channel logouts they call for. A transaction that cannot record events fails:
// a change must not escape its event.
func (e *Engine) emit(ctx context.Context, tx Tx, actor Actor, tenantID string, at time.Time, ds []derived) error {
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		data, err := json.Marshal(d.data)
		if err != nil {
			return fmt.Errorf("event %s data: %w", d.typ, err)
		}
		ev := &Event{ID: "evt_" + strings.ReplaceAll(e.NewID(), "-", ""), TenantID: tenantID, Type: d.typ, Time: at,
			Actor: EventActor{Kind: actor.Kind, ID: actor.ID, Name: actor.Name}, Data: data, UserID: d.userID}
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return fmt.Errorf("append event %s: %w", d.typ, err)
		}
		if d.logout != "" && d.userID != "" {
			if err := tx.EnqueueLogout(ctx, &LogoutRequest{ID: e.NewID(), TenantID: tenantID, UserID: d.userID, SessionID: d.sessionID,
				Reason: d.logout, NextAttemptAt: at, CreatedAt: at}); err != nil {
				return fmt.Errorf("queue back-channel logout: %w", err)
			}
		}
	}
	return nil
}

// emitLogin records the event of a sign-in attempt.
func (e *Engine) emitLogin(ctx context.Context, tx Tx, ev *LoginEvent) error {
	if ev.TenantID == "" {
		return nil // an attempt no tenant could be found for has no tenant log to go to
	}
	typ := EvLoginSucceeded
	if ev.Result != "success" {
		typ = EvLoginFailed
	}
	actor := Actor{Kind: ActorSSO, ID: ev.UserID}
	return e.emit(ctx, tx, actor, ev.TenantID, e.now(), []derived{{typ: typ, userID: ev.UserID,
		data: loginData{UserID: ev.UserID, Method: ev.Method, Result: ev.Result, Reason: ev.Reason, ConnectionID: ev.ConnectionID,
			Subject: ev.Subject}}})
}

// ListEvents returns up to limit events of the tenant after the cursor. It answers from
// committed data only, and Seq order is commit order, so a client that stores the last
// Seq it processed and asks again from there never misses an event.
func (e *Engine) ListEvents(ctx context.Context, tenantID string, after int64, limit int) ([]Event, error) {
	r := e.Store
	if after < 0 {
		return nil, Invalid("after", "must not be negative")
	}
	if limit <= 0 || limit > 1000 {
		limit = min(max(limit, 0), 1000)
		if limit == 0 {
			limit = 100
		}
	}
	return r.ListEvents(ctx, tenantID, after, limit)
}

// WaitEvents is ListEvents that, when nothing is there yet, polls until an event arrives,
// wait passes or ctx ends (long polling). Polling the database, rather than waiting for
// an in-process signal, sees events written by every replica.
func (e *Engine) WaitEvents(ctx context.Context, tenantID string, after int64, limit int, wait, every time.Duration) ([]Event, error) {
	deadline := time.Now().Add(wait)
	for {
		evs, err := e.ListEvents(ctx, tenantID, after, limit)
		if err != nil || len(evs) > 0 || wait <= 0 || !time.Now().Before(deadline) {
			return evs, err
		}
		t := time.NewTimer(min(every, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return evs, nil
		case <-t.C:
		}
	}
}
