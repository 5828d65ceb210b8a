package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the roles, teams and grants part of the store contract: roles,
// teams, batched grants and seat changes.

func idArgs(lead []any, ids []string) []any {
	args := append([]any{}, lead...)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

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

func (c *conn) LoginSummary(ctx context.Context, tenantID, userID string) (*provisioning.LoginSummary, error) {
	var agg struct {
		Count    int           `db:"n"`
		Failures int           `db:"failures"`
		Last     sql.NullInt64 `db:"last_at"`
	}
	if err := c.get(ctx, &agg, `SELECT
		COALESCE(SUM(CASE WHEN result = 'success' THEN 1 ELSE 0 END), 0) AS n,
		COALESCE(SUM(CASE WHEN result <> 'success' THEN 1 ELSE 0 END), 0) AS failures,
		MAX(CASE WHEN result = 'success' THEN at END) AS last_at
		FROM login_events WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
		return nil, fmt.Errorf("login summary: %w", err)
	}
	s := &provisioning.LoginSummary{Count: agg.Count, Failures: agg.Failures, LastLoginAt: fromOptMicros(agg.Last),
		IPs: []provisioning.LoginSeen{}, UserAgents: []provisioning.LoginSeen{}}
	for _, col := range []struct {
		name string
		dst  *[]provisioning.LoginSeen
	}{{"ip", &s.IPs}, {"user_agent", &s.UserAgents}} {
		var rows []struct {
			provisioning.LoginSeen
			Last int64 `db:"last_at"`
		}
		// col.name is one of two constants above, never input.
		if err := c.selectx(ctx, &rows, `SELECT `+col.name+` AS value, COUNT(*) AS n, MAX(at) AS last_at FROM login_events
			WHERE tenant_id = ? AND user_id = ? AND `+col.name+` <> '' GROUP BY `+col.name+` ORDER BY last_at DESC LIMIT 20`,
			tenantID, userID); err != nil {
			return nil, fmt.Errorf("login summary %s: %w", col.name, err)
		}
		for _, r := range rows {
			r.LoginSeen.LastSeen = fromMicros(r.Last)
			*col.dst = append(*col.dst, r.LoginSeen)
		}
	}
	return s, nil
}

func (c *conn) LockTenant(ctx context.Context, tenantID string) error {
	if c.d != Postgres || !c.inTx {
		return nil
	}
	var id string
	if err := c.get(ctx, &id, `SELECT id FROM tenants WHERE id = ? FOR UPDATE`, tenantID); err != nil {
		return fmt.Errorf("lock tenant: %w", err)
	}
	return nil
}

func (c *conn) LockUsers(ctx context.Context, tenantID string, ids []string) ([]provisioning.User, error) {
	ids = dedupe(ids)
	var out []provisioning.User
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		var rows []userRow
		if err := c.selectx(ctx, &rows, `SELECT `+c.userCols()+` FROM users u WHERE u.tenant_id = ? AND u.id IN (`+
			placeholders(len(chunk))+`) ORDER BY u.id`+c.forUpdate(), idArgs([]any{tenantID}, chunk)...); err != nil {
			return nil, fmt.Errorf("lock users: %w", err)
		}
		for i := range rows {
			u, err := rows[i].user()
			if err != nil {
				return nil, err
			}
			out = append(out, *u)
		}
	}
	return out, nil
}

// SetSeats moves the tenant's seat count by len(ids) in one conditional UPDATE (takeSeats)
// before flipping the users' flags, so a shortage refuses the whole batch.
func (c *conn) SetSeats(ctx context.Context, tenantID string, ids []string, seat bool, at time.Time) error {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil
	}
	n := len(ids)
	if !seat {
		n = -n
	}
	if err := c.takeSeats(ctx, tenantID, n); err != nil {
		return err
	}
	changed := 0
	for start := 0; start < len(ids); start += memberChunk {
		chunk := ids[start:min(start+memberChunk, len(ids))]
		res, err := c.exec(ctx, `UPDATE users SET seat = ?, version = version + 1, updated_at = ?
			WHERE tenant_id = ? AND seat = ? AND id IN (`+placeholders(len(chunk))+`)`,
			idArgs([]any{seat, micros(at), tenantID, !seat}, chunk)...)
		if err != nil {
			return fmt.Errorf("set seats: %w", err)
		}
		k, _ := res.RowsAffected()
		changed += int(k)
	}
	if changed != len(ids) {
		// The caller locked the users and passed only those whose flag differs: a mismatch
		// means that contract was broken, and the count would drift.
		return fmt.Errorf("set seats: %d of %d users changed", changed, len(ids))
	}
	return nil
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
