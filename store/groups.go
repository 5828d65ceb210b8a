package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's SCIM groups and their members.

type groupRow struct {
	ID          string `db:"id"`
	TenantID    string `db:"tenant_id"`
	DisplayName string `db:"display_name"`
	ExternalID  string `db:"external_id"`
	Version     int64  `db:"version"`
	CreatedAt   int64  `db:"created_at"`
	UpdatedAt   int64  `db:"updated_at"`
}

const groupCols = `g.id, g.tenant_id, g.display_name, g.external_id, g.version, g.created_at, g.updated_at`

func (r *groupRow) group() provisioning.Group {
	return provisioning.Group{ID: r.ID, TenantID: r.TenantID, DisplayName: r.DisplayName, ExternalID: r.ExternalID,
		Version: r.Version, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
}

func (c *conn) CreateGroup(ctx context.Context, tenantID string, g *provisioning.Group) error {
	g.TenantID = tenantID
	_, err := c.exec(ctx, `INSERT INTO groups (id, tenant_id, display_name, display_name_key, external_id, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, g.ID, tenantID, g.DisplayName, provisioning.FoldKey(g.DisplayName), g.ExternalID,
		g.Version, micros(g.CreatedAt), micros(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	ids := make([]string, len(g.Members))
	for i, m := range g.Members {
		ids[i] = m.UserID
	}
	return c.addMembers(ctx, tenantID, g.ID, ids)
}

func (c *conn) GetGroup(ctx context.Context, tenantID, id string, withMembers bool) (*provisioning.Group, error) {
	var r groupRow
	if err := c.get(ctx, &r, `SELECT `+groupCols+` FROM groups g WHERE g.tenant_id = ? AND g.id = ?`, tenantID, id); err != nil {
		return nil, fmt.Errorf("group %s: %w", id, err)
	}
	g := r.group()
	if withMembers {
		if err := c.loadMembers(ctx, tenantID, []*provisioning.Group{&g}); err != nil {
			return nil, err
		}
	}
	return &g, nil
}

func (c *conn) loadMembers(ctx context.Context, tenantID string, groups []*provisioning.Group) error {
	if len(groups) == 0 {
		return nil
	}
	byID := make(map[string]*provisioning.Group, len(groups))
	args := []any{tenantID}
	for _, g := range groups {
		byID[g.ID] = g
		args = append(args, g.ID)
	}
	var rows []struct {
		GroupID string `db:"group_id"`
		UserID  string `db:"user_id"`
		Display string `db:"display_name"`
	}
	if err := c.selectx(ctx, &rows, `SELECT m.group_id, m.user_id, CASE WHEN u.display_name <> '' THEN u.display_name ELSE u.user_name END AS display_name FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.tenant_id = ? AND m.group_id IN (`+placeholders(len(groups))+`) ORDER BY m.group_id, m.user_id`, args...); err != nil {
		return fmt.Errorf("load group members: %w", err)
	}
	for _, r := range rows {
		g := byID[r.GroupID]
		g.Members = append(g.Members, provisioning.GroupMember{UserID: r.UserID, Display: r.Display})
	}
	return nil
}

func (c *conn) ListGroups(ctx context.Context, tenantID string, q provisioning.GroupQuery) (*provisioning.GroupPage, error) {
	w := &where{cols: groupColumns, any: groupAny, tenant: tenantID}
	w.sb.WriteString("g.tenant_id = ? AND ")
	w.args = append(w.args, tenantID)
	if err := w.build(q.Filter, 0); err != nil {
		return nil, err
	}
	p, err := newPage(groupColumns, q.Sort, "g.id")
	if err != nil {
		return nil, err
	}
	out := &provisioning.GroupPage{}
	rows, total, more, err := selectPage[groupRow](ctx, c, w, p, pageReq{from: "groups g", alias: "g", cols: groupCols, what: "groups",
		limit: q.Limit, offset: q.Offset, after: q.After, noTotal: q.NoTotal})
	if err != nil {
		return nil, err
	}
	out.Total = total
	out.Groups = make([]provisioning.Group, len(rows))
	ptrs := make([]*provisioning.Group, len(rows))
	for i := range rows {
		out.Groups[i] = rows[i].group()
		ptrs[i] = &out.Groups[i]
	}
	if q.WithMembers {
		if err := c.loadMembers(ctx, tenantID, ptrs); err != nil {
			return nil, err
		}
	}
	if more && len(rows) > 0 {
		last := out.Groups[len(out.Groups)-1]
		cur := cursor{ID: last.ID}
		switch strings.ToLower(q.Sort.Field) {
		case "displayname":
			cur.Sort = provisioning.FoldKey(last.DisplayName)
		case "externalid":
			cur.Sort = strings.ToLower(last.ExternalID)
		case "meta.created":
			n := last.CreatedAt.UnixMicro()
			cur.Num = &n
		case "meta.lastmodified":
			n := last.UpdatedAt.UnixMicro()
			cur.Num = &n
		case "meta.version":
			n := last.Version
			cur.Num = &n
		}
		out.Next = encodeCursor(cur)
	}
	return out, nil
}

func (c *conn) UpdateGroup(ctx context.Context, tenantID, id string, fn func(*provisioning.Group) error) (*provisioning.Group, error) {
	var r groupRow
	if err := c.get(ctx, &r, `SELECT `+groupCols+` FROM groups g WHERE g.tenant_id = ? AND g.id = ?`+c.forUpdate(), tenantID, id); err != nil {
		return nil, fmt.Errorf("group %s: %w", id, err)
	}
	g := r.group()
	if err := fn(&g); err != nil {
		return nil, err
	}
	g.ID, g.TenantID, g.Version = id, tenantID, r.Version+1
	if _, err := c.exec(ctx, `UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, version = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`, g.DisplayName, provisioning.FoldKey(g.DisplayName), g.ExternalID, g.Version, micros(g.UpdatedAt), tenantID, id); err != nil {
		return nil, fmt.Errorf("update group: %w", err)
	}
	return &g, nil
}

// ApplyGroupOps applies attribute changes and membership deltas in order; the group row is
// locked first so concurrent PATCHes of one group serialise.
func (c *conn) ApplyGroupOps(ctx context.Context, tenantID, id string, ops []provisioning.GroupOp, now time.Time) (*provisioning.Group, error) {
	var r groupRow
	if err := c.get(ctx, &r, `SELECT `+groupCols+` FROM groups g WHERE g.tenant_id = ? AND g.id = ?`+c.forUpdate(), tenantID, id); err != nil {
		return nil, fmt.Errorf("group %s: %w", id, err)
	}
	g := r.group()
	for _, op := range ops {
		switch op.Kind {
		case provisioning.GroupSetDisplayName:
			g.DisplayName = strings.TrimSpace(op.Value)
		case provisioning.GroupSetExternalID:
			g.ExternalID = op.Value
		case provisioning.GroupAddMembers:
			if err := c.addMembers(ctx, tenantID, id, op.Members); err != nil {
				return nil, err
			}
		case provisioning.GroupRemoveMembers:
			if err := c.removeMembers(ctx, tenantID, id, op.Members); err != nil {
				return nil, err
			}
		case provisioning.GroupReplaceMembers, provisioning.GroupRemoveAllMember:
			if _, err := c.exec(ctx, `DELETE FROM group_members WHERE tenant_id = ? AND group_id = ?`, tenantID, id); err != nil {
				return nil, fmt.Errorf("clear members: %w", err)
			}
			if op.Kind == provisioning.GroupReplaceMembers {
				if err := c.addMembers(ctx, tenantID, id, op.Members); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("group op %q: %w", op.Kind, provisioning.ErrUnsupportedFilter)
		}
	}
	g.Version, g.UpdatedAt = r.Version+1, now
	if _, err := c.exec(ctx, `UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, version = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`, g.DisplayName, provisioning.FoldKey(g.DisplayName), g.ExternalID, g.Version, micros(now), tenantID, id); err != nil {
		return nil, fmt.Errorf("update group: %w", err)
	}
	return &g, nil
}

// memberChunk keeps statements under SQLite's and PostgreSQL's bound-parameter limits.
const memberChunk = 500

// addMembers adds users that exist in the tenant; an id that is not a user of the tenant
// fails the whole operation with a ValidationError naming it.
func (c *conn) addMembers(ctx context.Context, tenantID, groupID string, ids []string) error {
	ids = dedupe(ids)
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		args := []any{tenantID, groupID, tenantID}
		for _, id := range chunk {
			args = append(args, id)
		}
		res, err := c.exec(ctx, `INSERT INTO group_members (tenant_id, group_id, user_id)
			SELECT ?, ?, u.id FROM users u WHERE u.tenant_id = ? AND u.id IN (`+placeholders(len(chunk))+`)
			ON CONFLICT (group_id, user_id) DO NOTHING`, args...)
		if err != nil {
			return fmt.Errorf("add members: %w", err)
		}
		if n, _ := res.RowsAffected(); int(n) == len(chunk) {
			continue
		}
		// Some were already members or are not users of the tenant: find the latter.
		var found []string
		if err := c.selectx(ctx, &found, `SELECT id FROM users WHERE tenant_id = ? AND id IN (`+placeholders(len(chunk))+`)`,
			append([]any{tenantID}, args[3:]...)...); err != nil {
			return fmt.Errorf("check members: %w", err)
		}
		if len(found) != len(chunk) {
			have := make(map[string]bool, len(found))
			for _, f := range found {
				have[f] = true
			}
			for _, id := range chunk {
				if !have[id] {
					return provisioning.Invalid("members", "no user with id %q", id)
				}
			}
		}
	}
	return nil
}

func (c *conn) removeMembers(ctx context.Context, tenantID, groupID string, ids []string) error {
	ids = dedupe(ids)
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		args := []any{tenantID, groupID}
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := c.exec(ctx, `DELETE FROM group_members WHERE tenant_id = ? AND group_id = ? AND user_id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return fmt.Errorf("remove members: %w", err)
		}
	}
	return nil
}

func (c *conn) DeleteGroup(ctx context.Context, tenantID, id string) error {
	res, err := c.exec(ctx, `DELETE FROM groups WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("group %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

func (c *conn) UserGroups(ctx context.Context, tenantID, userID string) ([]provisioning.GroupRef, error) {
	var refs []provisioning.GroupRef
	if err := c.selectx(ctx, &refs, `SELECT g.id AS id, g.display_name AS display FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.tenant_id = ? AND m.user_id = ? ORDER BY g.display_name_key, g.id`, tenantID, userID); err != nil {
		return nil, fmt.Errorf("user groups: %w", err)
	}
	return refs, nil
}
