package provisioning

import (
	"context"
	"strings"
)

// SCIM groups and their members: the engine side of the store's groups.go. Roles and teams
// (the admin API's access groups) are another noun and live in access.go.

// CreateGroup creates a group with its initial members.
func (e *Engine) CreateGroup(ctx context.Context, actor Actor, tenantID string, g *Group) (*Group, error) {
	now := e.now()
	g.ID, g.TenantID, g.Version, g.CreatedAt, g.UpdatedAt = e.NewID(), tenantID, 1, now, now
	g.DisplayName = strings.TrimSpace(g.DisplayName)
	if g.DisplayName == "" {
		return nil, Invalid("displayName", "is required")
	}
	if err := checkGroupText(g.DisplayName, g.ExternalID); err != nil {
		return nil, err
	}
	var out *Group
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.CreateGroup(ctx, tenantID, g); err != nil {
			return err
		}
		got, err := tx.GetGroup(ctx, tenantID, g.ID, true)
		if err != nil {
			return err
		}
		out = got
		return e.audit(ctx, tx, actor, tenantID, "group.create", "group", g.ID, nil, groupSummary(got))
	})
	return out, err
}

// GetGroup returns one group, with members when asked.
func (e *Engine) GetGroup(ctx context.Context, tenantID, id string, withMembers bool) (*Group, error) {
	return e.Store.GetGroup(ctx, tenantID, id, withMembers)
}

// ListGroups returns a page of the tenant's groups.
func (e *Engine) ListGroups(ctx context.Context, tenantID string, q GroupQuery) (*GroupPage, error) {
	if err := checkFilterText(q.Filter); err != nil {
		return nil, err
	}
	return e.Store.ListGroups(ctx, tenantID, q)
}

// PatchGroup applies ops in order in one transaction. withMembers says whether the
// returned group carries its members (a PATCH answered with 204 needs none).
func (e *Engine) PatchGroup(ctx context.Context, actor Actor, tenantID, id string, ifVersion int64, ops []GroupOp, withMembers bool) (*Group, error) {
	for _, op := range ops {
		if op.Kind == GroupSetDisplayName && strings.TrimSpace(op.Value) == "" {
			return nil, Invalid("displayName", "is required")
		}
		if err := checkGroupOpText(op); err != nil {
			return nil, err
		}
	}
	var out *Group
	err := e.Store.InTx(ctx, func(tx Tx) error {
		before, err := tx.GetGroup(ctx, tenantID, id, false)
		if err != nil {
			return err
		}
		if ifVersion != AnyVersion && before.Version != ifVersion {
			return ErrVersionMismatch
		}
		g, err := tx.ApplyGroupOps(ctx, tenantID, id, ops, e.now())
		if err != nil {
			return err
		}
		if withMembers {
			if g, err = tx.GetGroup(ctx, tenantID, id, true); err != nil {
				return err
			}
		}
		out = g
		return e.audit(ctx, tx, actor, tenantID, "group.update", "group", id, groupSummary(before), groupChange{Group: groupSummary(g), Ops: ops})
	})
	return out, err
}

// DeleteGroup removes a group and its memberships.
func (e *Engine) DeleteGroup(ctx context.Context, actor Actor, tenantID, id string, ifVersion int64) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		g, err := tx.GetGroup(ctx, tenantID, id, false)
		if err != nil {
			return err
		}
		if ifVersion != AnyVersion && g.Version != ifVersion {
			return ErrVersionMismatch
		}
		if err := tx.DeleteGroup(ctx, tenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "group.delete", "group", id, groupSummary(g), nil)
	})
}

// groupSummary is the audit snapshot of a group: members are recorded as the ops that
// changed them, not as a copy of a possibly huge list.
func groupSummary(g *Group) *Group {
	if g == nil {
		return nil
	}
	s := *g
	s.Members = nil
	return &s
}

type groupChange struct {
	Group *Group
	Ops   []GroupOp
}
