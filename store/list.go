package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file is part of the users' query language (with filter.go): cursor and offset paging
// and sorting of ListUsers, shared with ListGroups (groups.go).

// MaxPageSize caps one page whatever the caller asks for.
const MaxPageSize = 1000

// cursor is the opaque position of RFC 9865 cursor pagination: the sort value and id of the
// last row of the previous page.
type cursor struct {
	Sort string `json:"s,omitempty"`
	Num  *int64 `json:"n,omitempty"`
	ID   string `json:"i"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// errBadCursor is returned by list calls given a cursor they did not issue.
var errBadCursor = fmt.Errorf("list: %w", provisioning.ErrBadCursor)

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return c, errBadCursor
	}
	return c, nil
}

// page builds ORDER BY, keyset and LIMIT parts shared by users and groups.
type page struct {
	none bool // the result has at most one row: no ORDER BY
	// missExpr is 1 for a row without a value of the sort column, else 0: the first sort key
	// when missing values go last (provisioning.SortKey.MissingLast).
	missExpr string
	sortExpr string
	sortKind colKind
	desc     bool
	idExpr   string
}

func newPage(cols map[string]column, key provisioning.SortKey, idExpr string) (page, error) {
	p := page{idExpr: idExpr, desc: key.Descending}
	if key.Field == "" || strings.EqualFold(key.Field, "id") {
		return p, nil
	}
	col, ok := cols[strings.ToLower(key.Field)]
	if !ok || col.expr == "" || col.kind == kExists || col.kind == kBool {
		return p, unsupported("cannot sort by %q", key.Field)
	}
	p.sortExpr, p.sortKind = col.expr, col.kind
	if col.kind == kString {
		p.sortExpr = "lower(" + col.expr + ")"
		if key.MissingLast {
			p.missExpr = "CASE WHEN " + col.expr + " = '' THEN 1 ELSE 0 END"
		}
	}
	return p, nil
}

// uniqueUserName reports whether f is a case-insensitive "userName eq" (unique per tenant).
func uniqueUserName(f provisioning.Filter) bool {
	var c provisioning.Compare
	switch x := f.(type) {
	case provisioning.Compare:
		c = x
	case *provisioning.Compare:
		c = *x
	default:
		return false
	}
	_, isString := c.Value.(string)
	return strings.EqualFold(c.Field, "userName") && c.Op == provisioning.OpEq && !c.CaseExact && isString
}

func (p page) orderBy() string {
	if p.none {
		return ""
	}
	dir := " ASC"
	if p.desc {
		dir = " DESC"
	}
	if p.sortExpr == "" {
		return " ORDER BY " + p.idExpr + dir
	}
	if p.missExpr != "" {
		return " ORDER BY " + p.missExpr + dir + ", " + p.sortExpr + dir + ", " + p.idExpr + dir
	}
	return " ORDER BY " + p.sortExpr + dir + ", " + p.idExpr + dir
}

func (p page) keyset(w *where, after string) error {
	c, err := decodeCursor(after)
	if err != nil {
		return err
	}
	cmp := " > ?"
	if p.desc {
		cmp = " < ?"
	}
	if p.sortExpr == "" {
		w.sb.WriteString(" AND " + p.idExpr + cmp)
		w.args = append(w.args, c.ID)
		return nil
	}
	var v any = c.Sort
	if p.sortKind == kTime || p.sortKind == kInt {
		if c.Num == nil {
			return errBadCursor
		}
		v = *c.Num
	}
	if p.missExpr != "" {
		// The cursor's row had no value exactly when its sort value is empty.
		miss := 0
		if c.Sort == "" {
			miss = 1
		}
		w.sb.WriteString(" AND (" + p.missExpr + cmp + " OR (" + p.missExpr + " = ? AND (" + p.sortExpr + cmp +
			" OR (" + p.sortExpr + " = ? AND " + p.idExpr + cmp + "))))")
		w.args = append(w.args, miss, miss, v, v, c.ID)
		return nil
	}
	w.sb.WriteString(" AND (" + p.sortExpr + cmp + " OR (" + p.sortExpr + " = ? AND " + p.idExpr + cmp + "))")
	w.args = append(w.args, v, v, c.ID)
	return nil
}

func clampLimit(n int) int {
	if n > MaxPageSize {
		return MaxPageSize
	}
	if n < 0 {
		return 0
	}
	return n
}

// sortValue is the value of the sort column of a row, for the next cursor.
func userSortValue(p page, u *provisioning.User, field string) cursor {
	c := cursor{ID: u.ID}
	if p.sortExpr == "" {
		return c
	}
	switch strings.ToLower(field) {
	case "meta.created":
		n := u.CreatedAt.UnixMicro()
		c.Num = &n
	case "meta.lastmodified":
		n := u.UpdatedAt.UnixMicro()
		c.Num = &n
	case "meta.version":
		n := u.Version
		c.Num = &n
	case "lastloginat":
		var n int64
		if u.LastLoginAt != nil {
			n = u.LastLoginAt.UnixMicro()
		}
		c.Num = &n
	default:
		c.Sort = userFieldString(u, field)
		if p.sortKind == kString {
			c.Sort = strings.ToLower(c.Sort)
		}
	}
	return c
}

func userFieldString(u *provisioning.User, field string) string {
	switch strings.ToLower(field) {
	case "username":
		return provisioning.FoldKey(u.UserName)
	case "externalid":
		return u.ExternalID
	case "displayname":
		return u.DisplayName
	case "nickname":
		return u.NickName
	case "title":
		return u.Title
	case "usertype":
		return u.UserType
	case "preferredlanguage":
		return u.PreferredLanguage
	case "locale":
		return u.Locale
	case "timezone":
		return u.Timezone
	case "profileurl":
		return u.ProfileURL
	case "businessunit":
		return u.BusinessUnit
	case "name.formatted":
		return u.Name.Formatted
	case "name.givenname":
		return u.Name.GivenName
	case "name.familyname":
		return u.Name.FamilyName
	case "name.middlename":
		return u.Name.MiddleName
	case "name.honorificprefix":
		return u.Name.HonorificPrefix
	case "name.honorificsuffix":
		return u.Name.HonorificSuffix
	case "enterprise.employeenumber":
		return u.Enterprise.EmployeeNumber
	case "enterprise.costcenter":
		return u.Enterprise.CostCenter
	case "enterprise.organization":
		return u.Enterprise.Organization
	case "enterprise.division":
		return u.Enterprise.Division
	case "enterprise.department":
		return u.Enterprise.Department
	case "enterprise.manager":
		return u.Enterprise.ManagerID
	case "status":
		return string(u.Status)
	case "source":
		return string(u.Source)
	}
	return ""
}

// pageReq is what selectPage needs besides the WHERE clause.
type pageReq struct {
	// from is "table alias"; cols may refer to alias only.
	from, alias, cols, what string
	limit, offset           int
	after                   string
	noTotal                 bool // total is not wanted: never COUNT
}

// selectPage runs one page of a list query (offset or keyset) and works out the total: a
// page that is not full ends the result and tells the total without a COUNT, so the
// common "userName eq" lookup costs one query fewer. Limit 0 only counts.
func selectPage[R any](ctx context.Context, c *conn, w *where, p page, r pageReq) (rows []R, total int, more bool, err error) {
	countSQL := `SELECT COUNT(*) FROM ` + r.from + ` WHERE ` + w.sb.String()
	countArgs := append([]any(nil), w.args...)
	count := func() (int, error) {
		var n int
		if err := c.get(ctx, &n, countSQL, countArgs...); err != nil {
			return 0, fmt.Errorf("count %s: %w", r.what, err)
		}
		return n, nil
	}
	limit := clampLimit(r.limit)
	if limit == 0 {
		total, err = count()
		return nil, total, false, err
	}
	if r.after != "" {
		if err := p.keyset(w, r.after); err != nil {
			return nil, 0, false, err
		}
	}
	// The page is cut in an inner query and the per-row sub-queries of r.cols (manager name,
	// multi-valued attributes) run in the outer one: PostgreSQL would otherwise evaluate them
	// for every row an OFFSET skips.
	inner := `SELECT ` + r.alias + `.* FROM ` + r.from + ` WHERE ` + w.sb.String() + p.orderBy() + ` LIMIT ?`
	args := append(w.args, limit+1)
	offset := 0
	if r.after == "" && r.offset > 0 {
		offset = r.offset
		inner += ` OFFSET ?`
		args = append(args, offset)
	}
	sqlText := `SELECT ` + r.cols + ` FROM (` + inner + `) ` + r.alias + p.orderBy()
	if err := c.selectx(ctx, &rows, sqlText, args...); err != nil {
		return nil, 0, false, fmt.Errorf("list %s: %w", r.what, err)
	}
	if more = len(rows) > limit; more {
		rows = rows[:limit]
	}
	if r.after == "" && !more && (len(rows) > 0 || offset == 0) {
		return rows, offset + len(rows), more, nil
	}
	if r.noTotal {
		return rows, 0, more, nil
	}
	total, err = count()
	return rows, total, more, err
}

// searchExpr is the expression of PostgreSQL's trigram index users_search_trgm
// (migration 00020), written as the index is: the searched columns joined by \x01. A
// pattern without \x01 matches it exactly when it matches one of the columns.
const searchExpr = `(u.user_name_key || E'\x01' || u.email_key || E'\x01' || lower(u.display_name)
	|| E'\x01' || lower(u.given_name) || E'\x01' || lower(u.family_name))`

func (c *conn) ListUsers(ctx context.Context, tenantID string, q provisioning.UserQuery) (*provisioning.UserPage, error) {
	w := &where{cols: userColumns, any: userAny, tenant: tenantID}
	w.sb.WriteString("u.tenant_id = ? AND ")
	w.args = append(w.args, tenantID)
	if err := w.build(q.Filter, 0); err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(q.Search); s != "" {
		pat := "%" + likeEscape(strings.ToLower(s)) + "%"
		if c.d == Postgres && !strings.Contains(s, "\x01") {
			w.sb.WriteString(` AND (` + searchExpr + ` LIKE ? ESCAPE '\' OR u.external_id = ?)`)
			w.args = append(w.args, pat, s)
		} else {
			w.sb.WriteString(` AND (u.user_name_key LIKE ? ESCAPE '\' OR u.email_key LIKE ? ESCAPE '\' OR lower(u.display_name) LIKE ? ESCAPE '\'` +
				` OR lower(u.given_name) LIKE ? ESCAPE '\' OR lower(u.family_name) LIKE ? ESCAPE '\' OR u.external_id = ?)`)
			w.args = append(w.args, pat, pat, pat, pat, pat, s)
		}
	}
	p, err := newPage(userColumns, q.Sort, "u.id")
	if err != nil {
		return nil, err
	}
	if uniqueUserName(q.Filter) && q.After == "" {
		// At most one row: an ORDER BY would only tempt PostgreSQL, on stale statistics
		// after a bulk import, into walking the (tenant_id, id) index instead of the
		// unique one.
		p.none = true
	}
	// A lookup that matches at most one user (the directories' `userName eq` before every
	// create) reads its groups, roles and teams in the same statement: on PostgreSQL one
	// round trip instead of up to four. Pages of many users read them in one query each.
	inline := p.none
	cols := c.userCols()
	if inline {
		cols += c.detailCols(q.WithGroups, q.WithAccess)
	}
	out := &provisioning.UserPage{}
	rows, total, more, err := selectPage[userRow](ctx, c, w, p, pageReq{from: "users u", alias: "u", cols: cols, what: "users",
		limit: q.Limit, offset: q.Offset, after: q.After, noTotal: q.NoTotal})
	if err != nil {
		return nil, err
	}
	out.Total = total
	ptrs := make([]*provisioning.User, len(rows))
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, err
		}
		ptrs[i] = u
	}
	if !inline {
		if err := c.loadDetails(ctx, ptrs, q.WithGroups, q.WithAccess); err != nil {
			return nil, err
		}
	}
	out.Users = make([]provisioning.User, len(ptrs))
	for i, u := range ptrs {
		out.Users[i] = *u
	}
	if more && len(ptrs) > 0 {
		out.Next = encodeCursor(userSortValue(p, ptrs[len(ptrs)-1], q.Sort.Field))
	}
	return out, nil
}
