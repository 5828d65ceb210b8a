package provisioning

import (
	"strings"
	"time"
)

// Tenant is an organisation (account) of the platform. Every other object belongs to one.
type Tenant struct {
	ID        string    `json:"id" db:"id"`
	Slug      string    `json:"slug" db:"slug"`
	Name      string    `json:"name" db:"name"`
	SeatLimit int       `json:"seatLimit" db:"seat_limit"`
	SeatsUsed int       `json:"seatsUsed" db:"seats_used"`
	Policy    Policy    `json:"policy" db:"-"`
	CreatedAt time.Time `json:"createdAt" db:"created_at"`
	UpdatedAt time.Time `json:"updatedAt" db:"updated_at"`
}

// SeatsFree is how many seats can still be assigned.
func (t *Tenant) SeatsFree() int {
	if free := t.SeatLimit - t.SeatsUsed; free > 0 {
		return free
	}
	return 0
}

// Policy is a tenant's user policy.
type Policy struct {
	// InvitationTTL is how long an invitation token stays valid (default 7 days).
	InvitationTTL Duration `json:"invitationTTL"`
	// AllowedDomains, when not empty, is the only e-mail domains users may have.
	AllowedDomains []string `json:"allowedDomains,omitempty"`
	// BlockedDomains are refused for new users and invitations.
	BlockedDomains []string `json:"blockedDomains,omitempty"`
	// BlockFreeMail refuses well-known free-mail providers (gmail.com, outlook.com, …).
	BlockFreeMail bool `json:"blockFreeMail,omitempty"`
	// DefaultRole is the role name given to newly seated users without another role.
	DefaultRole string `json:"defaultRole,omitempty"`
	// AllowPasswordLogin lets users of this tenant sign in with a local password even
	// though the tenant has an SSO connection. A tenant without an enabled SSO connection
	// always signs in with passwords (PasswordLoginAllowed): otherwise nobody could.
	AllowPasswordLogin bool `json:"allowPasswordLogin,omitempty"`
	// RequireTwoFactor makes password sign-in ask for a second factor (TOTP); users who
	// have none enrol at their next sign-in.
	RequireTwoFactor bool `json:"requireTwoFactor,omitempty"`
	// AppURL is the platform app a browser lands on after sign-in when no return address
	// was given; without it the user's own account page.
	AppURL string `json:"appUrl,omitempty"`
}

// PasswordLoginAllowed reports whether local passwords sign in: when the policy says so,
// or when the tenant has no enabled SSO connection (then passwords are the only way in).
func (t *Tenant) PasswordLoginAllowed(conns []Connection) bool {
	if t.Policy.AllowPasswordLogin {
		return true
	}
	for _, c := range conns {
		if !c.Disabled {
			return false
		}
	}
	return true
}

// DefaultInvitationTTL applies when a tenant sets none.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// UserStatus is the lifecycle state of a user.
type UserStatus string

// The user states.
const (
	StatusInvited     UserStatus = "invited"
	StatusActive      UserStatus = "active"
	StatusDeactivated UserStatus = "deactivated"
)

// Source says which door created a user.
type Source string

// The user sources.
const (
	SourceAdmin  Source = "admin"
	SourceInvite Source = "invite"
	SourceCSV    Source = "csv"
	SourceJIT    Source = "jit"
	SourceSCIM   Source = "scim"
)

// Name holds the components of a user's name (RFC 7643 §4.1.1).
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// MultiValue is one element of a simple multi-valued attribute (emails, phoneNumbers, ims,
// photos, entitlements, roles, x509Certificates).
type MultiValue struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is one postal address (RFC 7643 §4.1.2).
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
}

// Enterprise holds the attributes of the SCIM enterprise user extension (RFC 7643 §4.3).
type Enterprise struct {
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	CostCenter     string `json:"costCenter,omitempty"`
	Organization   string `json:"organization,omitempty"`
	Division       string `json:"division,omitempty"`
	Department     string `json:"department,omitempty"`
	// ManagerID is the id of a user of the same tenant when ManagerIsUser, otherwise the
	// value the directory sent, kept as given (the engine resolves what it can, see
	// resolveManager). ManagerDisplayName and ManagerIsUser are filled by the store on read.
	ManagerID          string `json:"managerId,omitempty"`
	ManagerDisplayName string `json:"managerDisplayName,omitempty"`
	ManagerIsUser      bool   `json:"managerIsUser,omitempty"`
}

// IsZero reports whether no enterprise attribute is set.
func (e Enterprise) IsZero() bool { return e == Enterprise{} }

// GroupRef is a group a user is a member of (read-only on the user).
type GroupRef struct {
	ID          string `json:"id" db:"id"`
	DisplayName string `json:"display" db:"display"`
}

// User is a platform user of a tenant. A user may exist without a seat: that is an imported
// platform user waiting for an admin.
type User struct {
	ID                string       `json:"id"`
	TenantID          string       `json:"tenantId"`
	UserName          string       `json:"userName"`
	ExternalID        string       `json:"externalId,omitempty"`
	Name              Name         `json:"name"`
	DisplayName       string       `json:"displayName,omitempty"`
	NickName          string       `json:"nickName,omitempty"`
	ProfileURL        string       `json:"profileUrl,omitempty"`
	Title             string       `json:"title,omitempty"`
	UserType          string       `json:"userType,omitempty"`
	PreferredLanguage string       `json:"preferredLanguage,omitempty"`
	Locale            string       `json:"locale,omitempty"`
	Timezone          string       `json:"timezone,omitempty"`
	BusinessUnit      string       `json:"businessUnit,omitempty"`
	Emails            []MultiValue `json:"emails,omitempty"`
	PhoneNumbers      []MultiValue `json:"phoneNumbers,omitempty"`
	IMs               []MultiValue `json:"ims,omitempty"`
	Photos            []MultiValue `json:"photos,omitempty"`
	Entitlements      []MultiValue `json:"entitlements,omitempty"`
	SCIMRoles         []MultiValue `json:"scimRoles,omitempty"`
	X509Certificates  []MultiValue `json:"x509Certificates,omitempty"`
	Addresses         []Address    `json:"addresses,omitempty"`
	Enterprise        Enterprise   `json:"enterprise"`

	Status       UserStatus `json:"status"`
	Source       Source     `json:"source"`
	ManagedByIdP bool       `json:"managedByIdp"`
	// Seat is true while the user holds one of the tenant's seats.
	Seat bool `json:"seat"`
	// PasswordHash is an encoded argon2id hash; empty when the user has no local password.
	PasswordHash string `json:"-"`

	Version     int64      `json:"version"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	LastLoginAt *time.Time `json:"lastLoginAt,omitempty"`

	// Groups and Roles are read-only views filled by the store on read.
	Groups []GroupRef `json:"groups,omitempty"`
	Roles  []string   `json:"roles,omitempty"`
	Teams  []string   `json:"teams,omitempty"`
}

// Active reports whether the user may sign in as far as the lifecycle is concerned.
func (u *User) Active() bool { return u.Status != StatusDeactivated }

// PrimaryEmail returns the primary e-mail, else the first one, else "".
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// FoldKey is the case-insensitive comparison key of userName, e-mail and group names. The
// database enforces uniqueness on it, so it is computed here once (Unicode-aware, unlike
// SQLite's ASCII-only lower()).
func FoldKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Group is a group pushed by a directory over SCIM (or created by an admin).
type Group struct {
	ID          string        `json:"id"`
	TenantID    string        `json:"tenantId"`
	DisplayName string        `json:"displayName"`
	ExternalID  string        `json:"externalId,omitempty"`
	Members     []GroupMember `json:"members,omitempty"`
	Version     int64         `json:"version"`
	CreatedAt   time.Time     `json:"createdAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
}

// GroupMember is one member of a group (users only).
type GroupMember struct {
	UserID  string `json:"value"`
	Display string `json:"display,omitempty"`
}

// GroupOpKind is one kind of change within a group patch.
type GroupOpKind string

// The group patch operations, applied in order in one transaction.
const (
	GroupSetDisplayName  GroupOpKind = "set_display_name"
	GroupSetExternalID   GroupOpKind = "set_external_id"
	GroupAddMembers      GroupOpKind = "add_members"
	GroupRemoveMembers   GroupOpKind = "remove_members"
	GroupReplaceMembers  GroupOpKind = "replace_members"
	GroupRemoveAllMember GroupOpKind = "remove_all_members"
)

// GroupOp is one step of a group patch. Membership changes are deltas so that a PATCH of
// 50 members never loads a group of 100,000.
type GroupOp struct {
	Kind    GroupOpKind
	Value   string   // for set_display_name / set_external_id
	Members []string // user ids for add / remove / replace
}

// Permission names an ability granted by roles.
type Permission string

// The built-in permissions.
const (
	PermViewAllTickets Permission = "view_all_tickets"
	PermDeleteTickets  Permission = "delete_tickets"
	PermExportData     Permission = "export_data"
	PermManageMacros   Permission = "manage_macros"
	PermViewAnalytics  Permission = "view_analytics"
	PermManageUsers    Permission = "manage_users"
	PermManageSettings Permission = "manage_settings"
	PermManageBilling  Permission = "manage_billing"
	PermWorkTickets    Permission = "work_tickets"
	PermUseMacros      Permission = "use_macros"
)

// AllPermissions lists every permission known to the engine.
var AllPermissions = []Permission{
	PermViewAllTickets, PermDeleteTickets, PermExportData, PermManageMacros, PermViewAnalytics,
	PermManageUsers, PermManageSettings, PermManageBilling, PermWorkTickets, PermUseMacros,
}

// Role is a named set of permissions. Built-in roles exist in every tenant.
type Role struct {
	ID          string       `json:"id"`
	TenantID    string       `json:"tenantId"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	BuiltIn     bool         `json:"builtIn"`
	Permissions []Permission `json:"permissions"`
	CreatedAt   time.Time    `json:"createdAt"`
}

// The built-in role names.
const (
	RoleAdmin      = "Admin"
	RoleSupervisor = "Supervisor"
	RoleAgent      = "Agent"
	RoleViewer     = "Viewer"
)

// BuiltInRoles returns the roles every new tenant starts with.
func BuiltInRoles() []Role {
	return []Role{
		{Name: RoleAdmin, BuiltIn: true, Description: "Full access to all settings", Permissions: append([]Permission(nil), AllPermissions...)},
		{Name: RoleSupervisor, BuiltIn: true, Description: "Works and oversees all tickets, reads analytics",
			Permissions: []Permission{PermWorkTickets, PermViewAllTickets, PermUseMacros, PermManageMacros, PermViewAnalytics, PermExportData}},
		{Name: RoleAgent, BuiltIn: true, Description: "Works assigned tickets, limited settings",
			Permissions: []Permission{PermWorkTickets, PermUseMacros}},
		{Name: RoleViewer, BuiltIn: true, Description: "Read-only access", Permissions: []Permission{PermViewAllTickets}},
	}
}

// Team is a named group of users for routing and reporting.
type Team struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenantId"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	MemberCount int       `json:"memberCount"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// TokenKind says which door an API token opens.
type TokenKind string

// The token kinds.
const (
	TokenSCIM  TokenKind = "scim"
	TokenAdmin TokenKind = "admin"
)

// APIToken is a bearer token of a tenant. Only a hash of its secret is stored.
type APIToken struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenantId"`
	Kind       TokenKind  `json:"kind"`
	Name       string     `json:"name"`
	SecretHash []byte     `json:"-"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// ActorKind says who caused a change.
type ActorKind string

// The actor kinds.
const (
	ActorAdminToken ActorKind = "admin_token"
	ActorSCIMToken  ActorKind = "scim_token"
	ActorUser       ActorKind = "user"
	ActorSSO        ActorKind = "sso"
	ActorSystem     ActorKind = "system"
	ActorCLI        ActorKind = "cli"
)

// Actor identifies who performs an operation; it is recorded on every audit event.
type Actor struct {
	Kind      ActorKind
	ID        string
	Name      string
	IP        string
	RequestID string
}

// AuditEvent records one change: who, what, on which object, before / after, when, whence.
type AuditEvent struct {
	ID         int64     `json:"id"`
	TenantID   string    `json:"tenantId"`
	At         time.Time `json:"at"`
	ActorKind  ActorKind `json:"actorKind"`
	ActorID    string    `json:"actorId,omitempty"`
	ActorName  string    `json:"actorName,omitempty"`
	Action     string    `json:"action"`
	TargetKind string    `json:"targetKind"`
	TargetID   string    `json:"targetId"`
	Before     []byte    `json:"before,omitempty"`
	After      []byte    `json:"after,omitempty"`
	IP         string    `json:"ip,omitempty"`
	RequestID  string    `json:"requestId,omitempty"`
}

// LoginEvent records one sign-in attempt.
type LoginEvent struct {
	ID           int64     `json:"id" db:"id"`
	TenantID     string    `json:"tenantId" db:"tenant_id"`
	UserID       string    `json:"userId,omitempty" db:"user_id"`
	ConnectionID string    `json:"connectionId,omitempty" db:"connection_id"`
	Method       string    `json:"method" db:"method"`
	Result       string    `json:"result" db:"result"`
	Reason       string    `json:"reason,omitempty" db:"reason"`
	Subject      string    `json:"subject,omitempty" db:"subject"`
	IP           string    `json:"ip,omitempty" db:"ip"`
	UserAgent    string    `json:"userAgent,omitempty" db:"user_agent"`
	At           time.Time `json:"at" db:"-"`
}
