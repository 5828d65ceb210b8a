package provisioning

import (
	"context"
	"fmt"
	"slices"
)

// SeatUsage is a tenant's seat count for the admin overview.
type SeatUsage struct {
	Limit int `json:"limit"`
	Used  int `json:"used"`
	Free  int `json:"free"`
	// WithoutSeat counts the platform users (not deactivated) waiting for a seat.
	WithoutSeat int `json:"withoutSeat"`
}

// SeatUsage returns the tenant's seat count.
func (e *Engine) SeatUsage(ctx context.Context, tenantID string) (*SeatUsage, error) {
	t, err := e.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	page, err := e.Store.ListUsers(ctx, tenantID, UserQuery{Filter: And{
		Compare{Field: "seat", Op: OpEq, Value: false},
		Compare{Field: "status", Op: OpNe, Value: string(StatusDeactivated), CaseExact: true},
	}})
	if err != nil {
		return nil, fmt.Errorf("count users without a seat: %w", err)
	}
	return &SeatUsage{Limit: t.SeatLimit, Used: t.SeatsUsed, Free: t.SeatsFree(), WithoutSeat: page.Total}, nil
}

// AssignSeats gives a seat to every listed user at once, or to none: the seats are taken
// in one conditional update, so concurrent assignments never exceed the limit, and a
// shortage fails with a *SeatLimitError naming how many seats are free. Users that already
// hold a seat are left alone. roles (ids or names) are granted to every listed user; a
// newly seated user left without any role gets the tenant's default role.
// It returns the ids of the users that got a seat now.
func (e *Engine) AssignSeats(ctx context.Context, actor Actor, tenantID string, userIDs, roles []string) ([]string, error) {
	ids, err := checkIDs("userIds", userIDs)
	if err != nil {
		return nil, err
	}
	var need []string
	err = e.Store.InTx(ctx, func(tx Tx) error {
		need, err = e.assignSeatsTx(ctx, tx, actor, tenantID, ids, roles)
		return err
	})
	return need, err
}

func (e *Engine) assignSeatsTx(ctx context.Context, tx Tx, actor Actor, tenantID string, ids, roles []string) ([]string, error) {
	pw, err := e.power(ctx, tx, tenantID, actor)
	if err != nil {
		return nil, err
	}
	users, err := lockAll(ctx, tx, tenantID, "userIds", ids)
	if err != nil {
		return nil, err
	}
	rs, err := loadRoles(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	grant, err := rs.resolve("roles", roles)
	if err != nil {
		return nil, err
	}
	for _, r := range grant {
		if err := pw.mayGrant(r); err != nil {
			return nil, err
		}
	}
	need := []string{}
	for i, id := range ids {
		u := users[id]
		if u.Status == StatusDeactivated {
			return nil, Invalid(fmt.Sprintf("userIds[%d]", i), "user %s is deactivated; reactivate it first", u.UserName)
		}
		if !u.Seat {
			need = append(need, id)
		}
	}
	if len(need) > 0 {
		if err := tx.SetSeats(ctx, tenantID, need, true, e.now()); err != nil {
			return nil, err
		}
	}
	return need, e.seatRolesTx(ctx, tx, actor, pw, tenantID, ids, need, users, rs, grant)
}

func (e *Engine) seatRolesTx(ctx context.Context, tx Tx, actor Actor, pw power, tenantID string, ids, need []string,
	users map[string]*User, rs roleSet, grant []Role) error {
	if len(grant) > 0 {
		if err := tx.GrantRoles(ctx, tenantID, ids, roleIDs(grant)); err != nil {
			return err
		}
	}
	var fallback []string
	for _, id := range need {
		if len(users[id].Roles) == 0 && len(grant) == 0 {
			fallback = append(fallback, id)
		}
	}
	if len(fallback) > 0 {
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		// A tenant without a default role seats users with no access (seed 000).
		def, ok, err := defaultRole(rs, t, "roles")
		if err != nil {
			return err
		}
		if ok {
			if err := pw.mayGrant(def); err != nil {
				return err
			}
			if err := tx.GrantRoles(ctx, tenantID, fallback, []string{def.ID}); err != nil {
				return err
			}
		}
	}
	for _, id := range ids {
		given := slices.Contains(need, id)
		if !given && len(grant) == 0 {
			continue
		}
		type change struct {
			Seat  bool     `json:"seat"`
			Roles []string `json:"roles,omitempty"`
		}
		var names []string
		for _, r := range grant {
			names = append(names, r.Name)
		}
		action := "seat.assign"
		if !given {
			action = "user.roles.grant"
		}
		if err := e.audit(ctx, tx, actor, tenantID, action, "user", id, change{Seat: users[id].Seat, Roles: users[id].Roles},
			change{Seat: true, Roles: names}); err != nil {
			return err
		}
	}
	return nil
}

// UnassignSeats takes the seat away from every listed user at once (their sessions end);
// users without a seat are left alone. Taking the last Admin's seat is refused.
// It returns the ids of the users that lost a seat.
func (e *Engine) UnassignSeats(ctx context.Context, actor Actor, tenantID string, userIDs []string) ([]string, error) {
	ids, err := checkIDs("userIds", userIDs)
	if err != nil {
		return nil, err
	}
	drop := []string{}
	err = e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		users, err := lockAll(ctx, tx, tenantID, "userIds", ids)
		if err != nil {
			return err
		}
		drop = drop[:0]
		wasAdmin := false
		for _, id := range ids {
			u := users[id]
			if !u.Seat {
				continue
			}
			if err := pw.mayManage(u); err != nil {
				return err
			}
			wasAdmin = wasAdmin || holdsAdmin(u)
			drop = append(drop, id)
		}
		if len(drop) == 0 {
			return nil
		}
		if err := tx.SetSeats(ctx, tenantID, drop, false, e.now()); err != nil {
			return err
		}
		for _, id := range drop {
			if err := tx.EndUserSessions(ctx, tenantID, id, e.now()); err != nil {
				return err
			}
			if err := e.audit(ctx, tx, actor, tenantID, "seat.unassign", "user", id, map[string]bool{"seat": true}, map[string]bool{"seat": false}); err != nil {
				return err
			}
		}
		return keepAnAdmin(ctx, tx, tenantID, wasAdmin)
	})
	return drop, err
}
