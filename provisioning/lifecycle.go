package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// NewUser is a user an admin creates (or a CSV row).
type NewUser struct {
	UserName          string
	Email             string
	GivenName         string
	FamilyName        string
	DisplayName       string
	ExternalID        string
	PreferredLanguage string
	BusinessUnit      string
	WorkPhone         string
	MobilePhone       string
	Roles             []string
	Teams             []string
	Seat              bool
}

// UserEdit changes a user's profile; nil fields stay as they are.
type UserEdit struct {
	Email             *string
	GivenName         *string
	FamilyName        *string
	DisplayName       *string
	ExternalID        *string
	PreferredLanguage *string
	BusinessUnit      *string
	WorkPhone         *string
	MobilePhone       *string
	// Password is always refused: an identity provider's password is read-only, and a
	// local password is set by Accounts.ResetPassword (or CreateLocalUser), which clears
	// lockouts, ends sessions and can force a change: never by editing the profile.
	Password *string
}

// IdPManaged reports whether the user's e-mail, names and password belong to an identity
// provider (pushed by SCIM or created by an SSO login) and are read-only to admins.
func (u *User) IdPManaged() bool {
	return u.ManagedByIdP || u.Source == SourceSCIM || u.Source == SourceJIT
}

func setPhone(u *User, typ, number string) {
	number = strings.TrimSpace(number)
	kept := u.PhoneNumbers[:0:0]
	for _, p := range u.PhoneNumbers {
		if p.Type != typ {
			kept = append(kept, p)
		}
	}
	if number != "" {
		kept = append(kept, MultiValue{Value: number, Type: typ})
	}
	u.PhoneNumbers = kept
}

// CreateAdminUser creates a user on behalf of an admin: e-mail required (it is the
// userName unless one is given), domain policy applied, roles and teams granted, and a
// seat taken when asked (then at least one role, the default role if none is given).
func (e *Engine) CreateAdminUser(ctx context.Context, actor Actor, tenantID string, in NewUser) (*User, error) {
	var out *User
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, rs, err := e.powerAndRoles(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		u, err := e.createUserTx(ctx, tx, actor, pw, rs, tenantID, in, SourceAdmin, "")
		out = u
		return seatField(err, "seat")
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, out.ID)
}

// adminUser is a new user as an admin describes it (admin API, console, CSV, local users,
// invitations): the address is its work e-mail and, unless one is given, its userName;
// text is trimmed and the display name defaults to "given family".
func adminUser(email, userName, given, family, display string) *User {
	u := &User{UserName: strings.TrimSpace(userName), Emails: []MultiValue{{Value: email, Type: "work", Primary: true}},
		Name:        Name{GivenName: strings.TrimSpace(given), FamilyName: strings.TrimSpace(family)},
		DisplayName: strings.TrimSpace(display)}
	if u.UserName == "" {
		u.UserName = email
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	return u
}

// createUserTx creates one user; prefix qualifies field names ("rows[3].") for bulk use.
func (e *Engine) createUserTx(ctx context.Context, tx Tx, actor Actor, pw power, rs roleSet, tenantID string, in NewUser, src Source, prefix string) (*User, error) {
	t, err := tx.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	email, err := CheckEmail(t, prefix+"email", in.Email)
	if err != nil {
		return nil, err
	}
	lang, err := CheckLanguage(prefix+"preferredLanguage", in.PreferredLanguage)
	if err != nil {
		return nil, err
	}
	u := adminUser(email, in.UserName, in.GivenName, in.FamilyName, in.DisplayName)
	u.ExternalID, u.PreferredLanguage, u.BusinessUnit = strings.TrimSpace(in.ExternalID), lang, strings.TrimSpace(in.BusinessUnit)
	u.Status, u.Source, u.Seat = StatusActive, src, in.Seat
	setPhone(u, "work", in.WorkPhone)
	setPhone(u, "mobile", in.MobilePhone)
	action := "user.create"
	if src == SourceCSV {
		action = "user.import"
	}
	err = e.createUser(ctx, tx, actor, tenantID, u, creation{field: prefix, claim: email, action: action,
		access: &adminAccess{tenant: t, roles: rs, power: &pw, roleRefs: in.Roles, teamRefs: in.Teams}})
	return u, err
}

// EditUser changes a user's profile. E-mail, names and password of a user managed by an
// identity provider are read-only (a 400 naming the field); so is the external ID of a
// user pushed by SCIM, which is the directory's key for it.
func (e *Engine) EditUser(ctx context.Context, actor Actor, tenantID, id string, ifVersion int64, in UserEdit) (*User, error) {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		users, err := lockAll(ctx, tx, tenantID, "id", []string{id})
		if err != nil {
			return err
		}
		if err := pw.mayManage(users[id]); err != nil {
			return err
		}
		var before User
		after, err := tx.UpdateUser(ctx, tenantID, id, func(u *User) error {
			if ifVersion != AnyVersion && u.Version != ifVersion {
				return ErrVersionMismatch
			}
			before = *u
			idp := u.IdPManaged()
			ro := func(field string, set bool) error {
				if set && idp {
					return Invalid(field, "is managed by the identity provider and cannot be changed here")
				}
				return nil
			}
			if err := ro("email", in.Email != nil); err != nil {
				return err
			}
			if err := ro("givenName", in.GivenName != nil); err != nil {
				return err
			}
			if err := ro("familyName", in.FamilyName != nil); err != nil {
				return err
			}
			if err := ro("password", in.Password != nil); err != nil {
				return err
			}
			if in.Password != nil {
				return Invalid("password", "is not edited with the profile: reset the password instead")
			}
			if in.ExternalID != nil && u.Source == SourceSCIM {
				return Invalid("externalId", "is the directory's key for this user and cannot be changed here")
			}
			if in.Email != nil {
				email, err := CheckEmail(t, "email", *in.Email)
				if err != nil {
					return err
				}
				if err := claimEmail(ctx, tx, tenantID, "email", email, u.ID); err != nil {
					return err
				}
				if FoldKey(u.UserName) == FoldKey(u.PrimaryEmail()) {
					u.UserName = email
				}
				u.Emails = []MultiValue{{Value: email, Type: "work", Primary: true}}
			}
			set := func(dst *string, v *string) {
				if v != nil {
					*dst = strings.TrimSpace(*v)
				}
			}
			set(&u.Name.GivenName, in.GivenName)
			set(&u.Name.FamilyName, in.FamilyName)
			set(&u.DisplayName, in.DisplayName)
			set(&u.ExternalID, in.ExternalID)
			if in.PreferredLanguage != nil {
				lang, err := CheckLanguage("preferredLanguage", *in.PreferredLanguage)
				if err != nil {
					return err
				}
				u.PreferredLanguage = lang
			}
			set(&u.BusinessUnit, in.BusinessUnit)
			if in.WorkPhone != nil {
				setPhone(u, "work", *in.WorkPhone)
			}
			if in.MobilePhone != nil {
				setPhone(u, "mobile", *in.MobilePhone)
			}
			u.UpdatedAt = e.now()
			return validateUser(u)
		})
		if err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "user.update", "user", id, &before, after)
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, id)
}

// DeactivateUser stops a user: no sign-in, sessions ended, seat freed, history kept. The
// last Admin cannot be deactivated. Deactivating a deactivated user changes nothing.
func (e *Engine) DeactivateUser(ctx context.Context, actor Actor, tenantID, id string) (*User, error) {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		return e.deactivateTx(ctx, tx, actor, pw, tenantID, id)
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, id)
}

func (e *Engine) deactivateTx(ctx context.Context, tx Tx, actor Actor, pw power, tenantID, id string) error {
	if actor.Kind == ActorUser && actor.ID == id {
		return &RuleError{Field: "id", Reason: "you cannot deactivate yourself"}
	}
	users, err := lockAll(ctx, tx, tenantID, "id", []string{id})
	if err != nil {
		return err
	}
	if users[id].Status == StatusDeactivated {
		return nil
	}
	if err := pw.mayManage(users[id]); err != nil {
		return err
	}
	var before User
	after, err := tx.UpdateUser(ctx, tenantID, id, func(u *User) error {
		before = *u
		u.Status, u.Seat, u.UpdatedAt = StatusDeactivated, false, e.now()
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.EndUserSessions(ctx, tenantID, id, e.now()); err != nil {
		return err
	}
	// users[id] carries roles; the row UpdateUser locks does not load them.
	if err := keepAnAdmin(ctx, tx, tenantID, holdsAdmin(users[id])); err != nil {
		return err
	}
	return e.audit(ctx, tx, actor, tenantID, "user.deactivate", "user", id, &before, after)
}

// ReactivateOptions says what a reactivation does with the seat.
type ReactivateOptions struct {
	// Seat nil gives the seat back when the user held one when it was deactivated; true
	// asks for a seat in any case; false reactivates without one. A seat asked for (or
	// given back) and not free fails with *SeatLimitError: never a silent reactivation
	// without the seat.
	Seat *bool
}

// ReactivateUser lets a deactivated user sign in again, with its seat back (see
// ReactivateOptions).
func (e *Engine) ReactivateUser(ctx context.Context, actor Actor, tenantID, id string, opt ReactivateOptions) (*User, error) {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		return seatField(e.reactivateTx(ctx, tx, actor, pw, tenantID, id, opt), "seat")
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, id)
}

// hadSeat reports whether the user held a seat when it was last deactivated, from that
// change's audit event (deactivation frees the seat; the event keeps the state before).
func hadSeat(ctx context.Context, tx Tx, tenantID, id string) (bool, error) {
	evs, err := tx.ListAudit(ctx, tenantID, AuditQuery{Action: "user.deactivate", TargetKind: "user", TargetID: id, Limit: 1})
	if err != nil || len(evs) == 0 {
		return false, err
	}
	var before struct {
		Seat bool `json:"seat"`
	}
	if err := json.Unmarshal(evs[0].Before, &before); err != nil {
		return false, fmt.Errorf("deactivation audit event %d: %w", evs[0].ID, err)
	}
	return before.Seat, nil
}

func (e *Engine) reactivateTx(ctx context.Context, tx Tx, actor Actor, pw power, tenantID, id string, opt ReactivateOptions) error {
	users, err := lockAll(ctx, tx, tenantID, "id", []string{id})
	if err != nil {
		return err
	}
	if users[id].Status != StatusDeactivated {
		return nil
	}
	if err := pw.mayManage(users[id]); err != nil {
		return err
	}
	seat := false
	if opt.Seat != nil {
		seat = *opt.Seat
	} else if seat, err = hadSeat(ctx, tx, tenantID, id); err != nil {
		return err
	}
	var before User
	after, err := tx.UpdateUser(ctx, tenantID, id, func(u *User) error {
		before = *u
		u.Status, u.UpdatedAt = StatusActive, e.now()
		if seat {
			u.Seat = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.audit(ctx, tx, actor, tenantID, "user.reactivate", "user", id, &before, after)
}

// RemoveUser deletes a user (seat freed, sessions ended, audit history kept, tombstone
// against re-creation by SSO). The last Admin cannot be removed, nor can you remove
// yourself.
func (e *Engine) RemoveUser(ctx context.Context, actor Actor, tenantID, id string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		if actor.Kind == ActorUser && actor.ID == id {
			return &RuleError{Field: "id", Reason: "you cannot remove yourself"}
		}
		if _, err := lockAll(ctx, tx, tenantID, "id", []string{id}); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if err := pw.mayManage(u); err != nil {
			return err
		}
		if err := tx.EndUserSessions(ctx, tenantID, id, e.now()); err != nil {
			return err
		}
		_, logoutDue, err := tx.DeleteUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if err := keepAnAdmin(ctx, tx, tenantID, holdsAdmin(u)); err != nil {
			return err
		}
		return e.auditLogout(ctx, tx, actor, tenantID, "user.delete", "user", id, u, nil, logoutDue)
	})
}

// UserGrants lists a user's roles and teams with the source of each.
func (e *Engine) UserGrants(ctx context.Context, tenantID, userID string) ([]Grant, error) {
	s := e.Store
	return s.UserGrants(ctx, tenantID, []string{userID})
}

// MayManageUser refuses when actor may not change the user's credentials or lifecycle by
// the admin engine's rule (power.mayManage: only an Admin changes another Admin), and
// gives ErrNotFound when the tenant has no such user. Password resets, unlocks and the
// password-restricted flag run it first: a reset is a way into the account.
func (e *Engine) MayManageUser(ctx context.Context, actor Actor, tenantID, userID string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		users, err := lockAll(ctx, tx, tenantID, "id", []string{userID})
		if err != nil {
			return err
		}
		return pw.mayManage(users[userID])
	})
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
