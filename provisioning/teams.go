package provisioning

import (
	"context"
	"fmt"
	"strings"
)

// TeamInput is what an admin sets on a team.
type TeamInput struct {
	Name        *string
	Description *string
}

func validTeamName(name string) (string, error) {
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
	if t.Name, err = validTeamName(*in.Name); err != nil {
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
			if t.Name, err = validTeamName(*in.Name); err != nil {
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
	current := map[string]bool{}
	for _, g := range grants {
		if g.Kind == "team" && g.Source == SourceAdminGrant {
			current[g.ID] = true
		}
	}
	want := map[string]bool{}
	if set != nil {
		ts, err := resolveTeams(ctx, tx, tenantID, field, set)
		if err != nil {
			return err
		}
		for _, t := range ts {
			want[t.ID] = true
		}
	} else {
		for id := range current {
			want[id] = true
		}
	}
	ts, err := resolveTeams(ctx, tx, tenantID, field, add)
	if err != nil {
		return err
	}
	for _, t := range ts {
		want[t.ID] = true
	}
	if ts, err = resolveTeams(ctx, tx, tenantID, field, remove); err != nil {
		return err
	}
	for _, t := range ts {
		delete(want, t.ID)
	}
	var in, out []string
	for id := range want {
		if !current[id] {
			in = append(in, id)
		}
	}
	for id := range current {
		if !want[id] {
			out = append(out, id)
		}
	}
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
