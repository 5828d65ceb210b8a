package provisioning

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds what the admin API's engine methods share: the Store and Tx extensions
// they need, the caller's powers, and the name → id resolution of roles and teams.

// Grant is one role or team of a user together with the source that granted it: "admin"
// for grants made through the admin API or CSV, "idp:<connection>" for grants of an SSO
// group mapping. Only admin grants are changed by the admin API.
type Grant struct {
	UserID string `json:"-" db:"user_id"`
	Kind   string `json:"kind" db:"kind"` // "role" or "team"
	ID     string `json:"id" db:"id"`
	Name   string `json:"name" db:"name"`
	Source string `json:"source" db:"source"`
}

// SourceAdminGrant is the source of roles and teams granted by admins.
const SourceAdminGrant = "admin"

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

// RuleError is a refusal by one of the engine's invariants (the last Admin, a role in
// use): the request is well-formed but conflicts with the current state.
type RuleError struct {
	Field  string
	Reason string
}

func (e *RuleError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrConflict) true.
func (e *RuleError) Is(target error) bool { return target == ErrConflict }

// ForbiddenError says why the caller may not do something.
type ForbiddenError struct{ Reason string }

func (e *ForbiddenError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// Principal is an authenticated caller of the admin API: who (Actor, recorded on audit
// events), in which tenant, with which permissions.
type Principal struct {
	Actor       Actor
	Tenant      *Tenant
	Permissions []Permission
	// Admin is true for admin tokens and users holding the built-in Admin role.
	Admin bool
	// SessionID is the session a signed-in user authenticated with ("" for tokens).
	SessionID string
}

// Can reports whether the principal holds the permission.
func (p *Principal) Can(perm Permission) bool { return p.Admin || slices.Contains(p.Permissions, perm) }

// TokenPrincipal is the principal of an authenticated admin token: every permission of its
// tenant.
func TokenPrincipal(tok *APIToken, t *Tenant) *Principal {
	return &Principal{Actor: Actor{Kind: ActorAdminToken, ID: tok.ID, Name: tok.Name}, Tenant: t,
		Permissions: append([]Permission(nil), AllPermissions...), Admin: true}
}

// SessionPrincipal is the principal of a signed-in user's session.
func SessionPrincipal(a *Access) *Principal {
	p := &Principal{Actor: Actor{Kind: ActorUser, ID: a.User.ID, Name: a.User.UserName}, Tenant: a.Tenant}
	if a.Session != nil {
		p.SessionID = a.Session.ID
	}
	for _, perm := range a.Permissions {
		p.Permissions = append(p.Permissions, Permission(perm))
	}
	p.Admin = slices.ContainsFunc(a.Roles, isAdminRole)
	return p
}

func isAdminRole(name string) bool { return FoldKey(name) == FoldKey(RoleAdmin) }

// power is what the actor may grant, re-read inside the transaction so that a session
// whose roles changed a moment ago cannot use the old ones.
type power struct {
	admin bool
	perms map[Permission]bool
}

func (e *Engine) power(ctx context.Context, tx Tx, tenantID string, actor Actor) (power, error) {
	switch actor.Kind {
	case ActorAdminToken, ActorCLI, ActorSystem:
		p := power{admin: true, perms: map[Permission]bool{}}
		for _, perm := range AllPermissions {
			p.perms[perm] = true
		}
		return p, nil
	case ActorUser:
	default:
		return power{}, &ForbiddenError{Reason: "this caller may not administer users"}
	}
	p := power{perms: map[Permission]bool{}}
	u, err := tx.GetUser(ctx, tenantID, actor.ID)
	if errors.Is(err, ErrNotFound) {
		return p, &ForbiddenError{Reason: "your account no longer exists"}
	}
	if err != nil {
		return p, err
	}
	if !u.Seat || u.Status == StatusDeactivated {
		return p, &ForbiddenError{Reason: "your account has no seat"}
	}
	roles, err := tx.ListRoles(ctx, tenantID)
	if err != nil {
		return p, err
	}
	for _, r := range roles {
		if !slices.ContainsFunc(u.Roles, func(n string) bool { return FoldKey(n) == FoldKey(r.Name) }) {
			continue
		}
		if r.BuiltIn && isAdminRole(r.Name) {
			p.admin = true
		}
		for _, perm := range r.Permissions {
			p.perms[perm] = true
		}
	}
	if !p.admin && !p.perms[PermManageUsers] {
		return p, &ForbiddenError{Reason: "you lack the manage_users permission"}
	}
	return p, nil
}

// mayGrant refuses roles that would give more than the actor holds (see grantRule).
func (p power) mayGrant(r Role) error {
	return grantRule(p.admin, func(x Permission) bool { return p.perms[x] }, r)
}

// mayManage refuses changes to an Admin's access or lifecycle by a non-Admin.
func (p power) mayManage(u *User) error {
	if !p.admin && slices.ContainsFunc(u.Roles, isAdminRole) {
		return &ForbiddenError{Reason: "only an Admin can change another Admin"}
	}
	return nil
}

// holdsAdmin reports whether u counts towards "at least one Admin".
func holdsAdmin(u *User) bool {
	return u.Seat && u.Status != StatusDeactivated && slices.ContainsFunc(u.Roles, isAdminRole)
}

// keepAnAdmin refuses a change that leaves the tenant without an Admin when it had one
// (wasAdmin: the changed user counted as one before).
func keepAnAdmin(ctx context.Context, tx Tx, tenantID string, wasAdmin bool) error {
	if !wasAdmin {
		return nil
	}
	if err := tx.LockTenant(ctx, tenantID); err != nil {
		return err
	}
	n, err := tx.CountAdmins(ctx, tenantID)
	if err != nil {
		return err
	}
	if n == 0 {
		return &RuleError{Field: "roles", Reason: "this would remove the last Admin of the organisation"}
	}
	return nil
}

// roleSet resolves role ids or names (case-insensitively) of a tenant.
type roleSet struct {
	byID   map[string]Role
	byName map[string]Role
}

func loadRoles(ctx context.Context, r Reader, tenantID string) (roleSet, error) {
	roles, err := r.ListRoles(ctx, tenantID)
	if err != nil {
		return roleSet{}, err
	}
	s := roleSet{byID: map[string]Role{}, byName: map[string]Role{}}
	for _, x := range roles {
		s.byID[x.ID] = x
		s.byName[FoldKey(x.Name)] = x
	}
	return s, nil
}

func (s roleSet) resolve(field string, refs []string) ([]Role, error) {
	var out []Role
	seen := map[string]bool{}
	for i, ref := range refs {
		r, ok := s.byID[ref]
		if !ok {
			r, ok = s.byName[FoldKey(ref)]
		}
		if !ok {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "no role %q", ref)
		}
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func roleIDs(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func resolveTeams(ctx context.Context, tx Reader, tenantID, field string, refs []string) ([]Team, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	teams, err := tx.ListTeams(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []Team
	seen := map[string]bool{}
	for i, ref := range refs {
		idx := slices.IndexFunc(teams, func(t Team) bool { return t.ID == ref })
		if idx < 0 {
			idx = slices.IndexFunc(teams, func(t Team) bool { return FoldKey(t.Name) == FoldKey(ref) })
		}
		if idx < 0 {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "no team %q", ref)
		}
		if t := teams[idx]; !seen[t.ID] {
			seen[t.ID] = true
			out = append(out, t)
		}
	}
	return out, nil
}

func teamIDs(ts []Team) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// MaxBatch caps the users of one seat, bulk or membership request.
const MaxBatch = 1000

// checkIDs validates a list of user ids given by a caller.
func checkIDs(field string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, Invalid(field, "at least one user id is required")
	}
	if len(ids) > MaxBatch {
		return nil, Invalid(field, "at most %d users at once", MaxBatch)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > 64 {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "is not a user id")
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// lockAll locks the users and fails with a not-found naming the first missing id.
func lockAll(ctx context.Context, tx Tx, tenantID, field string, ids []string) (map[string]*User, error) {
	users, err := tx.LockUsers(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*User, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	for i, id := range ids {
		if byID[id] == nil {
			if field == "id" {
				return nil, fmt.Errorf("%s: user %s: %w", field, id, ErrNotFound)
			}
			// A list names the unknown entry, so that a bulk call can be fixed.
			return nil, &NotFoundError{Field: fmt.Sprintf("%s[%d]", field, i), Kind: "user", ID: id}
		}
	}
	grants, err := tx.UserGrants(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		u := byID[g.UserID]
		if u == nil {
			continue
		}
		if g.Kind == "role" {
			u.Roles = append(u.Roles, g.Name)
		} else {
			u.Teams = append(u.Teams, g.Name)
		}
	}
	return byID, nil
}
