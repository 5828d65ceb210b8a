package provisioning

import (
	"context"
	"errors"
	"strings"
)

// AnyVersion disables the optimistic version check of Update/Delete methods.
const AnyVersion int64 = 0

// validateUser checks what every door must respect.
func validateUser(u *User) error {
	u.UserName = strings.TrimSpace(u.UserName)
	if u.UserName == "" {
		return Invalid("userName", "is required")
	}
	if len(u.UserName) > 256 {
		return Invalid("userName", "is longer than 256 characters")
	}
	// An e-mail value without "@" is kept (RFC 7643 §4.1.2 says SHOULD be an address, and
	// directories send such values): it is never mailed (enqueue) nor used to link a
	// sign-in or to claim an address (FindUsersByEmail).
	primaries := 0
	for _, m := range u.Emails {
		if m.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		return Invalid("emails", "at most one e-mail may be primary")
	}
	switch u.Status {
	case StatusActive, StatusInvited, StatusDeactivated:
	default:
		return Invalid("status", "unknown status %q", u.Status)
	}
	return checkUserText(u)
}

// CreateUser creates a user. A user created with Seat true takes a seat or fails with a
// *SeatLimitError. The caller sets Source and ManagedByIdP.
func (e *Engine) CreateUser(ctx context.Context, actor Actor, tenantID string, u *User) (*User, error) {
	if err := e.Store.InTx(ctx, func(tx Tx) error { return e.createUser(ctx, tx, actor, tenantID, u, creation{}) }); err != nil {
		return nil, err
	}
	return u, nil
}

// creation is what a creation path asks of createUser beyond the user's own fields. Each
// path keeps its own policy (provisioning mode, domain rules, which fields it takes) and
// says here only what differs.
type creation struct {
	// field prefixes the field names of refusals ("rows[3]." for a CSV row).
	field string
	// claim is the address the new user claims (claimEmail: the admin door, local users
	// and invitations promise one account per address); "" claims none (SCIM and SSO
	// store what the identity provider sends).
	claim string
	// access is what an admin gives the new user (source admin); nil gives nothing.
	access *adminAccess
	// action is the audit action, "user.create" when empty.
	action string
	// record returns what the audit event records, the user when nil. It runs in the
	// transaction after the user and its grants are written.
	record func(*User) (any, error)
}

// adminAccess is the roles and teams an admin gives a new user, by id or name.
type adminAccess struct {
	tenant *Tenant
	// roles is the tenant's roles, loaded when empty (a CSV import loads them once).
	roles roleSet
	// power is the actor's, loaded when a role is granted and nil.
	power         *power
	roleRefs      []string
	teamRefs      []string
	defaultAlways bool
}

// lateCreator is a Tx that can write a new user together with the transaction's last
// statement (on PostgreSQL a SCIM create is then one statement, no BEGIN or COMMIT). A
// conflict of the create then comes out of the transaction's next call or its end, so
// only a creation that reports every error as it is, wherever it arises, uses it: not
// one that claims an address or names fields of a batch row.
type lateCreator interface {
	CreateUserLate(ctx context.Context, tenantID string, u *User) error
}

// createUser is the one step that creates a user, whichever door asks (SCIM, the admin
// API and console, CSV, JIT sign-in, local accounts, invitations), in tx: it claims the
// address when asked, resolves what an admin gives, sets the defaults (id, version, times,
// status active, source admin; no seat while deactivated), validates the text, resolves
// the manager, writes the user (taking its seat), grants its roles and teams with source
// admin and records the audit event, from which the user.* events derive. u is completed
// in place, its Roles and Teams set to the names granted.
func (e *Engine) createUser(ctx context.Context, tx Tx, actor Actor, tenantID string, u *User, c creation) error {
	if c.claim != "" {
		if err := claimEmail(ctx, tx, tenantID, c.field+"email", c.claim, ""); err != nil {
			return err
		}
	}
	var (
		roles []Role
		teams []Team
	)
	if a := c.access; a != nil {
		var err error
		if roles, teams, err = e.adminGrants(ctx, tx, actor, a, c.field, u.Seat); err != nil {
			return err
		}
	}
	now := e.now()
	u.ID, u.TenantID, u.Version, u.CreatedAt, u.UpdatedAt = e.NewID(), tenantID, 1, now, now
	if u.Status == "" {
		u.Status = StatusActive
	}
	if u.Source == "" {
		u.Source = SourceAdmin
	}
	if err := validateUser(u); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Field = c.field + ve.Field
		}
		return err
	}
	if u.Status == StatusDeactivated {
		u.Seat = false
	}
	if err := resolveManager(ctx, tx, tenantID, &u.Enterprise); err != nil {
		return err
	}
	create := tx.CreateUser
	if lc, ok := tx.(lateCreator); ok && c.claim == "" && c.field == "" {
		create = lc.CreateUserLate
	}
	if err := create(ctx, tenantID, u); err != nil {
		var ce *ConflictError
		if c.claim != "" && errors.As(err, &ce) {
			// A userName that is the claimed address means the same to the admin.
			if FoldKey(u.UserName) == FoldKey(c.claim) {
				ce.Field, ce.Value = "email", c.claim
			}
			ce.Field = c.field + ce.Field
		}
		return err
	}
	if len(roles) > 0 {
		if err := tx.GrantRoles(ctx, tenantID, []string{u.ID}, roleIDs(roles)); err != nil {
			return err
		}
		u.Roles = roleNames(roles)
	}
	if len(teams) > 0 {
		if err := tx.AddTeamMembers(ctx, tenantID, teamIDs(teams), []string{u.ID}); err != nil {
			return err
		}
		u.Teams = teamNames(teams)
	}
	action := c.action
	if action == "" {
		action = "user.create"
	}
	var rec any = u
	if c.record != nil {
		var err error
		if rec, err = c.record(u); err != nil {
			return err
		}
	}
	return e.audit(ctx, tx, actor, tenantID, action, "user", u.ID, nil, rec)
}

// resolveManager turns the manager value a directory sent into the id of a user of the
// tenant when it names one: by id, else by externalId (when exactly one user has it), else
// by userName. Any other value — Okta's default mapping sends free text such as an e-mail
// or an employee number — is kept as given and returned unchanged (ManagerIsUser false):
// a manager never makes a create or a replace fail.
func resolveManager(ctx context.Context, tx Tx, tenantID string, ent *Enterprise) error {
	ent.ManagerDisplayName, ent.ManagerIsUser = "", false
	v := strings.TrimSpace(ent.ManagerID)
	if v == "" {
		ent.ManagerID = ""
		return nil
	}
	found := func(m *User) error {
		ent.ManagerID, ent.ManagerDisplayName, ent.ManagerIsUser = m.ID, m.DisplayName, true
		return nil
	}
	m, err := tx.GetUser(ctx, tenantID, v)
	if err == nil {
		return found(m)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	page, err := tx.ListUsers(ctx, tenantID, UserQuery{Filter: Compare{Field: "externalId", Op: OpEq, Value: v, CaseExact: true}, Limit: 2})
	if err != nil {
		return err
	}
	if len(page.Users) == 1 {
		return found(&page.Users[0])
	}
	m, err = tx.GetUserByUserName(ctx, tenantID, v)
	if err == nil {
		return found(m)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// GetUser returns one user of the tenant with its groups, roles and teams.
func (e *Engine) GetUser(ctx context.Context, tenantID, id string) (*User, error) {
	return e.Store.GetUser(ctx, tenantID, id)
}

// ListUsers returns a page of the tenant's users.
func (e *Engine) ListUsers(ctx context.Context, tenantID string, q UserQuery) (*UserPage, error) {
	if err := checkUserQuery(q); err != nil {
		return nil, err
	}
	return e.Store.ListUsers(ctx, tenantID, q)
}

// UpdateUser applies fn to the stored user in one transaction. ifVersion other than
// AnyVersion must equal the stored version (ErrVersionMismatch otherwise). Identity, tenant,
// source and timestamps cannot be changed by fn. Deactivation frees the seat and ends the
// user's sessions.
func (e *Engine) UpdateUser(ctx context.Context, actor Actor, tenantID, id string, ifVersion int64, fn func(*User) error) (*User, error) {
	var out *User
	err := e.Store.InTx(ctx, func(tx Tx) error {
		var before User
		u, err := tx.UpdateUser(ctx, tenantID, id, func(u *User) error {
			if ifVersion != AnyVersion && u.Version != ifVersion {
				return ErrVersionMismatch
			}
			before = *u
			if err := fn(u); err != nil {
				return err
			}
			u.ID, u.TenantID, u.Source, u.CreatedAt, u.Version = before.ID, before.TenantID, before.Source, before.CreatedAt, before.Version
			u.LastLoginAt = before.LastLoginAt
			if err := validateUser(u); err != nil {
				return err
			}
			// A value kept as given is resolved again: the manager may exist by now.
			if u.Enterprise.ManagerID != before.Enterprise.ManagerID || (u.Enterprise.ManagerID != "" && !before.Enterprise.ManagerIsUser) {
				if err := resolveManager(ctx, tx, tenantID, &u.Enterprise); err != nil {
					return err
				}
			}
			if u.Status == StatusDeactivated {
				u.Seat = false
			}
			u.UpdatedAt = e.now()
			return nil
		})
		if err != nil {
			return err
		}
		action := "user.update"
		switch {
		case before.Status != StatusDeactivated && u.Status == StatusDeactivated:
			action = "user.deactivate"
			if err := tx.EndUserSessions(ctx, tenantID, id, e.now()); err != nil {
				return err
			}
		case before.Status == StatusDeactivated && u.Status != StatusDeactivated:
			action = "user.reactivate"
		}
		out = u
		return e.audit(ctx, tx, actor, tenantID, action, "user", id, &before, u)
	})
	return out, err
}

// DeleteUser removes a user from the directory: memberships, roles, seat and sessions go,
// the audit log keeps the history, and a tombstone keeps SSO from recreating the user.
func (e *Engine) DeleteUser(ctx context.Context, actor Actor, tenantID, id string, ifVersion int64) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		// The store deletes and returns the user as it was in one step (one statement on
		// PostgreSQL, where every statement is a round trip); a version that does not
		// match rolls the delete back with the transaction. The user's sessions go with
		// it (ON DELETE CASCADE): ending them first was a statement for rows about to go.
		u, logoutDue, err := tx.DeleteUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if ifVersion != AnyVersion && u.Version != ifVersion {
			return ErrVersionMismatch
		}
		return e.auditLogout(ctx, tx, actor, tenantID, "user.delete", "user", id, u, nil, logoutDue)
	})
}
