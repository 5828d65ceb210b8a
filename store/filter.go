package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file is part of the users' query language (with list.go): SCIM filters compiled to
// SQL for ListUsers, and for ListGroups (groups.go).

// colKind says how a column compares.
type colKind int

const (
	kString colKind = iota
	// kFolded columns already hold provisioning.FoldKey of the value: compared against the
	// folded operand, so case-insensitive equality uses the unique index.
	kFolded
	kTime
	kInt
	kBool
	kActive
	kExists // a sub-query match (role / team by name)
)

type column struct {
	expr string
	kind colKind
	// exact is the case-sensitive column for a kFolded one.
	exact string
	sub   string // for kExists: sub-query with one ? for the folded name
}

var userColumns = map[string]column{
	"id":                        {expr: "u.id", kind: kString},
	"externalid":                {expr: "u.external_id", kind: kString},
	"username":                  {expr: "u.user_name_key", kind: kFolded, exact: "u.user_name"},
	"displayname":               {expr: "u.display_name", kind: kString},
	"nickname":                  {expr: "u.nick_name", kind: kString},
	"title":                     {expr: "u.title", kind: kString},
	"usertype":                  {expr: "u.user_type", kind: kString},
	"preferredlanguage":         {expr: "u.preferred_language", kind: kString},
	"locale":                    {expr: "u.locale", kind: kString},
	"timezone":                  {expr: "u.timezone", kind: kString},
	"profileurl":                {expr: "u.profile_url", kind: kString},
	"businessunit":              {expr: "u.business_unit", kind: kString},
	"active":                    {kind: kActive},
	"name.formatted":            {expr: "u.name_formatted", kind: kString},
	"name.givenname":            {expr: "u.given_name", kind: kString},
	"name.familyname":           {expr: "u.family_name", kind: kString},
	"name.middlename":           {expr: "u.middle_name", kind: kString},
	"name.honorificprefix":      {expr: "u.honorific_prefix", kind: kString},
	"name.honorificsuffix":      {expr: "u.honorific_suffix", kind: kString},
	"enterprise.employeenumber": {expr: "u.employee_number", kind: kString},
	"enterprise.costcenter":     {expr: "u.cost_center", kind: kString},
	"enterprise.organization":   {expr: "u.organization", kind: kString},
	"enterprise.division":       {expr: "u.division", kind: kString},
	"enterprise.department":     {expr: "u.department", kind: kString},
	"enterprise.manager":        {expr: "u.manager_id", kind: kString},
	"meta.created":              {expr: "u.created_at", kind: kTime},
	"meta.lastmodified":         {expr: "u.updated_at", kind: kTime},
	"meta.version":              {expr: "u.version", kind: kInt},
	"lastloginat":               {expr: "COALESCE(u.last_login_at, 0)", kind: kTime}, // never = oldest on both dialects
	"status":                    {expr: "u.status", kind: kString},
	"source":                    {expr: "u.source", kind: kString},
	"seat":                      {expr: "u.seat", kind: kBool},
	"managedbyidp":              {expr: "u.managed_by_idp", kind: kBool},
	"role": {kind: kExists, sub: `u.id IN (SELECT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		WHERE ur.tenant_id = ? AND r.name_key = ?)`},
	"team": {kind: kExists, sub: `u.id IN (SELECT tm.user_id FROM team_members tm JOIN teams t ON t.id = tm.team_id
		WHERE tm.tenant_id = ? AND t.name_key = ?)`},
}

var groupColumns = map[string]column{
	"id":                {expr: "g.id", kind: kString},
	"externalid":        {expr: "g.external_id", kind: kString},
	"displayname":       {expr: "g.display_name_key", kind: kFolded, exact: "g.display_name"},
	"meta.created":      {expr: "g.created_at", kind: kTime},
	"meta.lastmodified": {expr: "g.updated_at", kind: kTime},
	"meta.version":      {expr: "g.version", kind: kInt},
}

// valueColumns are the sub-attributes of a user_values row (alias v).
var valueColumns = map[string]column{
	"value":   {expr: "v.value_key", kind: kFolded, exact: "v.value"},
	"display": {expr: "v.display", kind: kString},
	"type":    {expr: "v.type", kind: kString},
	"primary": {expr: "v.is_primary", kind: kBool},
}

// memberColumns are the sub-attributes of a group member (alias m, user mu).
var memberColumns = map[string]column{
	"value":   {expr: "m.user_id", kind: kString},
	"display": {expr: "mu.display_name", kind: kString},
	"type":    {expr: "'User'", kind: kString},
}

// userGroupColumns are the sub-attributes of a user's groups (alias ug, group gg).
var userGroupColumns = map[string]column{
	"value":   {expr: "ug.group_id", kind: kString},
	"display": {expr: "gg.display_name", kind: kString},
}

var userCollections = map[string]string{
	"emails": "emails", "phonenumbers": "phoneNumbers", "ims": "ims", "photos": "photos",
	"entitlements": "entitlements", "roles": "roles", "x509certificates": "x509Certificates",
}

// where translates a neutral filter into a WHERE fragment with '?' placeholders. Every
// value becomes a bound argument; only identifiers from the tables above enter the SQL.
type where struct {
	// tenant scopes the uncorrelated sub-queries, which SQLite then runs once through an
	// index instead of once per row.
	tenant string
	sb     strings.Builder
	args   []any
	cols   map[string]column
	// any translates a collection match for this resource.
	any func(w *where, a provisioning.Any) error
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", provisioning.ErrUnsupportedFilter, fmt.Sprintf(format, args...))
}

const maxFilterDepth = 64

func (w *where) build(f provisioning.Filter, depth int) error {
	if depth > maxFilterDepth {
		return unsupported("filter nests deeper than %d levels", maxFilterDepth)
	}
	switch f := f.(type) {
	case provisioning.And:
		return w.binary("AND", f.Left, f.Right, depth)
	case *provisioning.And:
		return w.binary("AND", f.Left, f.Right, depth)
	case provisioning.Or:
		return w.binary("OR", f.Left, f.Right, depth)
	case *provisioning.Or:
		return w.binary("OR", f.Left, f.Right, depth)
	case provisioning.Not:
		return w.not(f.Inner, depth)
	case *provisioning.Not:
		return w.not(f.Inner, depth)
	case provisioning.Compare:
		return w.compare(f)
	case *provisioning.Compare:
		return w.compare(*f)
	case provisioning.Any:
		if w.any == nil {
			return unsupported("multi-valued attribute %q cannot be filtered here", f.Collection)
		}
		return w.any(w, f)
	case *provisioning.Any:
		if w.any == nil {
			return unsupported("multi-valued attribute %q cannot be filtered here", f.Collection)
		}
		return w.any(w, *f)
	case nil:
		w.sb.WriteString("1=1")
		return nil
	default:
		return unsupported("filter node %T", f)
	}
}

func (w *where) binary(op string, l, r provisioning.Filter, depth int) error {
	w.sb.WriteString("(")
	if err := w.build(l, depth+1); err != nil {
		return err
	}
	w.sb.WriteString(" " + op + " ")
	if err := w.build(r, depth+1); err != nil {
		return err
	}
	w.sb.WriteString(")")
	return nil
}

func (w *where) not(inner provisioning.Filter, depth int) error {
	w.sb.WriteString("NOT (")
	if err := w.build(inner, depth+1); err != nil {
		return err
	}
	w.sb.WriteString(")")
	return nil
}

// likeEscape escapes LIKE wildcards; the pattern is used with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (w *where) compare(f provisioning.Compare) error {
	col, ok := w.cols[strings.ToLower(f.Field)]
	if !ok {
		return unsupported("attribute %q is not filterable", f.Field)
	}
	switch col.kind {
	case kActive:
		return w.compareActive(f)
	case kExists:
		s, ok := f.Value.(string)
		if f.Op != provisioning.OpEq || !ok {
			return unsupported("%s supports only eq with a string", f.Field)
		}
		w.sb.WriteString(col.sub)
		w.args = append(w.args, w.tenant, provisioning.FoldKey(s))
		return nil
	case kBool:
		return w.compareBool(col.expr, f)
	case kTime, kInt:
		return w.compareOrdered(col, f)
	}
	// Strings.
	expr := col.expr
	if f.Op == provisioning.OpPresent {
		w.sb.WriteString("(" + expr + " <> '')")
		return nil
	}
	s, ok := f.Value.(string)
	if !ok {
		if f.Value == nil && (f.Op == provisioning.OpEq || f.Op == provisioning.OpNe) {
			// "attr eq null" asks for absence (RFC 7644 §3.4.2.2 treats null as unassigned).
			if f.Op == provisioning.OpEq {
				w.sb.WriteString("(" + expr + " = '')")
			} else {
				w.sb.WriteString("(" + expr + " <> '')")
			}
			return nil
		}
		return unsupported("attribute %q compares with a string, got %T", f.Field, f.Value)
	}
	switch {
	case col.kind == kFolded && f.CaseExact:
		expr = col.exact
	case col.kind == kFolded:
		s = provisioning.FoldKey(s)
	case !f.CaseExact:
		expr = "lower(" + expr + ")"
		s = strings.ToLower(s)
	}
	switch f.Op {
	case provisioning.OpEq:
		w.sb.WriteString(expr + " = ?")
	case provisioning.OpNe:
		w.sb.WriteString(expr + " <> ?")
	case provisioning.OpGt:
		w.sb.WriteString(expr + " > ?")
	case provisioning.OpGe:
		w.sb.WriteString(expr + " >= ?")
	case provisioning.OpLt:
		w.sb.WriteString(expr + " < ?")
	case provisioning.OpLe:
		w.sb.WriteString(expr + " <= ?")
	case provisioning.OpCo:
		w.sb.WriteString(expr + ` LIKE ? ESCAPE '\'`)
		s = "%" + likeEscape(s) + "%"
	case provisioning.OpSw:
		w.sb.WriteString(expr + ` LIKE ? ESCAPE '\'`)
		s = likeEscape(s) + "%"
	case provisioning.OpEw:
		w.sb.WriteString(expr + ` LIKE ? ESCAPE '\'`)
		s = "%" + likeEscape(s)
	default:
		return unsupported("operator %q", f.Op)
	}
	w.args = append(w.args, s)
	return nil
}

func (w *where) compareActive(f provisioning.Compare) error {
	if f.Op == provisioning.OpPresent {
		w.sb.WriteString("1=1")
		return nil
	}
	b, ok := f.Value.(bool)
	if !ok || (f.Op != provisioning.OpEq && f.Op != provisioning.OpNe) {
		return unsupported("active supports eq and ne with true or false")
	}
	if f.Op == provisioning.OpNe {
		b = !b
	}
	if b {
		w.sb.WriteString("u.status <> 'deactivated'")
	} else {
		w.sb.WriteString("u.status = 'deactivated'")
	}
	return nil
}

func (w *where) compareBool(expr string, f provisioning.Compare) error {
	if f.Op == provisioning.OpPresent {
		w.sb.WriteString("1=1")
		return nil
	}
	b, ok := f.Value.(bool)
	if !ok || (f.Op != provisioning.OpEq && f.Op != provisioning.OpNe) {
		return unsupported("%s supports eq and ne with true or false", f.Field)
	}
	if f.Op == provisioning.OpNe {
		b = !b
	}
	w.sb.WriteString(expr + " = ?")
	w.args = append(w.args, b)
	return nil
}

func (w *where) compareOrdered(col column, f provisioning.Compare) error {
	if f.Op == provisioning.OpPresent {
		w.sb.WriteString("1=1")
		return nil
	}
	var v int64
	switch x := f.Value.(type) {
	case time.Time:
		if col.kind != kTime {
			return unsupported("%s is not a date", f.Field)
		}
		v = x.UnixMicro()
	case string:
		if col.kind != kTime {
			return unsupported("%s is not a string", f.Field)
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return unsupported("%s needs an RFC 3339 date-time, got %q", f.Field, x)
		}
		v = t.UnixMicro()
	case int64:
		v = x
	case int:
		v = int64(x)
	case float64:
		v = int64(x)
	default:
		return unsupported("%s cannot compare with %T", f.Field, f.Value)
	}
	ops := map[provisioning.Op]string{provisioning.OpEq: "=", provisioning.OpNe: "<>", provisioning.OpGt: ">",
		provisioning.OpGe: ">=", provisioning.OpLt: "<", provisioning.OpLe: "<="}
	op, ok := ops[f.Op]
	if !ok {
		return unsupported("operator %q on %s", f.Op, f.Field)
	}
	w.sb.WriteString(col.expr + " " + op + " ?")
	w.args = append(w.args, v)
	return nil
}

// subWhere translates the inner filter of a collection match with another column set.
func (w *where) sub(cols map[string]column, inner provisioning.Filter) error {
	saved, savedAny := w.cols, w.any
	w.cols, w.any = cols, nil
	defer func() { w.cols, w.any = saved, savedAny }()
	return w.build(inner, 1)
}

func userAny(w *where, a provisioning.Any) error {
	key := strings.ToLower(a.Collection)
	if key == "groups" {
		w.sb.WriteString("u.id IN (SELECT ug.user_id FROM group_members ug JOIN groups gg ON gg.id = ug.group_id WHERE ug.tenant_id = ?")
		w.args = append(w.args, w.tenant)
		if a.Where != nil {
			w.sb.WriteString(" AND ")
			if err := w.sub(userGroupColumns, a.Where); err != nil {
				return err
			}
		}
		w.sb.WriteString(")")
		return nil
	}
	attr, ok := userCollections[key]
	if !ok {
		return unsupported("multi-valued attribute %q is not filterable", a.Collection)
	}
	w.sb.WriteString("u.id IN (SELECT v.user_id FROM user_values v WHERE v.tenant_id = ? AND v.attr = ?")
	w.args = append(w.args, w.tenant, attr)
	if a.Where != nil {
		w.sb.WriteString(" AND ")
		if err := w.sub(valueColumns, a.Where); err != nil {
			return err
		}
	}
	w.sb.WriteString(")")
	return nil
}

func groupAny(w *where, a provisioning.Any) error {
	if strings.ToLower(a.Collection) != "members" {
		return unsupported("multi-valued attribute %q is not filterable", a.Collection)
	}
	w.sb.WriteString("g.id IN (SELECT m.group_id FROM group_members m JOIN users mu ON mu.id = m.user_id WHERE m.tenant_id = ?")
	w.args = append(w.args, w.tenant)
	if a.Where != nil {
		w.sb.WriteString(" AND ")
		if err := w.sub(memberColumns, a.Where); err != nil {
			return err
		}
	}
	w.sb.WriteString(")")
	return nil
}
