package provisioning

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

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

func validRoleName(name string) (string, error) {
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
	if r.Name, err = validRoleName(*in.Name); err != nil {
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
			if r.Name, err = validRoleName(*in.Name); err != nil {
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
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		rs, err := loadRoles(ctx, tx, tenantID)
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
	current := map[string]bool{} // admin-sourced role ids
	for _, g := range grants {
		if g.Kind == "role" && g.Source == SourceAdminGrant {
			current[g.ID] = true
		}
	}
	want := map[string]bool{}
	if ch.Set != nil {
		set, err := rs.resolve(field, ch.Set)
		if err != nil {
			return err
		}
		for _, r := range set {
			want[r.ID] = true
		}
	} else {
		for id := range current {
			want[id] = true
		}
	}
	add, err := rs.resolve(field, ch.Add)
	if err != nil {
		return err
	}
	for _, r := range add {
		want[r.ID] = true
	}
	rem, err := rs.resolve(field, ch.Remove)
	if err != nil {
		return err
	}
	for _, r := range rem {
		delete(want, r.ID)
	}
	var grant, revoke []string
	for id := range want {
		if !current[id] {
			grant = append(grant, id)
		}
	}
	for id := range current {
		if !want[id] {
			revoke = append(revoke, id)
		}
	}
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
