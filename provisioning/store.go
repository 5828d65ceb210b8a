package provisioning

import (
	"context"
	"time"
)

// The store contract: the one Store / Reader / Tx the engine consumes, grouped by noun.
// Each section heading names the store/ file that implements it; docs/architecture.md
// names the engine file of each noun.
// store.DB implements Store on SQLite and PostgreSQL (its transaction implements Tx);
// store/storetest proves both dialects behave the same.

// Store is the persistence the engine consumes: the read side, transactions, and the
// work that runs outside a caller's transaction (claims by workers, single-use state).
type Store interface {
	Reader
	// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
	// Every mutation and its audit event go through one InTx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error

	// --- SSO protocol state, OAuth clients and signing keys: store/ssostate.go ---

	PutState(ctx context.Context, s *AuthState) error
	// TakeState deletes and returns a state atomically (single use): ErrNotFound when it
	// does not exist, was already taken or has expired.
	TakeState(ctx context.Context, kind, key string, now time.Time) (*AuthState, error)
	// GetState returns an unexpired state without consuming it.
	GetState(ctx context.Context, kind, key string, now time.Time) (*AuthState, error)
	// DeleteSessionStates removes the states bound to a session (logout).
	DeleteSessionStates(ctx context.Context, sessionID string) error
	// RememberAssertion records an assertion ID of a connection until expiresAt; an ID
	// seen before gives ErrConflict (replay).
	RememberAssertion(ctx context.Context, connectionID, assertionID string, expiresAt, now time.Time) error
	// PurgeExpired removes expired states and replay entries.
	PurgeExpired(ctx context.Context, now time.Time) error
	CreateClient(ctx context.Context, c *OAuthClient) error
	GetClient(ctx context.Context, id string) (*OAuthClient, error)
	ListClients(ctx context.Context) ([]OAuthClient, error)
	AddSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns the keys not retired before now, newest first.
	ListSigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// RetireSigningKeys retires, at the given time, every other key of keepID's algorithm.
	RetireSigningKeys(ctx context.Context, keepID string, at time.Time) error

	// --- Mail outbox (claims): store/outbox.go ---

	// ClaimMail leases up to limit due messages to worker until now+lease, so that every
	// replica may run a worker: PostgreSQL skips rows other workers hold (FOR UPDATE SKIP
	// LOCKED); SQLite's single writer serialises claims.
	ClaimMail(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)

	// --- Events, webhooks and back-channel logouts: store/events.go ---

	// ListEvents returns up to limit events of the tenant with Seq > after, in Seq order.
	ListEvents(ctx context.Context, tenantID string, after int64, limit int) ([]Event, error)
	// LastEventSeq is the tenant's newest Seq (0 when it has none).
	LastEventSeq(ctx context.Context, tenantID string) (int64, error)
	ListWebhooks(ctx context.Context, tenantID string) ([]WebhookEndpoint, error)
	GetWebhook(ctx context.Context, tenantID, id string) (*WebhookEndpoint, error)
	ListDeliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]WebhookDelivery, error)
	ListAttempts(ctx context.Context, tenantID, deliveryID string) ([]WebhookAttempt, error)
	// FanOutWebhooks turns up to limit events after each active endpoint's cursor into
	// deliveries for the event types selects names (all: every type), and advances the
	// cursors. Replicas doing it at once take different endpoints (SKIP LOCKED). It
	// returns how many deliveries it created.
	FanOutWebhooks(ctx context.Context, now time.Time, limit int, selects func(*WebhookEndpoint) (types []string, all bool)) (int, error)
	// ClaimDeliveries leases up to limit due deliveries of active endpoints to worker,
	// only the oldest pending one per endpoint and user, so one user's events go out in
	// order and never in parallel.
	ClaimDeliveries(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]ClaimedDelivery, error)
	// ClaimLogouts leases due back-channel logouts to worker.
	ClaimLogouts(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]LogoutRequest, error)
	// ClaimSink leases tenants with unpublished events to a broker sink's worker, with
	// those events; ReleaseSink records how far it published and ends the lease.
	ClaimSink(ctx context.Context, sink, worker string, now time.Time, lease time.Duration, limit, perTenant int) ([]SinkBatch, error)
	ReleaseSink(ctx context.Context, sink, worker, tenantID string, seq int64) error
	// PurgeEvents deletes events, deliveries and their attempts, and finished logouts,
	// created before cutoff.
	PurgeEvents(ctx context.Context, cutoff time.Time) (int64, error)

	// --- Set-up links and the provisioning log: store/setup.go ---

	SaveSetupProgress(ctx context.Context, tenantID, id string, p SetupProgress) error
	// AppendProvisioningLog inserts a batch of entries in one statement.
	AppendProvisioningLog(ctx context.Context, entries []ProvisioningLogEntry) error
	// PurgeProvisioningLog deletes entries older than before and returns how many.
	PurgeProvisioningLog(ctx context.Context, before time.Time) (int64, error)
}

// Reader is the read side, available both outside and inside a transaction.
type Reader interface {
	// --- Tenants, tokens and seats: store/tenants.go ---

	GetTenant(ctx context.Context, id string) (*Tenant, error)
	GetTenantBySlug(ctx context.Context, slug string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
	GetToken(ctx context.Context, id string) (*APIToken, error)
	// GetTokenTenant returns a token with its tenant in one round trip (every API request
	// authenticates).
	GetTokenTenant(ctx context.Context, id string) (*APIToken, *Tenant, error)
	ListTokens(ctx context.Context, tenantID string) ([]APIToken, error)

	// --- Users: store/users.go ---

	GetUser(ctx context.Context, tenantID, id string) (*User, error)
	GetUserByUserName(ctx context.Context, tenantID, userName string) (*User, error)
	ListUsers(ctx context.Context, tenantID string, q UserQuery) (*UserPage, error)
	// FindUsersByEmail lists the users whose userName or one of whose e-mails equals the
	// key (FoldKey).
	FindUsersByEmail(ctx context.Context, tenantID, emailKey string) ([]User, error)
	// IsTombstoned reports whether a user with this userName (compared by FoldKey) was deleted by
	// the directory and must not be recreated.
	IsTombstoned(ctx context.Context, tenantID, userName string) (bool, error)

	// --- SCIM groups: store/groups.go ---

	GetGroup(ctx context.Context, tenantID, id string, withMembers bool) (*Group, error)
	ListGroups(ctx context.Context, tenantID string, q GroupQuery) (*GroupPage, error)
	// UserGroups lists the groups a user is a direct member of.
	UserGroups(ctx context.Context, tenantID, userID string) ([]GroupRef, error)

	// --- Roles, teams and grants: store/access.go ---

	ListRoles(ctx context.Context, tenantID string) ([]Role, error)
	GetRole(ctx context.Context, tenantID, id string) (*Role, error)
	ListTeams(ctx context.Context, tenantID string) ([]Team, error)
	GetTeam(ctx context.Context, tenantID, id string) (*Team, error)
	// UserGrants lists the roles and teams of the users with their sources.
	UserGrants(ctx context.Context, tenantID string, userIDs []string) ([]Grant, error)
	// CountAdmins counts the seated, not deactivated users holding the built-in Admin role.
	CountAdmins(ctx context.Context, tenantID string) (int, error)

	// --- Connections, identities and sessions: store/connections.go ---

	GetConnection(ctx context.Context, tenantID, id string) (*Connection, error)
	ListConnections(ctx context.Context, tenantID string) ([]Connection, error)
	// GetIdentity returns the link of (connection, subject) or ErrNotFound.
	GetIdentity(ctx context.Context, tenantID, connectionID, subject string) (*Identity, error)
	// ListUserIdentities returns the user's sign-in links with their connection's name and
	// type, oldest first.
	ListUserIdentities(ctx context.Context, tenantID, userID string) ([]Identity, error)
	GetSession(ctx context.Context, id string) (*Session, error)
	// ListUserSessions returns the user's sessions open at now, newest first.
	ListUserSessions(ctx context.Context, tenantID, userID string, now time.Time) ([]Session, error)

	// --- Invitations, local accounts and second factors: store/invitations.go ---

	GetInvitation(ctx context.Context, tenantID, id string) (*Invitation, error)
	// GetInvitationByToken finds an invitation by the SHA-256 of its token, in any tenant
	// (the token is the credential that names the tenant).
	GetInvitationByToken(ctx context.Context, tokenHash []byte) (*Invitation, error)
	ListInvitations(ctx context.Context, tenantID string, q InvitationQuery) ([]Invitation, error)
	// GetLocalAccount returns ErrNotFound when the user has no local account row.
	GetLocalAccount(ctx context.Context, tenantID, userID string) (*LocalAccount, error)
	// GetTwoFactor returns ErrNotFound when the user has none.
	GetTwoFactor(ctx context.Context, tenantID, userID string) (*TwoFactor, error)

	// --- Mail outbox and suppressions: store/outbox.go ---

	// GetSuppression returns ErrNotFound when the address (FoldKey) is not suppressed.
	GetSuppression(ctx context.Context, tenantID, email string) (*Suppression, error)
	ListSuppressions(ctx context.Context, tenantID string) ([]Suppression, error)
	// ListMail lists a tenant's outbox messages about one object (payloads not included).
	ListMail(ctx context.Context, tenantID, refID string) ([]OutboxMessage, error)

	// --- Set-up links and the provisioning log: store/setup.go ---

	GetSetupLink(ctx context.Context, id string) (*SetupLink, error)
	ListSetupLinks(ctx context.Context, tenantID string) ([]SetupLink, error)
	ListProvisioningLog(ctx context.Context, tenantID string, q ProvisioningLogQuery) ([]ProvisioningLogEntry, error)

	// --- Audit and login events: store/audit.go ---

	ListAudit(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error)
	ListLogins(ctx context.Context, tenantID string, q LoginQuery) ([]LoginEvent, error)
	// LoginSummary sums up the login events of a user (IPs and user agents: the 20 most
	// recent).
	LoginSummary(ctx context.Context, tenantID, userID string) (*LoginSummary, error)
}

// Tx is one database transaction. Methods that change a versioned object bump its version.
// Locks are taken users first (in id order), then the tenant row: the order every writer
// follows.
type Tx interface {
	Reader

	// --- Tenants, tokens and seats: store/tenants.go ---

	CreateTenant(ctx context.Context, t *Tenant) error
	UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) (*Tenant, error)
	// LockTenant locks the tenant row until the end of the transaction: the engine takes it
	// after locking users to serialise rules that count across users, such as "never
	// remove the last Admin" or "one account per e-mail address".
	LockTenant(ctx context.Context, tenantID string) error
	CreateToken(ctx context.Context, t *APIToken) error
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error
	// SetSeats gives (seat true) or takes the seat of every listed user, whose seat flag
	// must currently be the opposite. Giving takes len(ids) seats in one conditional update
	// of the tenant's count or fails with *SeatLimitError; every user's version goes up.
	SetSeats(ctx context.Context, tenantID string, ids []string, seat bool, at time.Time) error

	// --- Users: store/users.go ---

	// CreateUser inserts u (ID, CreatedAt, UpdatedAt and Version set by the caller). A taken
	// userName gives a *ConflictError; u.Seat true takes a seat or fails with
	// *SeatLimitError.
	CreateUser(ctx context.Context, tenantID string, u *User) error
	// UpdateUser loads the user, applies fn and writes it back with version+1. When the seat
	// flag changes the tenant's seat count follows atomically (never above the limit). The
	// user given to fn carries its multi-valued attributes but not Groups, Roles or Teams:
	// those are separate relations that UpdateUser does not write.
	UpdateUser(ctx context.Context, tenantID, id string, fn func(*User) error) (*User, error)
	// DeleteUser removes the user, its memberships and sessions, frees its seat, clears
	// references to it as a manager and tombstones its userName. It returns the user as it
	// was, with its groups, roles and teams (read in the same statement where the database
	// allows it), or ErrNotFound. logoutDue reports whether a back-channel logout has
	// anything to end: the user had a session (open or ended: a client's session may
	// outlive ours) and an OIDC client registered a backchannel_logout_uri. It is read with
	// the user, in the same statement, so telling it costs no extra round trip.
	DeleteUser(ctx context.Context, tenantID, id string) (u *User, logoutDue bool, err error)
	// LockUsers returns the users with these ids (without details), locked in id order;
	// ids of no user of the tenant are left out.
	LockUsers(ctx context.Context, tenantID string, ids []string) ([]User, error)
	// TouchLastLogin sets the user's last login time without bumping its version.
	TouchLastLogin(ctx context.Context, tenantID, userID string, at time.Time) error

	// --- SCIM groups: store/groups.go ---

	CreateGroup(ctx context.Context, tenantID string, g *Group) error
	// UpdateGroup changes displayName / externalId through fn (members are ignored there).
	UpdateGroup(ctx context.Context, tenantID, id string, fn func(*Group) error) (*Group, error)
	// ApplyGroupOps applies the membership deltas and attribute changes in order and bumps
	// the version once. Unknown user ids give a *ValidationError.
	ApplyGroupOps(ctx context.Context, tenantID, id string, ops []GroupOp, now time.Time) (*Group, error)
	DeleteGroup(ctx context.Context, tenantID, id string) error

	// --- Roles, teams and grants: store/access.go ---

	CreateRole(ctx context.Context, tenantID string, r *Role) error
	UpdateRole(ctx context.Context, tenantID string, r *Role) error
	DeleteRole(ctx context.Context, tenantID, id string) error
	// SetUserRoles replaces the user's admin-sourced roles with roleIDs.
	SetUserRoles(ctx context.Context, tenantID, userID string, roleIDs []string) error
	// GrantRoles and RevokeRoles add and remove admin-sourced roles of users.
	GrantRoles(ctx context.Context, tenantID string, userIDs, roleIDs []string) error
	RevokeRoles(ctx context.Context, tenantID string, userIDs, roleIDs []string) error
	// SetSourcedRoles replaces the roles the user holds from source with roleIDs; roles
	// from other sources stay. The admin source is SetUserRoles's.
	SetSourcedRoles(ctx context.Context, tenantID, userID, source string, roleIDs []string) error
	CreateTeam(ctx context.Context, tenantID string, t *Team) error
	UpdateTeam(ctx context.Context, tenantID string, t *Team) error
	DeleteTeam(ctx context.Context, tenantID, id string) error
	// AddTeamMembers and RemoveTeamMembers add and remove admin-sourced memberships;
	// RemoveTeamMembers returns how many it removed.
	AddTeamMembers(ctx context.Context, tenantID string, teamIDs, userIDs []string) error
	RemoveTeamMembers(ctx context.Context, tenantID string, teamIDs, userIDs []string) (int, error)
	// SetSourcedTeams does what SetSourcedRoles does for team memberships (not for the
	// admin source: AddTeamMembers and RemoveTeamMembers).
	SetSourcedTeams(ctx context.Context, tenantID, userID, source string, teamIDs []string) error

	// --- Connections, identities and sessions: store/connections.go ---

	CreateConnection(ctx context.Context, c *Connection) error
	// UpdateConnection replaces a connection's settings (all but tenant, type and creation time).
	UpdateConnection(ctx context.Context, c *Connection) error
	DeleteConnection(ctx context.Context, tenantID, id string) error
	LinkIdentity(ctx context.Context, id *Identity) error
	TouchIdentity(ctx context.Context, tenantID, connectionID, subject string, at time.Time) error
	CreateSession(ctx context.Context, s *Session) error
	// EndSession ends one session (logout); ending an ended session is not an error.
	EndSession(ctx context.Context, id string, at time.Time) error
	// EndUserSessions ends every open Seatbridge session of the user (deactivation, seat
	// removal, deletion).
	EndUserSessions(ctx context.Context, tenantID, userID string, at time.Time) error

	// --- SSO protocol state: store/ssostate.go ---

	// RememberAssertion is Store.RememberAssertion inside the transaction: the sign-in
	// burns its assertion in the transaction that opens the session, so an assertion
	// yields at most one session, and the check costs no transaction of its own.
	RememberAssertion(ctx context.Context, connectionID, assertionID string, expiresAt, now time.Time) error

	// --- Invitations, local accounts and second factors: store/invitations.go ---

	CreateInvitation(ctx context.Context, inv *Invitation) error
	// UpdateInvitation locks the invitation, applies fn and writes it back.
	UpdateInvitation(ctx context.Context, tenantID, id string, fn func(*Invitation) error) (*Invitation, error)
	// AcceptUserInvitations marks the user's pending invitations accepted.
	AcceptUserInvitations(ctx context.Context, tenantID, userID string, at time.Time) error
	// DeleteInvitedUser removes a user that never accepted its invitation: like DeleteUser
	// (seat freed, memberships gone) but without a directory tombstone, because nobody
	// deleted it from a directory.
	DeleteInvitedUser(ctx context.Context, tenantID, userID string) error
	// UpdateLocalAccount locks (or creates) the user's local account row and applies fn.
	UpdateLocalAccount(ctx context.Context, tenantID, userID string, fn func(*LocalAccount) error) (*LocalAccount, error)
	// UpdateTwoFactor locks (or creates) the user's second factor and applies fn.
	UpdateTwoFactor(ctx context.Context, tenantID, userID string, fn func(*TwoFactor) error) (*TwoFactor, error)
	// DeleteTwoFactor removes it; a missing one is not an error.
	DeleteTwoFactor(ctx context.Context, tenantID, userID string) error

	// --- Mail outbox and suppressions: store/outbox.go ---

	// EnqueueMail inserts an outbox message; it is delivered after the transaction commits.
	EnqueueMail(ctx context.Context, m *OutboxMessage) error
	// CancelMail cancels the pending messages about refID (a resend or revoke made them
	// stale).
	CancelMail(ctx context.Context, tenantID, refID string) error
	// FinishMail records the outcome of a delivery attempt of a message still claimed by
	// worker; ErrConflict when the claim was lost (lease expired, cancelled).
	FinishMail(ctx context.Context, m *OutboxMessage, worker string) error
	AddSuppression(ctx context.Context, s *Suppression) error
	// DeleteSuppression returns ErrNotFound when the address was not suppressed.
	DeleteSuppression(ctx context.Context, tenantID, email string) error

	// --- Events, webhooks and back-channel logouts: store/events.go ---

	// AppendEvent records ev in this transaction; the store gives it its Seq as the last
	// step before commit (so the per-tenant counter is locked only for the commit).
	AppendEvent(ctx context.Context, ev *Event) error
	// EnqueueLogout queues a back-channel logout, sent after the transaction commits.
	EnqueueLogout(ctx context.Context, l *LogoutRequest) error
	// FinishLogout records the outcome of a back-channel logout held by worker.
	FinishLogout(ctx context.Context, l *LogoutRequest, status, lastError, worker string) error
	CreateWebhook(ctx context.Context, w *WebhookEndpoint) error
	// UpdateWebhook locks the endpoint, applies fn and writes it back (version + 1).
	UpdateWebhook(ctx context.Context, tenantID, id string, fn func(*WebhookEndpoint) error) (*WebhookEndpoint, error)
	DeleteWebhook(ctx context.Context, tenantID, id string) error
	// FinishDelivery records an attempt and the delivery's new state if worker still
	// holds its claim (ErrConflict otherwise).
	FinishDelivery(ctx context.Context, d *WebhookDelivery, a *WebhookAttempt, worker string) error
	// MarkDelivered finishes successful deliveries still claimed by worker, in few
	// statements, with each one's attempt; it returns how many it finished.
	MarkDelivered(ctx context.Context, as []*WebhookAttempt, worker string) (int, error)
	// ReplayDelivery makes a finished delivery pending again, due at now.
	ReplayDelivery(ctx context.Context, tenantID, endpointID, id string, now time.Time) (*WebhookDelivery, error)

	// --- Set-up links and the provisioning log: store/setup.go ---

	CreateSetupLink(ctx context.Context, l *SetupLink) error
	// RevokeSetupLink sets revoked_at unless already set; ErrNotFound for no such link.
	RevokeSetupLink(ctx context.Context, tenantID, id string, at time.Time) error

	// --- Audit and login events: store/audit.go ---

	AppendAudit(ctx context.Context, e *AuditEvent) error
	AppendLogin(ctx context.Context, e *LoginEvent) error
}
