package provisioning

import "time"

// Filter is a neutral query predicate over users or groups. The SCIM door builds it from an
// RFC 7644 filter, the admin API from its query parameters; the store translates it to a
// parameterised SQL WHERE clause (never evaluated row by row in Go). A field the store does
// not know makes it fail with ErrUnsupportedFilter.
type Filter interface{ isFilter() }

// Op is a comparison operator (RFC 7644 §3.4.2.2).
type Op string

// The comparison operators.
const (
	OpEq      Op = "eq"
	OpNe      Op = "ne"
	OpCo      Op = "co"
	OpSw      Op = "sw"
	OpEw      Op = "ew"
	OpGt      Op = "gt"
	OpGe      Op = "ge"
	OpLt      Op = "lt"
	OpLe      Op = "le"
	OpPresent Op = "pr"
)

// And is true when both sides are.
type And struct{ Left, Right Filter }

// AllOf joins filters with And, in order; nil when there are none (no filter).
func AllOf(fs ...Filter) Filter {
	var out Filter
	for _, f := range fs {
		if out == nil {
			out = f
		} else {
			out = And{Left: out, Right: f}
		}
	}
	return out
}

// Or is true when either side is.
type Or struct{ Left, Right Filter }

// Not negates its operand.
type Not struct{ Inner Filter }

// Compare compares a field with a value.
//
// Field is a canonical attribute path: for users "id", "externalId", "userName",
// "displayName", "nickName", "title", "userType", "preferredLanguage", "locale",
// "timezone", "profileUrl", "active", "name.givenName" (and the other name parts),
// "enterprise.employeeNumber" (and the other enterprise attributes), "enterprise.manager",
// "meta.created", "meta.lastModified", "meta.version", and the admin fields "status",
// "source", "seat", "role", "team", "managedByIdp"; for groups "id", "externalId",
// "displayName", "meta.created", "meta.lastModified". Inside Any, Field names a
// sub-attribute: "value", "type", "display", "primary".
//
// Value is a string, bool, float64, int64, time.Time or nil (only with OpPresent).
// CaseExact false makes string comparisons case-insensitive.
type Compare struct {
	Field     string
	Op        Op
	Value     any
	CaseExact bool
}

// Any is true when at least one element of a multi-valued attribute matches Where.
// Collection is "emails", "phoneNumbers", "ims", "photos", "entitlements", "roles",
// "x509Certificates" or "groups" for users and "members" for groups (addresses are kept
// as one document per user and are not filterable). A nil Where with
// Any means the collection is not empty (the SCIM "pr" on a multi-valued attribute).
type Any struct {
	Collection string
	Where      Filter
}

func (And) isFilter()     {}
func (Or) isFilter()      {}
func (Not) isFilter()     {}
func (Compare) isFilter() {}
func (Any) isFilter()     {}

// SortKey names a field to sort by (same vocabulary as Compare.Field, top level only).
type SortKey struct {
	Field      string
	Descending bool
	// MissingLast orders rows without a value (an empty string) after the others when
	// ascending and before them when descending, as RFC 7644 §3.4.2.3 prescribes for SCIM.
	// Without it they sort as the empty string, which an index on the column can serve
	// (the admin overview's sort by display name).
	MissingLast bool
}

// UserQuery selects a page of users.
type UserQuery struct {
	Filter Filter
	// Search matches a substring of userName, display name, name parts or e-mail
	// (the admin overview's search box).
	Search string
	Sort   SortKey
	// Offset is 0-based; Limit 0 returns only the total.
	Offset int
	Limit  int
	// After is an opaque cursor (RFC 9865); when set, Offset is ignored.
	After string
	// WithGroups fills User.Groups; WithAccess fills Roles and Teams.
	WithGroups bool
	WithAccess bool
	// NoTotal skips counting the matches (Total is then not set): for the later chunks
	// of a page read in several.
	NoTotal bool
}

// UserPage is one page of users.
type UserPage struct {
	Users []User
	Total int
	// Next is the cursor of the following page, empty on the last one.
	Next string
}

// GroupQuery selects a page of groups.
type GroupQuery struct {
	Filter Filter
	Sort   SortKey
	Offset int
	Limit  int
	After  string
	// WithMembers loads members; leave it false for excludedAttributes=members.
	WithMembers bool
	// NoTotal skips counting the matches, as in UserQuery.
	NoTotal bool
}

// GroupPage is one page of groups.
type GroupPage struct {
	Groups []Group
	Total  int
	Next   string
}

// AuditQuery selects audit events; zero fields do not filter.
type AuditQuery struct {
	ActorID    string
	Action     string
	TargetKind string
	TargetID   string
	Since      time.Time
	Until      time.Time
	// BeforeID pages backwards: events with a smaller id (newest first).
	BeforeID int64
	Limit    int
}

// LoginQuery selects login events; zero fields do not filter.
type LoginQuery struct {
	UserID   string
	Result   string
	Since    time.Time
	BeforeID int64
	Limit    int
}
