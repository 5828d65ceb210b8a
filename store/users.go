package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's users: create, read, update, delete, row
// locks, e-mail lookup and directory tombstones. Listing users (SCIM filter, sort and
// paging) is the users' query language and lives in list.go and filter.go.

type userRow struct {
	ID                string         `db:"id"`
	TenantID          string         `db:"tenant_id"`
	UserName          string         `db:"user_name"`
	ExternalID        string         `db:"external_id"`
	NameFormatted     string         `db:"name_formatted"`
	FamilyName        string         `db:"family_name"`
	GivenName         string         `db:"given_name"`
	MiddleName        string         `db:"middle_name"`
	HonorificPrefix   string         `db:"honorific_prefix"`
	HonorificSuffix   string         `db:"honorific_suffix"`
	DisplayName       string         `db:"display_name"`
	NickName          string         `db:"nick_name"`
	ProfileURL        string         `db:"profile_url"`
	Title             string         `db:"title"`
	UserType          string         `db:"user_type"`
	PreferredLanguage string         `db:"preferred_language"`
	Locale            string         `db:"locale"`
	Timezone          string         `db:"timezone"`
	BusinessUnit      string         `db:"business_unit"`
	EmployeeNumber    string         `db:"employee_number"`
	CostCenter        string         `db:"cost_center"`
	Organization      string         `db:"organization"`
	Division          string         `db:"division"`
	Department        string         `db:"department"`
	ManagerID         string         `db:"manager_id"`
	ManagerName       sql.NullString `db:"manager_name"`
	Addresses         string         `db:"addresses"`
	Status            string         `db:"status"`
	Source            string         `db:"source"`
	ManagedByIdP      bool           `db:"managed_by_idp"`
	Seat              bool           `db:"seat"`
	PasswordHash      string         `db:"password_hash"`
	Version           int64          `db:"version"`
	CreatedAt         int64          `db:"created_at"`
	UpdatedAt         int64          `db:"updated_at"`
	LastLoginAt       sql.NullInt64  `db:"last_login_at"`
	// Vals is the user's multi-valued attributes as a JSON array of
	// [attr, value, display, type, primary] rows, read in the same statement.
	Vals sql.NullString `db:"vals"`
	// Grps, RoleNames and TeamNames are the user's groups ([id, name] rows), role names and
	// team names as JSON arrays, present only when the statement asked for them
	// (detailCols).
	Grps      sql.NullString `db:"grps"`
	RoleNames sql.NullString `db:"role_names"`
	TeamNames sql.NullString `db:"team_names"`
}

// userBaseCols lists the columns of users read through alias u; the manager's display name
// comes from a correlated sub-query so that one statement reads a whole page.
const userBaseCols = `u.id, u.tenant_id, u.user_name, u.external_id, u.name_formatted, u.family_name, u.given_name,
 u.middle_name, u.honorific_prefix, u.honorific_suffix, u.display_name, u.nick_name, u.profile_url, u.title,
 u.user_type, u.preferred_language, u.locale, u.timezone, u.business_unit, u.employee_number, u.cost_center,
 u.organization, u.division, u.department, u.manager_id,
 (SELECT m.display_name FROM users m WHERE m.id = u.manager_id AND m.tenant_id = u.tenant_id) AS manager_name,
 u.addresses, u.status, u.source, u.managed_by_idp, u.seat, u.password_hash, u.version, u.created_at, u.updated_at,
 u.last_login_at`

// userCols adds the multi-valued attributes, aggregated to JSON per user in the same
// statement: a lookup or a page costs one query instead of two.
func (c *conn) userCols() string {
	if c.d == Postgres {
		return userBaseCols + `,
 (SELECT json_agg(json_build_array(v.attr, v.value, v.display, v.type, v.is_primary) ORDER BY v.attr, v.idx)
  FROM user_values v WHERE v.user_id = u.id) AS vals`
	}
	return userBaseCols + `,
 (SELECT json_group_array(json_array(v.attr, v.value, v.display, v.type, v.is_primary) ORDER BY v.attr, v.idx)
  FROM user_values v WHERE v.user_id = u.id) AS vals`
}

// detailCols adds, when asked, the user's groups and its roles and teams to userCols as
// JSON arrays (never NULL when asked): a lookup or a page costs one statement instead of
// two to four, which on PostgreSQL are as many round trips. The sub-queries go by user id
// alone: the users were read under the tenant's filter and ids are globally unique (a
// tenant_id condition here tempted PostgreSQL, on statistics not yet analysed after an
// import, into scanning the tenant's whole (tenant_id, …) index).
func (c *conn) detailCols(groups, access bool) string {
	agg, arr := "json_group_array", "json_array"
	if c.d == Postgres {
		agg, arr = "json_agg", "json_build_array"
	}
	var sb strings.Builder
	if groups {
		sb.WriteString(`,
 COALESCE((SELECT ` + agg + `(` + arr + `(g.id, g.display_name) ORDER BY g.display_name_key, g.id)
  FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE gm.user_id = u.id), '[]') AS grps`)
	}
	if access {
		sb.WriteString(`,
 COALESCE((SELECT ` + agg + `(r.name ORDER BY r.name_key) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
  WHERE ur.user_id = u.id), '[]') AS role_names,
 COALESCE((SELECT ` + agg + `(t.name ORDER BY t.name_key) FROM team_members tm JOIN teams t ON t.id = tm.team_id
  WHERE tm.user_id = u.id), '[]') AS team_names`)
	}
	return sb.String()
}

// decodeDetails fills the groups, roles and teams that detailCols read; groups that were
// asked for are an empty slice, not nil, when the user has none.
func (r *userRow) decodeDetails(u *provisioning.User) error {
	if r.Grps.Valid {
		var rows [][2]string
		if err := json.Unmarshal([]byte(r.Grps.String), &rows); err != nil {
			return fmt.Errorf("user %s groups: %w", u.ID, err)
		}
		u.Groups = make([]provisioning.GroupRef, len(rows))
		for i, g := range rows {
			u.Groups[i] = provisioning.GroupRef{ID: g[0], DisplayName: g[1]}
		}
	}
	for _, d := range []struct {
		col sql.NullString
		dst *[]string
	}{{r.RoleNames, &u.Roles}, {r.TeamNames, &u.Teams}} {
		if !d.col.Valid || d.col.String == "[]" {
			continue
		}
		if err := json.Unmarshal([]byte(d.col.String), d.dst); err != nil {
			return fmt.Errorf("user %s roles or teams: %w", u.ID, err)
		}
	}
	return nil
}

// decodeValues fills the multi-valued attributes from the vals column.
func decodeValues(u *provisioning.User, vals string) error {
	if vals == "" || vals == "[]" {
		return nil
	}
	var rows [][5]any
	if err := json.Unmarshal([]byte(vals), &rows); err != nil {
		return fmt.Errorf("user %s values: %w", u.ID, err)
	}
	fields := multiValued(u)
	for _, r := range rows {
		attr, _ := r[0].(string)
		dst := fields[attr]
		if dst == nil {
			continue
		}
		mv := provisioning.MultiValue{}
		mv.Value, _ = r[1].(string)
		mv.Display, _ = r[2].(string)
		mv.Type, _ = r[3].(string)
		switch p := r[4].(type) { // boolean on PostgreSQL, 0/1 on SQLite
		case bool:
			mv.Primary = p
		case float64:
			mv.Primary = p != 0
		}
		*dst = append(*dst, mv)
	}
	return nil
}

func (r *userRow) user() (*provisioning.User, error) {
	u := &provisioning.User{
		ID: r.ID, TenantID: r.TenantID, UserName: r.UserName, ExternalID: r.ExternalID,
		Name: provisioning.Name{Formatted: r.NameFormatted, FamilyName: r.FamilyName, GivenName: r.GivenName,
			MiddleName: r.MiddleName, HonorificPrefix: r.HonorificPrefix, HonorificSuffix: r.HonorificSuffix},
		DisplayName: r.DisplayName, NickName: r.NickName, ProfileURL: r.ProfileURL, Title: r.Title, UserType: r.UserType,
		PreferredLanguage: r.PreferredLanguage, Locale: r.Locale, Timezone: r.Timezone, BusinessUnit: r.BusinessUnit,
		Enterprise: provisioning.Enterprise{EmployeeNumber: r.EmployeeNumber, CostCenter: r.CostCenter, Organization: r.Organization,
			Division: r.Division, Department: r.Department, ManagerID: r.ManagerID, ManagerDisplayName: r.ManagerName.String,
			ManagerIsUser: r.ManagerName.Valid},
		Status: provisioning.UserStatus(r.Status), Source: provisioning.Source(r.Source), ManagedByIdP: r.ManagedByIdP, Seat: r.Seat,
		PasswordHash: r.PasswordHash, Version: r.Version, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
		LastLoginAt: fromOptMicros(r.LastLoginAt),
	}
	if r.Addresses != "" {
		if err := json.Unmarshal([]byte(r.Addresses), &u.Addresses); err != nil {
			return nil, fmt.Errorf("user %s addresses: %w", r.ID, err)
		}
	}
	if err := decodeValues(u, r.Vals.String); err != nil {
		return nil, err
	}
	if err := r.decodeDetails(u); err != nil {
		return nil, err
	}
	return u, nil
}

// userArgs returns the values of every writable column, in userWriteCols order.
func userArgs(u *provisioning.User) ([]any, error) {
	addr := ""
	if len(u.Addresses) > 0 {
		b, err := json.Marshal(u.Addresses)
		if err != nil {
			return nil, fmt.Errorf("addresses: %w", err)
		}
		addr = string(b)
	}
	return []any{u.UserName, provisioning.FoldKey(u.UserName), provisioning.FoldKey(u.PrimaryEmail()), u.ExternalID,
		u.Name.Formatted, u.Name.FamilyName, u.Name.GivenName, u.Name.MiddleName, u.Name.HonorificPrefix, u.Name.HonorificSuffix,
		u.DisplayName, u.NickName, u.ProfileURL, u.Title, u.UserType, u.PreferredLanguage, u.Locale, u.Timezone, u.BusinessUnit,
		u.Enterprise.EmployeeNumber, u.Enterprise.CostCenter, u.Enterprise.Organization, u.Enterprise.Division, u.Enterprise.Department,
		u.Enterprise.ManagerID, addr, string(u.Status), u.ManagedByIdP, u.Seat, u.PasswordHash,
		u.Version, micros(u.UpdatedAt), optMicros(u.LastLoginAt)}, nil
}

var userWriteCols = []string{"user_name", "user_name_key", "email_key", "external_id",
	"name_formatted", "family_name", "given_name", "middle_name", "honorific_prefix", "honorific_suffix",
	"display_name", "nick_name", "profile_url", "title", "user_type", "preferred_language", "locale", "timezone", "business_unit",
	"employee_number", "cost_center", "organization", "division", "department",
	"manager_id", "addresses", "status", "managed_by_idp", "seat", "password_hash",
	"version", "updated_at", "last_login_at"}

var (
	userInsertSQL = `INSERT INTO users (id, tenant_id, source, created_at, ` + strings.Join(userWriteCols, ", ") +
		`) VALUES (?, ?, ?, ?` + strings.Repeat(", ?", len(userWriteCols)) + `)`
	userUpdateSQL = `UPDATE users SET ` + strings.Join(userWriteCols, " = ?, ") + ` = ? WHERE tenant_id = ? AND id = ?`
)

// uniqueConflict names the user field behind a unique violation: userName is the only
// unique attribute of a user (e-mails are not, see migration 00005).
func uniqueConflict(u *provisioning.User) error {
	return &provisioning.ConflictError{Field: "userName", Value: u.UserName}
}

func (c *conn) CreateUser(ctx context.Context, tenantID string, u *provisioning.User) error {
	return c.createUser(ctx, tenantID, u, false)
}

// createUser inserts u; late lets a PostgreSQL transaction defer the statement (see
// CreateUserLate).
func (c *conn) createUser(ctx context.Context, tenantID string, u *provisioning.User, late bool) error {
	u.TenantID = tenantID
	if u.Seat {
		if err := c.takeSeats(ctx, tenantID, 1); err != nil {
			return err
		}
	}
	args, err := userArgs(u)
	if err != nil {
		return err
	}
	args = append([]any{u.ID, tenantID, string(u.Source), micros(u.CreatedAt)}, args...)
	if c.d == Postgres {
		if t := c.createUserTrip(tenantID, u, args); t != nil {
			if !late || !c.inTx || c.shared {
				return c.run(ctx, t)
			}
			if c.deferred != nil { // a write deferred before this one runs first
				if err := c.ready(ctx); err != nil {
					return err
				}
			}
			c.deferred = t
			return nil
		}
	}
	_, err = c.exec(ctx, userInsertSQL, args...)
	if errors.Is(err, errUnique) {
		return uniqueConflict(u)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if err := c.writeValues(ctx, tenantID, u, false); err != nil {
		return err
	}
	return c.clearTombstone(ctx, tenantID, u.UserName)
}

// createUserTrip is, on PostgreSQL, the one statement (data-modifying CTEs) that inserts
// the user, its multi-valued attributes and clears its tombstone: one round trip instead
// of three, a third of a create's statements. It is nil for a user with more values than
// one INSERT takes.
func (c *conn) createUserTrip(tenantID string, u *provisioning.User, userArgs []any) *oneTrip {
	n := 0
	for _, vals := range multiValued(u) {
		n += len(*vals)
	}
	if n > valuesPerInsert {
		return nil
	}
	t := &oneTrip{ctes: []string{`t AS (DELETE FROM tombstones WHERE tenant_id = ? AND user_name_key = ?)`},
		unique: func() error { return uniqueConflict(u) }, what: "create user"}
	t.args = append(make([]any, 0, 2+len(userArgs)+9*n), tenantID, provisioning.FoldKey(u.UserName))
	t.args = append(t.args, userArgs...)
	if n == 0 {
		t.final = userInsertSQL
		return t
	}
	// The foreign key of user_values is checked at the end of the statement, when the
	// user row exists.
	t.ctes = append(t.ctes, `u AS (`+userInsertSQL+` RETURNING id)`)
	var sb strings.Builder
	sb.WriteString(`INSERT INTO user_values (tenant_id, user_id, attr, idx, value, value_key, display, type, is_primary) VALUES `)
	i := 0
	for attr, vals := range multiValued(u) {
		for j, v := range *vals {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			t.args = append(t.args, tenantID, u.ID, attr, j, v.Value, provisioning.FoldKey(v.Value), v.Display, v.Type, v.Primary)
			i++
		}
	}
	t.final = sb.String()
	return t
}

// multiValued lists the simple multi-valued attributes kept in user_values.
func multiValued(u *provisioning.User) map[string]*[]provisioning.MultiValue {
	return map[string]*[]provisioning.MultiValue{
		"emails": &u.Emails, "phoneNumbers": &u.PhoneNumbers, "ims": &u.IMs, "photos": &u.Photos,
		"entitlements": &u.Entitlements, "roles": &u.SCIMRoles, "x509Certificates": &u.X509Certificates,
	}
}

// writeValues stores the multi-valued attributes; with replace it first drops the old rows.
func (c *conn) writeValues(ctx context.Context, tenantID string, u *provisioning.User, replace bool) error {
	if replace {
		if _, err := c.exec(ctx, `DELETE FROM user_values WHERE user_id = ?`, u.ID); err != nil {
			return fmt.Errorf("replace user values: %w", err)
		}
	}
	// Rows go in chunks: one statement may bind at most 32,766 variables on SQLite and
	// 65,535 on PostgreSQL, and a user may carry thousands of values.
	var sb strings.Builder
	var args []any
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		_, err := c.exec(ctx, `INSERT INTO user_values (tenant_id, user_id, attr, idx, value, value_key, display, type, is_primary) VALUES `+sb.String(), args...)
		if err != nil {
			return fmt.Errorf("write user values: %w", err)
		}
		sb.Reset()
		args, n = args[:0], 0
		return nil
	}
	for attr, vals := range multiValued(u) {
		for i, v := range *vals {
			if n > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, tenantID, u.ID, attr, i, v.Value, provisioning.FoldKey(v.Value), v.Display, v.Type, v.Primary)
			n++
			if n == valuesPerInsert {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// valuesPerInsert is the most user_values rows one INSERT writes (9 variables each).
const valuesPerInsert = 500

// loadDetails fills, when asked, the groups and the roles and teams of a page of users with
// one query each (multi-valued attributes come with the user rows). A page of many users
// reads them this way: per-row sub-queries (detailCols) made listing pages of 100 slower
// on PostgreSQL (the load tool's listing phase: 6,000-6,500 users/s before, 3,300-4,400
// with them).
func (c *conn) loadDetails(ctx context.Context, users []*provisioning.User, groups, access bool) error {
	if len(users) == 0 || (!groups && !access) {
		return nil
	}
	byID := make(map[string]*provisioning.User, len(users))
	// The users were read under the tenant's filter and ids are globally unique, so the
	// detail queries go by user id alone: a tenant_id condition here tempted PostgreSQL, on
	// statistics not yet analysed after an import, into scanning the tenant's whole
	// (tenant_id, …) index instead of the user-id keys.
	ids := make([]any, 0, len(users))
	for _, u := range users {
		byID[u.ID] = u
		ids = append(ids, u.ID)
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(users)), ", ") + ")"
	type refRow struct {
		UserID string `db:"user_id"`
		ID     string `db:"id"`
		Name   string `db:"name"`
	}
	if groups {
		for _, u := range users {
			u.Groups = []provisioning.GroupRef{} // loaded, possibly empty: not nil
		}
		var refs []refRow
		if err := c.selectx(ctx, &refs, `SELECT gm.user_id, g.id, g.display_name AS name FROM group_members gm
			JOIN groups g ON g.id = gm.group_id WHERE gm.user_id IN `+in+` ORDER BY g.display_name_key, g.id`, ids...); err != nil {
			return fmt.Errorf("load user groups: %w", err)
		}
		for _, r := range refs {
			u := byID[r.UserID]
			u.Groups = append(u.Groups, provisioning.GroupRef{ID: r.ID, DisplayName: r.Name})
		}
	}
	if access {
		var refs []refRow
		if err := c.selectx(ctx, &refs, `SELECT ur.user_id, r.id, r.name FROM user_roles ur
			JOIN roles r ON r.id = ur.role_id WHERE ur.user_id IN `+in+` ORDER BY r.name_key`, ids...); err != nil {
			return fmt.Errorf("load user roles: %w", err)
		}
		for _, r := range refs {
			byID[r.UserID].Roles = append(byID[r.UserID].Roles, r.Name)
		}
		refs = refs[:0]
		if err := c.selectx(ctx, &refs, `SELECT tm.user_id, t.id, t.name FROM team_members tm
			JOIN teams t ON t.id = tm.team_id WHERE tm.user_id IN `+in+` ORDER BY t.name_key`, ids...); err != nil {
			return fmt.Errorf("load user teams: %w", err)
		}
		for _, r := range refs {
			byID[r.UserID].Teams = append(byID[r.UserID].Teams, r.Name)
		}
	}
	return nil
}

func (c *conn) getUserWhere(ctx context.Context, tenantID, where string, arg any, lock bool) (*provisioning.User, error) {
	var r userRow
	// A row locked for update skips roles and teams (separate relations UpdateUser does not
	// write) but keeps groups, which SCIM returns after every PUT and PATCH.
	q := `SELECT ` + c.userCols() + c.detailCols(true, !lock) + ` FROM users u WHERE u.tenant_id = ? AND ` + where
	if lock {
		q += c.forUpdate()
	}
	if err := c.get(ctx, &r, q, tenantID, arg); err != nil {
		return nil, err
	}
	return r.user()
}

func (c *conn) GetUser(ctx context.Context, tenantID, id string) (*provisioning.User, error) {
	u, err := c.getUserWhere(ctx, tenantID, "u.id = ?", id, false)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

func (c *conn) GetUserByUserName(ctx context.Context, tenantID, userName string) (*provisioning.User, error) {
	u, err := c.getUserWhere(ctx, tenantID, "u.user_name_key = ?", provisioning.FoldKey(userName), false)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", userName, err)
	}
	return u, nil
}

func (c *conn) UpdateUser(ctx context.Context, tenantID, id string, fn func(*provisioning.User) error) (*provisioning.User, error) {
	u, err := c.getUserWhere(ctx, tenantID, "u.id = ?", id, true)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", id, err)
	}
	hadSeat, oldEnt := u.Seat, u.Enterprise
	oldValues := fmt.Sprint(u.Emails, u.PhoneNumbers, u.IMs, u.Photos, u.Entitlements, u.SCIMRoles, u.X509Certificates)
	if err := fn(u); err != nil {
		return nil, err
	}
	u.Version++
	switch {
	case u.Seat && !hadSeat:
		if err := c.takeSeats(ctx, tenantID, 1); err != nil {
			return nil, err
		}
	case !u.Seat && hadSeat:
		if err := c.takeSeats(ctx, tenantID, -1); err != nil {
			return nil, err
		}
	}
	args, err := userArgs(u)
	if err != nil {
		return nil, err
	}
	res, err := c.exec(ctx, userUpdateSQL, append(args, tenantID, id)...)
	if errors.Is(err, errUnique) {
		return nil, uniqueConflict(u)
	}
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("user %s: %w", id, provisioning.ErrNotFound)
	}
	if fmt.Sprint(u.Emails, u.PhoneNumbers, u.IMs, u.Photos, u.Entitlements, u.SCIMRoles, u.X509Certificates) != oldValues {
		if err := c.writeValues(ctx, tenantID, u, true); err != nil {
			return nil, err
		}
	}
	// The manager's display name, and whether the value is a user's id at all, follow
	// manager_id (as the read query derives them), whatever fn left in those fields.
	if u.Enterprise.ManagerID == oldEnt.ManagerID {
		u.Enterprise.ManagerDisplayName, u.Enterprise.ManagerIsUser = oldEnt.ManagerDisplayName, oldEnt.ManagerIsUser
	} else {
		u.Enterprise.ManagerDisplayName, u.Enterprise.ManagerIsUser = "", false
		if u.Enterprise.ManagerID != "" {
			var name string
			err := c.get(ctx, &name, `SELECT display_name FROM users WHERE tenant_id = ? AND id = ?`, tenantID, u.Enterprise.ManagerID)
			if err != nil && !errors.Is(err, provisioning.ErrNotFound) {
				return nil, fmt.Errorf("manager name: %w", err)
			}
			u.Enterprise.ManagerDisplayName, u.Enterprise.ManagerIsUser = name, err == nil
		}
	}
	return u, nil
}

// logoutDueCol is the column that tells Tx.DeleteUser's caller whether a back-channel
// logout would end anything: the user had a session (ended ones count: a client's
// session may outlive ours, and "sign out everywhere else" ends ours without a logout)
// and some OIDC client registered a backchannel_logout_uri. u is the user's row.
const logoutDueCol = `,
 EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id)
  AND EXISTS (SELECT 1 FROM oauth_clients oc WHERE oc.backchannel_logout_uri <> '') AS logout_due`

// deletedUserRow is the user as DeleteUser reads it, with what the delete decides on.
type deletedUserRow struct {
	userRow
	LogoutDue bool `db:"logout_due"`
	// Reports is whether some user names this one as manager (SQLite only).
	Reports bool `db:"has_reports"`
}

func (c *conn) DeleteUser(ctx context.Context, tenantID, id string) (*provisioning.User, bool, error) {
	if c.d == Postgres {
		return c.deleteUserOneTrip(ctx, tenantID, id)
	}
	// SQLite runs statements in process: reading the user first costs no round trip, and
	// what a RETURNING clause reads of other tables next to the cascades is not specified.
	// The read also tells whether a logout is due and whether any user reports to this
	// one: most deleted users manage nobody, and the single writer then skips the update
	// of manager references.
	var r deletedUserRow
	if err := c.get(ctx, &r, deleteUserSQL(SQLite), tenantID, id); err != nil {
		return nil, false, fmt.Errorf("user %s: %w", id, err)
	}
	u, err := r.user()
	if err != nil {
		return nil, false, err
	}
	var row struct {
		Seat bool   `db:"seat"`
		Key  string `db:"user_name_key"`
	}
	// SQLite (3.35+) returns what the delete removed. SQLite makes every change of the
	// statement in its first step, so reading one row runs all of it.
	if err := c.get(ctx, &row, `DELETE FROM users WHERE tenant_id = ? AND id = ? RETURNING seat, user_name_key`, tenantID, id); err != nil {
		return nil, false, fmt.Errorf("user %s: %w", id, err)
	}
	// "manager_id <> ''" lets the partial index users_tenant_manager serve the statement
	// (the planner cannot know that the bound id is not empty); without it every delete
	// scanned the tenant's users. The read above, under the same single writer, said
	// whether there is anything to clear.
	if r.Reports {
		if _, err := c.exec(ctx, `UPDATE users SET manager_id = '' WHERE tenant_id = ? AND manager_id = ? AND manager_id <> ''`, tenantID, id); err != nil {
			return nil, false, fmt.Errorf("clear manager references: %w", err)
		}
	}
	if row.Seat {
		if err := c.takeSeats(ctx, tenantID, -1); err != nil {
			return nil, false, err
		}
	}
	if _, err := c.exec(ctx, c.upsertTombstoneSQL(), tenantID, row.Key, id, micros(time.Now())); err != nil {
		return nil, false, fmt.Errorf("tombstone: %w", err)
	}
	return u, r.LogoutDue, nil
}

var (
	deleteUserSQLOnce sync.Once
	deleteUserSQLs    map[Dialect]string
)

// deleteUserSQL returns DeleteUser's statement of dialect d, built once: assembling its
// two kilobytes of text (and hashing them anew for the statement cache) on every delete
// showed in the single SQLite writer's profile.
func deleteUserSQL(d Dialect) string {
	deleteUserSQLOnce.Do(func() {
		deleteUserSQLs = map[Dialect]string{SQLite: (&conn{d: SQLite}).deleteUserReadSQL(),
			Postgres: (&conn{d: Postgres}).deleteUserOneTripSQL()}
	})
	return deleteUserSQLs[d]
}

// deleteUserReadSQL reads, on SQLite, the user about to be deleted with its details,
// whether a logout is due and whether any user reports to it (the non-empty manager_id
// condition lets the partial index users_tenant_manager answer).
func (c *conn) deleteUserReadSQL() string {
	return `SELECT ` + c.userCols() + c.detailCols(true, true) + logoutDueCol + `,
 EXISTS (SELECT 1 FROM users m WHERE m.tenant_id = u.tenant_id AND m.manager_id = u.id AND m.manager_id <> '') AS has_reports
 FROM users u WHERE u.tenant_id = ? AND u.id = ?`
}

// deleteUserOneTripSQL does on PostgreSQL what DeleteUser does in five or six statements,
// in one (data-modifying CTEs): it returns the user as it was, with its values, groups,
// roles and teams, and whether a logout is due, and deletes it; a deprovisioning run
// spent most of its time in round trips. Every part of a statement reads the same
// snapshot, taken before it, and the rows that reference the user (its sessions too)
// cascade at its end, so the read sees them. Every change depends on the DELETE having
// found the user, so a missing user changes nothing. "id <> ?" keeps a self-managed user
// out of the manager update: one statement must not both update and delete the same row.
func (c *conn) deleteUserOneTripSQL() string {
	return `WITH u AS (DELETE FROM users WHERE tenant_id = ? AND id = ? RETURNING *),
	del_mgr AS (UPDATE users SET manager_id = '' WHERE tenant_id = ? AND manager_id = ? AND manager_id <> '' AND id <> ?
		AND EXISTS (SELECT 1 FROM u)),
	del_seat AS (UPDATE tenants SET seats_used = seats_used - 1 WHERE id = ? AND seats_used - 1 >= 0
		AND EXISTS (SELECT 1 FROM u WHERE seat)),
	del_tomb AS (INSERT INTO tombstones (tenant_id, user_name_key, user_id, deleted_at) SELECT ?, user_name_key, ?, ? FROM u
		ON CONFLICT (tenant_id, user_name_key) DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at)
	SELECT ` + c.userCols() + c.detailCols(true, true) + logoutDueCol + ` FROM u`
}

func (c *conn) deleteUserOneTrip(ctx context.Context, tenantID, id string) (*provisioning.User, bool, error) {
	var r deletedUserRow
	if err := c.get(ctx, &r, deleteUserSQL(Postgres), tenantID, id, tenantID, id, id, tenantID, tenantID, id, micros(time.Now())); err != nil {
		return nil, false, fmt.Errorf("user %s: %w", id, err)
	}
	u, err := r.user()
	if err != nil {
		return nil, false, err
	}
	return u, r.LogoutDue, nil
}

func (c *conn) upsertTombstoneSQL() string {
	return `INSERT INTO tombstones (tenant_id, user_name_key, user_id, deleted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, user_name_key) DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at`
}

// clearTombstone lets a directory bring a deleted user name back explicitly.
func (c *conn) clearTombstone(ctx context.Context, tenantID, userName string) error {
	if _, err := c.exec(ctx, `DELETE FROM tombstones WHERE tenant_id = ? AND user_name_key = ?`, tenantID, provisioning.FoldKey(userName)); err != nil {
		return fmt.Errorf("clear tombstone: %w", err)
	}
	return nil
}

// IsTombstoned reports whether a user of that name was deleted by the directory.
func (c *conn) IsTombstoned(ctx context.Context, tenantID, userName string) (bool, error) {
	var n int
	if err := c.get(ctx, &n, `SELECT COUNT(*) FROM tombstones WHERE tenant_id = ? AND user_name_key = ?`, tenantID, provisioning.FoldKey(userName)); err != nil {
		return false, fmt.Errorf("tombstone: %w", err)
	}
	return n > 0, nil
}

func (c *conn) LockUsers(ctx context.Context, tenantID string, ids []string) ([]provisioning.User, error) {
	// Sorted before chunking: each statement locks in id order, and so must the chunks
	// (the documented lock order), or two large sets in opposite orders deadlock.
	ids = dedupe(ids) // a new slice: sorting it leaves the caller's alone
	slices.Sort(ids)
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

func (c *conn) TouchLastLogin(ctx context.Context, tenantID, userID string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE users SET last_login_at = ? WHERE tenant_id = ? AND id = ?`, micros(at), tenantID, userID); err != nil {
		return fmt.Errorf("touch last login: %w", err)
	}
	return nil
}

func (c *conn) FindUsersByEmail(ctx context.Context, tenantID, emailKey string) ([]provisioning.User, error) {
	emailKey = provisioning.FoldKey(emailKey)
	if !strings.Contains(emailKey, "@") {
		// SCIM stores e-mail values without "@" as the directory sends them; such a value
		// is no address, so it never links a sign-in nor counts as an address in use.
		return nil, nil
	}
	var ids []string
	if err := c.selectx(ctx, &ids, `SELECT u.id FROM users u WHERE u.tenant_id = ? AND (u.email_key = ? OR u.user_name_key = ?
		OR u.id IN (SELECT v.user_id FROM user_values v WHERE v.tenant_id = ? AND v.attr = 'emails' AND v.value_key = ?))
		ORDER BY u.id`, tenantID, emailKey, emailKey, tenantID, emailKey); err != nil {
		return nil, fmt.Errorf("find users by e-mail: %w", err)
	}
	out := make([]provisioning.User, 0, len(ids))
	for _, id := range ids {
		u, err := c.GetUser(ctx, tenantID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}
