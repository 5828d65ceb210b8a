package provisioning

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// This file is the access module: roles and their permissions, teams, the grants of both
// to users with their source ("admin" for what an admin gives through the admin API, the
// console, CSV, local users and invitations; "idp:<connection>" for an SSO group
// mapping), the one rule of who may grant what, the one resolver of role and team names
// and the one diff of grants. Every path that gives or takes access goes through it.

// Grant is one role or team of a user together with the source that granted it: "admin"
// for grants an admin made (admin API, console, CSV, local users, invitations),
// "idp:<connection>" for grants of an SSO group mapping. Only admin grants are changed by the admin API.
type Grant struct {
	UserID string `json:"-" db:"user_id"`
	Kind   string `json:"kind" db:"kind"` // "role" or "team"
	ID     string `json:"id" db:"id"`
	Name   string `json:"name" db:"name"`
	Source string `json:"source" db:"source"`
}

// SourceAdminGrant is the source of roles and teams granted by admins.
const SourceAdminGrant = "admin"

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

// refSet is the one resolver of role and team references of a tenant: an id, or a name
// compared case-insensitively (FoldKey). Every door's names (admin API, console, CSV,
// invitations, local users, SSO group mappings, the default role) are resolved by it.
type refSet[T any] struct {
	kind   string // "role" or "team", for error messages
	idOf   func(T) string
	byID   map[string]T
	byName map[string]T
}

func newRefSet[T any](kind string, items []T, id, name func(T) string) refSet[T] {
	s := refSet[T]{kind: kind, idOf: id, byID: make(map[string]T, len(items)), byName: make(map[string]T, len(items))}
	for _, x := range items {
		s.byID[id(x)] = x
		s.byName[FoldKey(name(x))] = x
	}
	return s
}

// find resolves one reference: by id first, then by name.
func (s refSet[T]) find(ref string) (T, bool) {
	if x, ok := s.byID[ref]; ok {
		return x, true
	}
	x, ok := s.byName[FoldKey(ref)]
	return x, ok
}

// named looks up a name only: a connection's mapping rules name roles and teams.
func (s refSet[T]) named(name string) (T, bool) {
	x, ok := s.byName[FoldKey(name)]
	return x, ok
}

// resolve resolves every reference, without duplicates, in the order given; an unknown
// one is a *ValidationError naming its index ("roles[2]").
func (s refSet[T]) resolve(field string, refs []string) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	for i, ref := range refs {
		x, ok := s.find(ref)
		if !ok {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "no %s %q", s.kind, ref)
		}
		if id := s.idOf(x); !seen[id] {
			seen[id] = true
			out = append(out, x)
		}
	}
	return out, nil
}

// roleSet and teamSet are the resolvers of a tenant's roles and teams.
type (
	roleSet = refSet[Role]
	teamSet = refSet[Team]
)

// powerAndRoles is what an admin change of users reads first: the caller's power and the
// tenant's roles.
func (e *Engine) powerAndRoles(ctx context.Context, tx Tx, tenantID string, actor Actor) (power, roleSet, error) {
	pw, err := e.power(ctx, tx, tenantID, actor)
	if err != nil {
		return power{}, roleSet{}, err
	}
	rs, err := loadRoles(ctx, tx, tenantID)
	return pw, rs, err
}

func loadRoles(ctx context.Context, r Reader, tenantID string) (roleSet, error) {
	roles, err := r.ListRoles(ctx, tenantID)
	if err != nil {
		return roleSet{}, err
	}
	return newRefSet("role", roles, func(x Role) string { return x.ID }, func(x Role) string { return x.Name }), nil
}

func loadTeams(ctx context.Context, r Reader, tenantID string) (teamSet, error) {
	teams, err := r.ListTeams(ctx, tenantID)
	if err != nil {
		return teamSet{}, err
	}
	return newRefSet("team", teams, func(x Team) string { return x.ID }, func(x Team) string { return x.Name }), nil
}

// resolveTeams resolves team references; no reference reads nothing.
func resolveTeams(ctx context.Context, r Reader, tenantID, field string, refs []string) ([]Team, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	ts, err := loadTeams(ctx, r, tenantID)
	if err != nil {
		return nil, err
	}
	return ts.resolve(field, refs)
}

// defaultRole is the tenant's default role, given to a seated user left without one; ok
// is false when the tenant has none (its users are seated without access, seed 000). A
// default role that no longer exists is a *ValidationError on field.
func defaultRole(s roleSet, t *Tenant, field string) (r Role, ok bool, err error) {
	if t.Policy.DefaultRole == "" {
		return Role{}, false, nil
	}
	def, found := s.named(t.Policy.DefaultRole)
	if !found {
		return Role{}, false, Invalid(field, "the organisation's default role %q no longer exists; give roles or fix the default role", t.Policy.DefaultRole)
	}
	return def, true, nil
}

// adminGrants resolves the roles and teams an admin gives a new user (admin API, console,
// CSV, local users, invitations): every role passes the actor's grant rule, and a user
// without roles gets the tenant's default role when seated, or whatever its seat when
// defaultAlways (a local user or an invitee is given one up front).
func (e *Engine) adminGrants(ctx context.Context, tx Tx, actor Actor, a *adminAccess, field string, seat bool) ([]Role, []Team, error) {
	t := a.tenant
	if a.roles.byID == nil {
		var err error
		if a.roles, err = loadRoles(ctx, tx, t.ID); err != nil {
			return nil, nil, err
		}
	}
	roles, err := a.roles.resolve(field+"roles", a.roleRefs)
	if err != nil {
		return nil, nil, err
	}
	if len(roles) == 0 && (seat || a.defaultAlways) {
		def, ok, err := defaultRole(a.roles, t, field+"roles")
		if err != nil {
			return nil, nil, err
		}
		if ok {
			roles = []Role{def}
		}
	}
	if len(roles) > 0 && a.power == nil {
		// Asked only when something is granted: an invitation without roles needs none.
		pw, err := e.power(ctx, tx, t.ID, actor)
		if err != nil {
			return nil, nil, err
		}
		a.power = &pw
	}
	for _, r := range roles {
		if err := a.power.mayGrant(r); err != nil {
			return nil, nil, err
		}
	}
	teams, err := resolveTeams(ctx, tx, t.ID, field+"teams", a.teamRefs)
	if err != nil {
		return nil, nil, err
	}
	return roles, teams, nil
}

func roleIDs(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func roleNames(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func teamIDs(ts []Team) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func teamNames(ts []Team) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// diffGrants is the one diff of grants of one kind and one source: from the ids held now
// to the ids wanted, what to give and what to take away (each sorted, for a stable order
// of writes). Admin changes (set, add, remove) and SSO group mappings both use it.
func diffGrants(held, wanted []string) (give, take []string) {
	h, w := map[string]bool{}, map[string]bool{}
	for _, id := range held {
		h[id] = true
	}
	for _, id := range wanted {
		w[id] = true
	}
	for id := range w {
		if !h[id] {
			give = append(give, id)
		}
	}
	for id := range h {
		if !w[id] {
			take = append(take, id)
		}
	}
	slices.Sort(give)
	slices.Sort(take)
	return give, take
}

// wantedGrants applies an admin's change to the ids held: set replaces them when not nil,
// add and remove adjust the result.
func wantedGrants(held, set, add, remove []string) []string {
	want := held
	if set != nil {
		want = set
	}
	want = append(append([]string(nil), want...), add...)
	return slices.DeleteFunc(want, func(id string) bool { return slices.Contains(remove, id) })
}

// heldGrants is the ids of the user's grants of kind ("role" or "team") from source.
func heldGrants(grants []Grant, kind, source string) []string {
	var out []string
	for _, g := range grants {
		if g.Kind == kind && g.Source == source {
			out = append(out, g.ID)
		}
	}
	return out
}

// grantRule is the one rule of who may grant (or revoke) a role: only an Admin grants
// Admin, and no one grants a permission they lack (a custom role is no way around it). The
// engine applies it inside its transactions; the console asks it through
// Principal.MayGrant to offer only the roles the caller may grant.
func grantRule(admin bool, holds func(Permission) bool, r Role) error {
	if admin {
		return nil
	}
	if isAdminRole(r.Name) {
		return &ForbiddenError{Reason: "only an Admin can grant or revoke the Admin role"}
	}
	for _, perm := range r.Permissions {
		if !holds(perm) {
			return &ForbiddenError{Reason: fmt.Sprintf("role %q grants %s, which you do not hold", r.Name, perm)}
		}
	}
	return nil
}

// MayGrant reports whether the principal may grant or revoke the role. It is the engine's
// rule as of the principal's session; the engine checks again, with the caller's current
// roles, when the change is made.
func (p *Principal) MayGrant(r Role) bool {
	return grantRule(p.Admin, func(x Permission) bool { return p.Can(x) }, r) == nil
}

// RoleInput is what an admin sets on a custom role.
type RoleInput struct {
	Name        *string
	Description *string
	Permissions *[]Permission
}

func validPermissions(perms []Permission) ([]Permission, error) {
	out := []Permission{}
	for i, p := range perms {
		if !slices.Contains(AllPermissions, p) {
			return nil, Invalid(fmt.Sprintf("permissions[%d]", i), "unknown permission %q", p)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// validName checks the name of a role or team: trimmed, required, at most 100 bytes.
func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Invalid("name", "is required")
	}
	if len(name) > 100 {
		return "", Invalid("name", "is longer than 100 characters")
	}
	if err := CheckText("name", name, 100); err != nil {
		return "", err
	}
	return name, nil
}

// ListRoles lists the tenant's built-in and custom roles.
func (e *Engine) ListRoles(ctx context.Context, tenantID string) ([]Role, error) {
	return e.Store.ListRoles(ctx, tenantID)
}

// GetRole returns one role of the tenant.
func (e *Engine) GetRole(ctx context.Context, tenantID, id string) (*Role, error) {
	s := e.Store
	return s.GetRole(ctx, tenantID, id)
}

// CreateRole creates a custom role. Its permissions must all be held by the actor.
func (e *Engine) CreateRole(ctx context.Context, actor Actor, tenantID string, in RoleInput) (*Role, error) {
	r := &Role{ID: e.NewID(), TenantID: tenantID, CreatedAt: e.now(), Permissions: []Permission{}}
	var err error
	if in.Name == nil {
		return nil, Invalid("name", "is required")
	}
	if r.Name, err = validName(*in.Name); err != nil {
		return nil, err
	}
	if in.Description != nil {
		r.Description = strings.TrimSpace(*in.Description)
		if err := CheckText("description", r.Description, MaxText); err != nil {
			return nil, err
		}
	}
	if in.Permissions != nil {
		if r.Permissions, err = validPermissions(*in.Permissions); err != nil {
			return nil, err
		}
	}
	err = e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		if err := pw.mayGrant(*r); err != nil {
			return err
		}
		if err := tx.CreateRole(ctx, tenantID, r); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "role.create", "role", r.ID, nil, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// UpdateRole changes a custom role. Built-in roles are fixed.
func (e *Engine) UpdateRole(ctx context.Context, actor Actor, tenantID, id string, in RoleInput) (*Role, error) {
	var out *Role
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		before, err := tx.GetRole(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if before.BuiltIn {
			return &RuleError{Field: "id", Reason: fmt.Sprintf("the built-in role %s cannot be changed", before.Name)}
		}
		r := *before
		if in.Name != nil {
			if r.Name, err = validName(*in.Name); err != nil {
				return err
			}
		}
		if in.Description != nil {
			r.Description = strings.TrimSpace(*in.Description)
			if err := CheckText("description", r.Description, MaxText); err != nil {
				return err
			}
		}
		if in.Permissions != nil {
			if r.Permissions, err = validPermissions(*in.Permissions); err != nil {
				return err
			}
		}
		// Both the old and the new permission set must be within the actor's: editing a
		// role changes what its holders may do.
		if err := pw.mayGrant(*before); err != nil {
			return err
		}
		if err := pw.mayGrant(r); err != nil {
			return err
		}
		if err := tx.UpdateRole(ctx, tenantID, &r); err != nil {
			return err
		}
		out = &r
		return e.audit(ctx, tx, actor, tenantID, "role.update", "role", id, before, &r)
	})
	return out, err
}

// DeleteRole removes a custom role that no user holds.
func (e *Engine) DeleteRole(ctx context.Context, actor Actor, tenantID, id string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		r, err := tx.GetRole(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if r.BuiltIn {
			return &RuleError{Field: "id", Reason: fmt.Sprintf("the built-in role %s cannot be deleted", r.Name)}
		}
		if err := pw.mayGrant(*r); err != nil {
			return err
		}
		page, err := tx.ListUsers(ctx, tenantID, UserQuery{Filter: Compare{Field: "role", Op: OpEq, Value: r.Name}})
		if err != nil {
			return err
		}
		if page.Total > 0 {
			return &RuleError{Field: "id", Reason: fmt.Sprintf("role %s is held by %s; take it away from them first", r.Name, plural(page.Total, "user", "users"))}
		}
		if err := tx.DeleteRole(ctx, tenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "role.delete", "role", id, r, nil)
	})
}

// RoleChange is a change of a user's admin-granted roles: Set replaces them (when not
// nil), Add and Remove adjust them. Roles granted by an identity provider stay.
type RoleChange struct {
	Set    []string
	Add    []string
	Remove []string
}

// ChangeUserRoles changes the admin-granted roles of a user. A seated user keeps at least
// one role, only an Admin grants or revokes Admin, and the last Admin stays one.
func (e *Engine) ChangeUserRoles(ctx context.Context, actor Actor, tenantID, userID string, ch RoleChange) (*User, error) {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, rs, err := e.powerAndRoles(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		return e.changeRolesTx(ctx, tx, actor, pw, rs, tenantID, userID, "roles", ch)
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, userID)
}

func (e *Engine) changeRolesTx(ctx context.Context, tx Tx, actor Actor, pw power, rs roleSet, tenantID, userID, field string, ch RoleChange) error {
	users, err := lockAll(ctx, tx, tenantID, "id", []string{userID})
	if err != nil {
		return err
	}
	u := users[userID]
	grants, err := tx.UserGrants(ctx, tenantID, []string{userID})
	if err != nil {
		return err
	}
	var set []string
	if ch.Set != nil {
		sr, err := rs.resolve(field, ch.Set)
		if err != nil {
			return err
		}
		set = append([]string{}, roleIDs(sr)...)
	}
	add, err := rs.resolve(field, ch.Add)
	if err != nil {
		return err
	}
	rem, err := rs.resolve(field, ch.Remove)
	if err != nil {
		return err
	}
	held := heldGrants(grants, "role", SourceAdminGrant)
	grant, revoke := diffGrants(held, wantedGrants(held, set, roleIDs(add), roleIDs(rem)))
	if len(grant) == 0 && len(revoke) == 0 {
		return nil
	}
	for _, id := range append(append([]string{}, grant...), revoke...) {
		if err := pw.mayGrant(rs.byID[id]); err != nil {
			return err
		}
	}
	if len(revoke) > 0 {
		if err := pw.mayManage(u); err != nil {
			return err
		}
	}
	wasAdmin := holdsAdmin(u)
	if err := tx.RevokeRoles(ctx, tenantID, []string{userID}, revoke); err != nil {
		return err
	}
	if err := tx.GrantRoles(ctx, tenantID, []string{userID}, grant); err != nil {
		return err
	}
	after, err := tx.GetUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if after.Seat && len(after.Roles) == 0 {
		// Only a tenant whose default role is empty has seated users without access.
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.Policy.DefaultRole != "" {
			return Invalid(field, "a seated user keeps at least one role (the organisation's default role is %s)", t.Policy.DefaultRole)
		}
	}
	if wasAdmin && !holdsAdmin(after) {
		if err := keepAnAdmin(ctx, tx, tenantID, true); err != nil {
			return err
		}
	}
	type access struct {
		Roles []string `json:"roles"`
	}
	return e.audit(ctx, tx, actor, tenantID, "user.roles", "user", userID, access{u.Roles}, access{after.Roles})
}

// Permissions lists every permission a role can grant.
func (e *Engine) Permissions() []Permission { return append([]Permission(nil), AllPermissions...) }

// plural writes "1 user" or "3 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// TeamInput is what an admin sets on a team.
type TeamInput struct {
	Name        *string
	Description *string
}

// ListTeams lists the tenant's teams with their member counts.
func (e *Engine) ListTeams(ctx context.Context, tenantID string) ([]Team, error) {
	s := e.Store
	return s.ListTeams(ctx, tenantID)
}

// GetTeam returns one team of the tenant.
func (e *Engine) GetTeam(ctx context.Context, tenantID, id string) (*Team, error) {
	s := e.Store
	return s.GetTeam(ctx, tenantID, id)
}

// CreateTeam creates a team, with initial members when given.
func (e *Engine) CreateTeam(ctx context.Context, actor Actor, tenantID string, in TeamInput, members []string) (*Team, error) {
	now := e.now()
	t := &Team{ID: e.NewID(), TenantID: tenantID, CreatedAt: now, UpdatedAt: now}
	var err error
	if in.Name == nil {
		return nil, Invalid("name", "is required")
	}
	if t.Name, err = validName(*in.Name); err != nil {
		return nil, err
	}
	if in.Description != nil {
		t.Description = strings.TrimSpace(*in.Description)
		if err := CheckText("description", t.Description, MaxText); err != nil {
			return nil, err
		}
	}
	var ids []string
	if len(members) > 0 {
		if ids, err = checkIDs("members", members); err != nil {
			return nil, err
		}
	}
	err = e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := e.power(ctx, tx, tenantID, actor); err != nil {
			return err
		}
		if err := tx.CreateTeam(ctx, tenantID, t); err != nil {
			return err
		}
		if err := e.audit(ctx, tx, actor, tenantID, "team.create", "team", t.ID, nil, t); err != nil {
			return err
		}
		if len(ids) > 0 {
			return e.addMembersTx(ctx, tx, actor, tenantID, t, ids, "members")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.GetTeam(ctx, tenantID, t.ID)
}

// UpdateTeam renames or describes a team.
func (e *Engine) UpdateTeam(ctx context.Context, actor Actor, tenantID, id string, in TeamInput) (*Team, error) {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := e.power(ctx, tx, tenantID, actor); err != nil {
			return err
		}
		before, err := tx.GetTeam(ctx, tenantID, id)
		if err != nil {
			return err
		}
		t := *before
		if in.Name != nil {
			if t.Name, err = validName(*in.Name); err != nil {
				return err
			}
		}
		if in.Description != nil {
			t.Description = strings.TrimSpace(*in.Description)
			if err := CheckText("description", t.Description, MaxText); err != nil {
				return err
			}
		}
		t.UpdatedAt = e.now()
		if err := tx.UpdateTeam(ctx, tenantID, &t); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "team.update", "team", id, before, &t)
	})
	if err != nil {
		return nil, err
	}
	return e.GetTeam(ctx, tenantID, id)
}

// DeleteTeam removes a team and its memberships.
func (e *Engine) DeleteTeam(ctx context.Context, actor Actor, tenantID, id string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := e.power(ctx, tx, tenantID, actor); err != nil {
			return err
		}
		t, err := tx.GetTeam(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteTeam(ctx, tenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "team.delete", "team", id, t, nil)
	})
}

// AddTeamMembers adds users to a team (the team side of membership).
func (e *Engine) AddTeamMembers(ctx context.Context, actor Actor, tenantID, teamID string, userIDs []string) (*Team, error) {
	ids, err := checkIDs("userIds", userIDs)
	if err != nil {
		return nil, err
	}
	err = e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := e.power(ctx, tx, tenantID, actor); err != nil {
			return err
		}
		t, err := tx.GetTeam(ctx, tenantID, teamID)
		if err != nil {
			return err
		}
		return e.addMembersTx(ctx, tx, actor, tenantID, t, ids, "userIds")
	})
	if err != nil {
		return nil, err
	}
	return e.GetTeam(ctx, tenantID, teamID)
}

func (e *Engine) addMembersTx(ctx context.Context, tx Tx, actor Actor, tenantID string, t *Team, ids []string, field string) error {
	if _, err := lockAll(ctx, tx, tenantID, field, ids); err != nil {
		return err
	}
	if err := tx.AddTeamMembers(ctx, tenantID, []string{t.ID}, ids); err != nil {
		return err
	}
	return e.audit(ctx, tx, actor, tenantID, "team.members.add", "team", t.ID, nil, map[string]any{"userIds": ids})
}

// RemoveTeamMember removes a user from a team. A membership granted by an identity
// provider's group mapping cannot be removed here: the next sign-in would restore it.
func (e *Engine) RemoveTeamMember(ctx context.Context, actor Actor, tenantID, teamID, userID string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := e.power(ctx, tx, tenantID, actor); err != nil {
			return err
		}
		if _, err := tx.GetTeam(ctx, tenantID, teamID); err != nil {
			return err
		}
		users, err := lockAll(ctx, tx, tenantID, "userId", []string{userID})
		if err != nil {
			return err
		}
		n, err := tx.RemoveTeamMembers(ctx, tenantID, []string{teamID}, []string{userID})
		if err != nil {
			return err
		}
		if n == 0 {
			grants, err := tx.UserGrants(ctx, tenantID, []string{userID})
			if err != nil {
				return err
			}
			for _, g := range grants {
				if g.Kind == "team" && g.ID == teamID {
					return &RuleError{Field: "userId", Reason: "this membership is managed by the identity provider's group mapping"}
				}
			}
			return fmt.Errorf("user %s is not a member of team %s: %w", users[userID].UserName, teamID, ErrNotFound)
		}
		return e.audit(ctx, tx, actor, tenantID, "team.members.remove", "team", teamID, map[string]any{"userIds": []string{userID}}, nil)
	})
}

// ListTeamMembers lists a page of a team's members (the users overview filtered by team).
func (e *Engine) ListTeamMembers(ctx context.Context, tenantID, teamID string, q UserQuery) (*UserPage, error) {
	t, err := e.GetTeam(ctx, tenantID, teamID)
	if err != nil {
		return nil, err
	}
	f := Filter(Compare{Field: "team", Op: OpEq, Value: t.Name})
	if q.Filter != nil {
		f = And{f, q.Filter}
	}
	q.Filter = f
	return e.Store.ListUsers(ctx, tenantID, q)
}

// SetUserTeams replaces the admin-granted teams of a user (the user side of membership);
// teams granted by an identity provider stay.
func (e *Engine) SetUserTeams(ctx context.Context, actor Actor, tenantID, userID string, teams []string) (*User, error) {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := e.power(ctx, tx, tenantID, actor); err != nil {
			return err
		}
		return e.changeTeamsTx(ctx, tx, actor, tenantID, userID, "teams", teams, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, userID)
}

// changeTeamsTx sets (set not nil), adds and removes a user's admin-granted teams.
func (e *Engine) changeTeamsTx(ctx context.Context, tx Tx, actor Actor, tenantID, userID, field string, set, add, remove []string) error {
	users, err := lockAll(ctx, tx, tenantID, "id", []string{userID})
	if err != nil {
		return err
	}
	grants, err := tx.UserGrants(ctx, tenantID, []string{userID})
	if err != nil {
		return err
	}
	ts, err := loadTeams(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	var want []string
	if set != nil {
		st, err := ts.resolve(field, set)
		if err != nil {
			return err
		}
		want = append([]string{}, teamIDs(st)...)
	}
	at, err := ts.resolve(field, add)
	if err != nil {
		return err
	}
	rt, err := ts.resolve(field, remove)
	if err != nil {
		return err
	}
	held := heldGrants(grants, "team", SourceAdminGrant)
	in, out := diffGrants(held, wantedGrants(held, want, teamIDs(at), teamIDs(rt)))
	if len(in) == 0 && len(out) == 0 {
		return nil
	}
	if len(out) > 0 {
		if _, err := tx.RemoveTeamMembers(ctx, tenantID, out, []string{userID}); err != nil {
			return err
		}
	}
	if len(in) > 0 {
		if err := tx.AddTeamMembers(ctx, tenantID, in, []string{userID}); err != nil {
			return err
		}
	}
	after, err := tx.GetUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	type access struct {
		Teams []string `json:"teams"`
	}
	return e.audit(ctx, tx, actor, tenantID, "user.teams", "user", userID, access{users[userID].Teams}, access{after.Teams})
}
