package provisioning

import (
	"context"
	"slices"
)

// MappingChange is what a mapping change would do to one user.
type MappingChange struct {
	UserID      string   `json:"userId"`
	UserName    string   `json:"userName"`
	SeatGained  bool     `json:"seatGained,omitempty"`
	SeatLost    bool     `json:"seatLost,omitempty"`
	RolesGained []string `json:"rolesGained,omitempty"`
	RolesLost   []string `json:"rolesLost,omitempty"`
	TeamsGained []string `json:"teamsGained,omitempty"`
	TeamsLost   []string `json:"teamsLost,omitempty"`
}

// MappingPreview is the outcome of a mapping change over the directory's current groups.
type MappingPreview struct {
	UsersConsidered int `json:"usersConsidered"`
	SeatsGained     int `json:"seatsGained"`
	// SeatsNeeded is how many users without a seat the new mapping grants one (those the
	// change adds and those the current mapping already granted).
	SeatsNeeded int             `json:"seatsNeeded"`
	SeatsLost   int             `json:"seatsLost"`
	SeatsUsed   int             `json:"seatsUsed"`
	SeatLimit   int             `json:"seatLimit"`
	Changes     []MappingChange `json:"changes"`
}

// previewPage is how many users each read of the preview loads.
const previewPage = 1000

// PreviewMapping computes, without changing anything, who would gain or lose a seat, a
// role or a team if the connection's mapping became next, from the groups the directory
// has pushed now (SCIM users, whose groups Seatbridge knows; a JIT user's groups are only
// known at its next sign-in). A seat is "gained" by a user without one whom next grants
// one, "lost" by a seated user whom the old mapping granted a seat and next does not (the
// seat stays until an admin removes it: mappings never take seats away on their own).
// Roles and teams follow the mapping on the next sign-in. A change that grants new seats
// while the users it would seat (SeatsNeeded) outnumber the free seats is refused with
// *SeatLimitError carrying the numbers (and the preview).
func (e *Engine) PreviewMapping(ctx context.Context, tenantID, connectionID string, next Mapping) (*MappingPreview, error) {
	conn, err := e.GetConnection(ctx, tenantID, connectionID)
	if err != nil {
		return nil, err
	}
	probe := *conn
	probe.Mapping = next
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	tenant, err := e.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	p := &MappingPreview{SeatsUsed: tenant.SeatsUsed, SeatLimit: tenant.SeatLimit, Changes: []MappingChange{}}
	q := UserQuery{Filter: Compare{Field: "source", Op: OpEq, Value: string(SourceSCIM), CaseExact: true}, Limit: previewPage, WithGroups: true, WithAccess: true}
	for {
		page, err := e.Store.ListUsers(ctx, tenantID, q)
		if err != nil {
			return nil, err
		}
		for i := range page.Users {
			u := &page.Users[i]
			if u.Status == StatusDeactivated {
				continue
			}
			p.UsersConsidered++
			names := make([]string, len(u.Groups))
			for j, g := range u.Groups {
				names[j] = g.DisplayName
			}
			before, after := conn.Mapping.Evaluate(names), next.Evaluate(names)
			ch := MappingChange{UserID: u.ID, UserName: u.UserName,
				SeatGained: !u.Seat && after.Seat && !before.Seat,
				SeatLost:   u.Seat && before.Seat && !after.Seat}
			ch.RolesGained, ch.RolesLost = diffNames(before.Roles, after.Roles, u.Roles)
			ch.TeamsGained, ch.TeamsLost = diffNames(before.Teams, after.Teams, u.Teams)
			if ch.SeatGained {
				p.SeatsGained++
			}
			if !u.Seat && after.Seat {
				p.SeatsNeeded++
			}
			if ch.SeatLost {
				p.SeatsLost++
			}
			if ch.SeatGained || ch.SeatLost || len(ch.RolesGained)+len(ch.RolesLost)+len(ch.TeamsGained)+len(ch.TeamsLost) > 0 {
				p.Changes = append(p.Changes, ch)
			}
		}
		if page.Next == "" || len(page.Users) == 0 {
			break
		}
		q.After = page.Next
	}
	if free := tenant.SeatsFree(); p.SeatsGained > 0 && p.SeatsNeeded > free {
		return p, &SeatLimitError{Requested: p.SeatsNeeded, Free: free, Limit: tenant.SeatLimit}
	}
	return p, nil
}

// diffNames returns the names next grants that the user does not hold, and the names the
// old grant gave that next drops and the user holds (compared by FoldKey).
func diffNames(old, next, held []string) (gained, lost []string) {
	has := func(list []string, n string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return FoldKey(x) == FoldKey(n) })
	}
	for _, n := range next {
		if !has(old, n) && !has(held, n) {
			gained = append(gained, n)
		}
	}
	for _, n := range old {
		if !has(next, n) && has(held, n) {
			lost = append(lost, n)
		}
	}
	return gained, lost
}
