package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's roles, teams and grants: roles and their
// permissions, teams, and the user grants of both with their sources (admin and
// idp:<connection>).

func (c *conn) GetRole(ctx context.Context, tenantID, id string) (*provisioning.Role, error) {
	var r roleRow
	if err := c.get(ctx, &r, `SELECT id, tenant_id, name, description, built_in, permissions, created_at FROM roles
		WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
		return nil, fmt.Errorf("role %s: %w", id, err)
	}
	out := &provisioning.Role{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Description: r.Description, BuiltIn: r.BuiltIn,
		CreatedAt: fromMicros(r.CreatedAt)}
	if err := json.Unmarshal([]byte(r.Permissions), &out.Permissions); err != nil {
		return nil, fmt.Errorf("role %s permissions: %w", r.ID, err)
	}
	return out, nil
}

func (c *conn) UpdateRole(ctx context.Context, tenantID string, r *provisioning.Role) error {
	perms, err := json.Marshal(r.Permissions)
	if err != nil {
		return fmt.Errorf("role permissions: %w", err)
	}
	res, err := c.exec(ctx, `UPDATE roles SET name = ?, name_key = ?, description = ?, permissions = ? WHERE tenant_id = ? AND id = ?`,
		r.Name, provisioning.FoldKey(r.Name), r.Description, string(perms), tenantID, r.ID)
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "name", Value: r.Name}
	}
	if err != nil {
		return fmt.Errorf("update role: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("role %s: %w", r.ID, provisioning.ErrNotFound)
	}
	return nil
}

func (c *conn) DeleteRole(ctx context.Context, tenantID, id string) error {
	res, err := c.exec(ctx, `DELETE FROM roles WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("role %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

type roleRow struct {
	ID          string `db:"id"`
	TenantID    string `db:"tenant_id"`
	Name        string `db:"name"`
	Description string `db:"description"`
	BuiltIn     bool   `db:"built_in"`
	Permissions string `db:"permissions"`
	CreatedAt   int64  `db:"created_at"`
}

func (c *conn) CreateRole(ctx context.Context, tenantID string, r *provisioning.Role) error {
	perms, err := json.Marshal(r.Permissions)
	if err != nil {
		return fmt.Errorf("role permissions: %w", err)
	}
	r.TenantID = tenantID
	_, err = c.exec(ctx, `INSERT INTO roles (id, tenant_id, name, name_key, description, built_in, permissions, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, tenantID, r.Name, provisioning.FoldKey(r.Name), r.Description, r.BuiltIn, string(perms), micros(r.CreatedAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "name", Value: r.Name}
	}
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return nil
}

func (c *conn) ListRoles(ctx context.Context, tenantID string) ([]provisioning.Role, error) {
	var rows []roleRow
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, name, description, built_in, permissions, created_at FROM roles
		WHERE tenant_id = ? ORDER BY built_in DESC, name_key`, tenantID); err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	out := make([]provisioning.Role, len(rows))
	for i, r := range rows {
		out[i] = provisioning.Role{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Description: r.Description, BuiltIn: r.BuiltIn,
			CreatedAt: fromMicros(r.CreatedAt)}
		if err := json.Unmarshal([]byte(r.Permissions), &out[i].Permissions); err != nil {
			return nil, fmt.Errorf("role %s permissions: %w", r.ID, err)
		}
	}
	return out, nil
}

func (c *conn) GetTeam(ctx context.Context, tenantID, id string) (*provisioning.Team, error) {
	var r teamRow
	if err := c.get(ctx, &r, `SELECT t.id, t.tenant_id, t.name, t.description, t.created_at, t.updated_at,
		(SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members
		FROM teams t WHERE t.tenant_id = ? AND t.id = ?`, tenantID, id); err != nil {
		return nil, fmt.Errorf("team %s: %w", id, err)
	}
	return &provisioning.Team{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Description: r.Description,
		MemberCount: r.Members, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}, nil
}

func (c *conn) UpdateTeam(ctx context.Context, tenantID string, t *provisioning.Team) error {
	res, err := c.exec(ctx, `UPDATE teams SET name = ?, name_key = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		t.Name, provisioning.FoldKey(t.Name), t.Description, micros(t.UpdatedAt), tenantID, t.ID)
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "name", Value: t.Name}
	}
	if err != nil {
		return fmt.Errorf("update team: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("team %s: %w", t.ID, provisioning.ErrNotFound)
	}
	return nil
}

func (c *conn) DeleteTeam(ctx context.Context, tenantID, id string) error {
	res, err := c.exec(ctx, `DELETE FROM teams WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete team: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("team %s: %w", id, provisioning.ErrNotFound)
	}
	return nil
}

type teamRow struct {
	ID          string `db:"id"`
	TenantID    string `db:"tenant_id"`
	Name        string `db:"name"`
	Description string `db:"description"`
	Members     int    `db:"members"`
	CreatedAt   int64  `db:"created_at"`
	UpdatedAt   int64  `db:"updated_at"`
}

// ListTeams lists the tenant's teams. (Named so that a later team store in another file
// can take it over; kept here because the SSO group mapping needs it first.)
func (c *conn) ListTeams(ctx context.Context, tenantID string) ([]provisioning.Team, error) {
	var rows []teamRow
	if err := c.selectx(ctx, &rows, `SELECT t.id, t.tenant_id, t.name, t.description, t.created_at, t.updated_at,
		(SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members
		FROM teams t WHERE t.tenant_id = ? ORDER BY t.name_key`, tenantID); err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	out := make([]provisioning.Team, 0, len(rows))
	for _, r := range rows {
		out = append(out, provisioning.Team{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Description: r.Description,
			MemberCount: r.Members, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)})
	}
	return out, nil
}

func (c *conn) CreateTeam(ctx context.Context, tenantID string, t *provisioning.Team) error {
	_, err := c.exec(ctx, `INSERT INTO teams (id, tenant_id, name, name_key, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, tenantID, t.Name, provisioning.FoldKey(t.Name), t.Description, micros(t.CreatedAt), micros(t.UpdatedAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "name", Value: t.Name}
	}
	if err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	t.TenantID = tenantID
	return nil
}

func idArgs(lead []any, ids []string) []any {
	args := append([]any{}, lead...)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

func (c *conn) UserGrants(ctx context.Context, tenantID string, userIDs []string) ([]provisioning.Grant, error) {
	ids := dedupe(userIDs)
	var out []provisioning.Grant
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		in := placeholders(len(chunk))
		args := idArgs([]any{tenantID}, chunk)
		args = append(args, idArgs([]any{tenantID}, chunk)...)
		var rows []provisioning.Grant
		if err := c.selectx(ctx, &rows, `SELECT ur.user_id, 'role' AS kind, r.id, r.name, ur.source FROM user_roles ur
			JOIN roles r ON r.id = ur.role_id WHERE ur.tenant_id = ? AND ur.user_id IN (`+in+`)
			UNION ALL
			SELECT tm.user_id, 'team' AS kind, t.id, t.name, tm.source FROM team_members tm
			JOIN teams t ON t.id = tm.team_id WHERE tm.tenant_id = ? AND tm.user_id IN (`+in+`)
			ORDER BY 1, 2, 4`, args...); err != nil {
			return nil, fmt.Errorf("user grants: %w", err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

func (c *conn) CountAdmins(ctx context.Context, tenantID string) (int, error) {
	var n int
	if err := c.get(ctx, &n, `SELECT COUNT(DISTINCT u.id) FROM users u
		JOIN user_roles ur ON ur.user_id = u.id
		JOIN roles r ON r.id = ur.role_id
		WHERE u.tenant_id = ? AND r.tenant_id = ? AND r.built_in = ? AND r.name_key = ? AND u.seat = ? AND u.status <> ?`,
		tenantID, tenantID, true, provisioning.FoldKey(provisioning.RoleAdmin), true, string(provisioning.StatusDeactivated)); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

func (c *conn) GrantRoles(ctx context.Context, tenantID string, userIDs, roleIDs []string) error {
	return c.grant(ctx, `INSERT INTO user_roles (tenant_id, user_id, role_id, source)
		SELECT u.tenant_id, u.id, x.id, 'admin' FROM users u JOIN roles x ON x.tenant_id = u.tenant_id
		WHERE u.tenant_id = ? AND u.id IN (%s) AND x.id IN (%s) ON CONFLICT (user_id, role_id) DO NOTHING`, tenantID, userIDs, roleIDs)
}

func (c *conn) RevokeRoles(ctx context.Context, tenantID string, userIDs, roleIDs []string) error {
	_, err := c.revoke(ctx, `DELETE FROM user_roles WHERE tenant_id = ? AND source = 'admin' AND user_id IN (%s) AND role_id IN (%s)`,
		tenantID, userIDs, roleIDs)
	return err
}

func (c *conn) AddTeamMembers(ctx context.Context, tenantID string, teamIDs, userIDs []string) error {
	return c.grant(ctx, `INSERT INTO team_members (tenant_id, team_id, user_id, source)
		SELECT u.tenant_id, x.id, u.id, 'admin' FROM users u JOIN teams x ON x.tenant_id = u.tenant_id
		WHERE u.tenant_id = ? AND u.id IN (%s) AND x.id IN (%s) ON CONFLICT (team_id, user_id) DO NOTHING`, tenantID, userIDs, teamIDs)
}

func (c *conn) RemoveTeamMembers(ctx context.Context, tenantID string, teamIDs, userIDs []string) (int, error) {
	return c.revoke(ctx, `DELETE FROM team_members WHERE tenant_id = ? AND source = 'admin' AND user_id IN (%s) AND team_id IN (%s)`,
		tenantID, userIDs, teamIDs)
}

// grant runs an INSERT … SELECT of users × objects; the engine has checked that every id
// exists in the tenant, and the join keeps another tenant's ids out regardless.
func (c *conn) grant(ctx context.Context, q, tenantID string, userIDs, objIDs []string) error {
	userIDs, objIDs = dedupe(userIDs), dedupe(objIDs)
	if len(userIDs) == 0 || len(objIDs) == 0 {
		return nil
	}
	for start := 0; start < len(userIDs); start += memberChunk {
		chunk := userIDs[start:min(start+memberChunk, len(userIDs))]
		args := idArgs(idArgs([]any{tenantID}, chunk), objIDs)
		if _, err := c.exec(ctx, fmt.Sprintf(q, placeholders(len(chunk)), placeholders(len(objIDs))), args...); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
	}
	return nil
}

func (c *conn) revoke(ctx context.Context, q, tenantID string, userIDs, objIDs []string) (int, error) {
	userIDs, objIDs = dedupe(userIDs), dedupe(objIDs)
	if len(userIDs) == 0 || len(objIDs) == 0 {
		return 0, nil
	}
	total := 0
	for start := 0; start < len(userIDs); start += memberChunk {
		chunk := userIDs[start:min(start+memberChunk, len(userIDs))]
		args := idArgs(idArgs([]any{tenantID}, chunk), objIDs)
		res, err := c.exec(ctx, fmt.Sprintf(q, placeholders(len(chunk)), placeholders(len(objIDs))), args...)
		if err != nil {
			return 0, fmt.Errorf("revoke: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// SetUserRoles replaces the admin-granted roles of a user (roles granted by an IdP mapping
// keep their own source and are left alone).
func (c *conn) SetUserRoles(ctx context.Context, tenantID, userID string, roleIDs []string) error {
	if _, err := c.exec(ctx, `DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ? AND source = 'admin'`, tenantID, userID); err != nil {
		return fmt.Errorf("clear roles: %w", err)
	}
	for _, id := range dedupe(roleIDs) {
		res, err := c.exec(ctx, `INSERT INTO user_roles (tenant_id, user_id, role_id, source)
			SELECT ?, ?, r.id, 'admin' FROM roles r WHERE r.tenant_id = ? AND r.id = ? ON CONFLICT (user_id, role_id) DO NOTHING`,
			tenantID, userID, tenantID, id)
		if err != nil {
			return fmt.Errorf("grant role: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			if err := c.get(ctx, &exists, `SELECT COUNT(*) FROM roles WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
				return fmt.Errorf("check role: %w", err)
			}
			if exists == 0 {
				return provisioning.Invalid("roles", "no role with id %q", id)
			}
		}
	}
	return nil
}

func (c *conn) SetSourcedRoles(ctx context.Context, tenantID, userID, source string, roleIDs []string) error {
	if source == "admin" {
		return errors.New("set sourced roles: the admin source is managed by SetUserRoles")
	}
	if _, err := c.exec(ctx, `DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ? AND source = ?`, tenantID, userID, source); err != nil {
		return fmt.Errorf("clear sourced roles: %w", err)
	}
	for _, id := range dedupe(roleIDs) {
		if _, err := c.exec(ctx, `INSERT INTO user_roles (tenant_id, user_id, role_id, source)
			SELECT ?, ?, r.id, ? FROM roles r WHERE r.tenant_id = ? AND r.id = ? ON CONFLICT (user_id, role_id) DO NOTHING`,
			tenantID, userID, source, tenantID, id); err != nil {
			return fmt.Errorf("grant sourced role: %w", err)
		}
	}
	return nil
}

func (c *conn) SetSourcedTeams(ctx context.Context, tenantID, userID, source string, teamIDs []string) error {
	if source == "admin" {
		return errors.New("set sourced teams: the admin source is not managed here")
	}
	if _, err := c.exec(ctx, `DELETE FROM team_members WHERE tenant_id = ? AND user_id = ? AND source = ?`, tenantID, userID, source); err != nil {
		return fmt.Errorf("clear sourced teams: %w", err)
	}
	for _, id := range dedupe(teamIDs) {
		if _, err := c.exec(ctx, `INSERT INTO team_members (tenant_id, team_id, user_id, source)
			SELECT ?, t.id, ?, ? FROM teams t WHERE t.tenant_id = ? AND t.id = ? ON CONFLICT (team_id, user_id) DO NOTHING`,
			tenantID, userID, source, tenantID, id); err != nil {
			return fmt.Errorf("add sourced team: %w", err)
		}
	}
	return nil
}
