package provisioning

import (
	"context"
	"time"
)

// Store is the persistence the engine consumes. store.DB implements it on SQLite and
// PostgreSQL; store/storetest proves both behave the same.
type Store interface {
	Reader
	// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
	// Every mutation and its audit event go through one InTx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Reader is the read side, available both outside and inside a transaction.
type Reader interface {
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	GetTenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	GetToken(ctx context.Context, id string) (*APIToken, error)
	// GetTokenTenant returns a token with its tenant in one round trip (every API request
	// authenticates).
	GetTokenTenant(ctx context.Context, id string) (*APIToken, *Tenant, error)
	ListTokens(ctx context.Context, tenantID string) ([]APIToken, error)

	GetUser(ctx context.Context, tenantID, id string) (*User, error)
	GetUserByUserName(ctx context.Context, tenantID, userName string) (*User, error)
	ListUsers(ctx context.Context, tenantID string, q UserQuery) (*UserPage, error)

	GetGroup(ctx context.Context, tenantID, id string, withMembers bool) (*Group, error)
	ListGroups(ctx context.Context, tenantID string, q GroupQuery) (*GroupPage, error)
	// UserGroups lists the groups a user is a direct member of.
	UserGroups(ctx context.Context, tenantID, userID string) ([]GroupRef, error)

	ListRoles(ctx context.Context, tenantID string) ([]Role, error)

	ListAudit(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error)
	ListLogins(ctx context.Context, tenantID string, q LoginQuery) ([]LoginEvent, error)
}

// Tx is one database transaction. Methods that change a versioned object bump its version.
type Tx interface {
	Reader

	CreateTenant(ctx context.Context, t *Tenant) error
	UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) (*Tenant, error)

	CreateToken(ctx context.Context, t *APIToken) error
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error

	// CreateUser inserts u (ID, CreatedAt, UpdatedAt and Version set by the caller). A taken
	// userName gives a *ConflictError; u.Seat true takes a seat or fails with
	// *SeatLimitError.
	CreateUser(ctx context.Context, tenantID string, u *User) error
	// UpdateUser loads the user, applies fn and writes it back with version+1. When the seat
	// flag changes the tenant's seat count follows atomically (never above the limit). The
	// user given to fn carries its multi-valued attributes but not Groups, Roles or Teams:
	// those are separate relations that UpdateUser does not write.
	UpdateUser(ctx context.Context, tenantID, id string, fn func(*User) error) (*User, error)
	// DeleteUser removes the user, its memberships and frees its seat.
	DeleteUser(ctx context.Context, tenantID, id string) error

	CreateGroup(ctx context.Context, tenantID string, g *Group) error
	// UpdateGroup changes displayName / externalId through fn (members are ignored there).
	UpdateGroup(ctx context.Context, tenantID, id string, fn func(*Group) error) (*Group, error)
	// ApplyGroupOps applies the membership deltas and attribute changes in order and bumps
	// the version once. Unknown user ids give a *ValidationError.
	ApplyGroupOps(ctx context.Context, tenantID, id string, ops []GroupOp, now time.Time) (*Group, error)
	DeleteGroup(ctx context.Context, tenantID, id string) error

	CreateRole(ctx context.Context, tenantID string, r *Role) error
	SetUserRoles(ctx context.Context, tenantID, userID string, roleIDs []string) error

	// EndUserSessions ends every open Seatbridge session of the user (deactivation, seat
	// removal, deletion).
	EndUserSessions(ctx context.Context, tenantID, userID string, at time.Time) error

	AppendAudit(ctx context.Context, e *AuditEvent) error
	AppendLogin(ctx context.Context, e *LoginEvent) error
}
