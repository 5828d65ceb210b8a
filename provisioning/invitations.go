package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// InvitationState is the lifecycle state of an invitation. The store keeps pending,
// accepted and revoked; expired is a pending invitation past its expiry, computed on read.
type InvitationState string

// The invitation states.
const (
	InvitePending  InvitationState = "pending"
	InviteAccepted InvitationState = "accepted"
	InviteRevoked  InvitationState = "revoked"
	InviteExpired  InvitationState = "expired"
)

// Delivery states of an invitation's latest mail.
const (
	DeliveryQueued     = "queued"
	DeliverySent       = "sent"
	DeliveryRetrying   = "retrying"
	DeliveryFailed     = "failed"
	DeliverySuppressed = "suppressed"
)

// Invitation asks someone to join a tenant. The invited user exists from the start (status
// invited, optionally seated, with the roles and teams granted); accepting activates it.
// Only a SHA-256 of the token is kept.
type Invitation struct {
	ID          string          `json:"id"`
	TenantID    string          `json:"tenantId"`
	UserID      string          `json:"userId"`
	Email       string          `json:"email"`
	DisplayName string          `json:"displayName,omitempty"`
	Roles       []string        `json:"roles"`
	Teams       []string        `json:"teams"`
	Seat        bool            `json:"seat"`
	TokenHash   []byte          `json:"-"`
	State       InvitationState `json:"state"`
	ExpiresAt   time.Time       `json:"expiresAt"`
	SentCount   int             `json:"sentCount"`
	// DeliveryStatus and DeliveryError tell the admin what became of the latest mail:
	// queued, sent, retrying, failed or suppressed, and why.
	DeliveryStatus string     `json:"deliveryStatus,omitempty"`
	DeliveryError  string     `json:"deliveryError,omitempty"`
	InvitedBy      string     `json:"invitedBy,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	AcceptedAt     *time.Time `json:"acceptedAt,omitempty"`
	RevokedAt      *time.Time `json:"revokedAt,omitempty"`
}

// StateAt is the invitation's state at now (a pending invitation past its expiry is
// expired).
func (i *Invitation) StateAt(now time.Time) InvitationState {
	if i.State == InvitePending && !now.Before(i.ExpiresAt) {
		return InviteExpired
	}
	return i.State
}

// InvitationQuery selects invitations of a tenant. State "" lists all; expired and
// pending are told apart with Now.
type InvitationQuery struct {
	State InvitationState
	Now   time.Time
	Limit int
}

// LocalAccount is what password sign-in keeps beside users.password_hash.
type LocalAccount struct {
	TenantID string
	UserID   string
	// PasswordRestricted is the "Platform User - Password Restricted" role: the user may
	// not change its own password (shared accounts, disaster-recovery logins).
	PasswordRestricted bool
	// MustChange forces a new password at the next sign-in (temporary passwords).
	MustChange        bool
	FailedCount       int
	LockedUntil       *time.Time
	LastFailedAt      *time.Time
	PasswordChangedAt *time.Time
}

// Accounts runs invitations, local password accounts and mail delivery on top of the
// engine. Outbox payloads carry invitation links and temporary passwords: Sealer encrypts
// them at rest.
type Accounts struct {
	*Engine
	Sealer   Sealer
	Password PasswordParams
	Lockout  LockoutPolicy
	Retry    RetryPolicy
	// SessionTTL is the lifetime of a session opened by password sign-in.
	SessionTTL time.Duration

	slotsOnce sync.Once
	hashSlots chan struct{}
}

// NewAccounts returns Accounts with the default password, lockout and retry policies.
func NewAccounts(e *Engine, sealer Sealer) *Accounts {
	return &Accounts{Engine: e, Sealer: sealer, Password: DefaultPasswordParams, Lockout: DefaultLockout,
		Retry: DefaultRetry, SessionTTL: DefaultSessionTTL}
}

// InvitationRequest is what an admin fills in to invite someone.
type InvitationRequest struct {
	Email       string   `json:"email"`
	DisplayName string   `json:"displayName"`
	GivenName   string   `json:"givenName,omitempty"`
	FamilyName  string   `json:"familyName,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Teams       []string `json:"teams,omitempty"`
	// Seat gives the user a seat before it accepts.
	Seat bool `json:"seat,omitempty"`
	// ExpiresIn is this invitation's lifetime ("24h", "7d"; 1h to 30d); empty for the
	// tenant's. A resend gives the new link the tenant's lifetime.
	ExpiresIn string `json:"expiresIn,omitempty"`
}

// InvitationUnusableError says why a token cannot be used. Message is safe to show to the
// person holding the link.
type InvitationUnusableError struct {
	State   InvitationState
	Message string
}

func (e *InvitationUnusableError) Error() string { return "invitation " + string(e.State) }

func unusable(inv *Invitation, state InvitationState) *InvitationUnusableError {
	switch state {
	case InviteExpired:
		return &InvitationUnusableError{State: state, Message: fmt.Sprintf(
			"This invitation expired on %s. Ask your administrator to send a new one.", inv.ExpiresAt.UTC().Format("2 January 2006 15:04 MST"))}
	case InviteRevoked:
		return &InvitationUnusableError{State: state, Message: "This invitation was withdrawn by your administrator."}
	default:
		return &InvitationUnusableError{State: InviteAccepted, Message: "This invitation has already been used. Sign in instead."}
	}
}

// newInviteToken returns a 256-bit random token and its SHA-256. A fast hash suffices:
// the secret cannot be guessed, so there is nothing to slow down.
func newInviteToken() (string, []byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("invitation token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	return tok, inviteTokenHash(tok), nil
}

func inviteTokenHash(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

func (a *Accounts) invitationTTL(t *Tenant) time.Duration { return InvitationTTLOf(t) }

// checkNotSuppressed refuses mail to an address an earlier delivery found dead.
func checkNotSuppressed(ctx context.Context, r Reader, tenantID, field, email string) error {
	s, err := r.GetSuppression(ctx, tenantID, email)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return Invalid(field, "mail to %s is blocked since %s because its mail server refused it (%s); an admin must clear the address first",
		email, s.CreatedAt.UTC().Format("2006-01-02"), s.Reason)
}

// CreateInvitation invites someone by e-mail: the user is created with status invited
// (seated when asked, with its roles and teams), the invitation stores the token's hash,
// and the invitation mail is queued in the same transaction.
func (a *Accounts) CreateInvitation(ctx context.Context, actor Actor, tenantID string, req InvitationRequest) (*Invitation, error) {
	email, err := NormalizeEmail("email", req.Email)
	if err != nil {
		return nil, err
	}
	var lifetime time.Duration
	if strings.TrimSpace(req.ExpiresIn) != "" {
		if lifetime, err = parseInvitationTTL("expiresIn", req.ExpiresIn); err != nil {
			return nil, err
		}
	}
	tok, hash, err := newInviteToken()
	if err != nil {
		return nil, err
	}
	display := strings.TrimSpace(req.DisplayName)
	if display == "" {
		display = strings.TrimSpace(strings.TrimSpace(req.GivenName) + " " + strings.TrimSpace(req.FamilyName))
	}
	if len(display) > 256 {
		return nil, Invalid("displayName", "is longer than 256 characters")
	}
	var out *Invitation
	err = a.inTenantTx(ctx, tenantID, func(tx Tx, t *Tenant) error {
		if err := CheckEmailPolicy(t, "email", email); err != nil {
			return err
		}
		if err := checkNotSuppressed(ctx, tx, tenantID, "email", email); err != nil {
			return err
		}
		found, err := tx.FindUsersByEmail(ctx, tenantID, FoldKey(email))
		if err != nil {
			return err
		}
		if len(found) == 1 && invitable(&found[0]) {
			// "Invite later": the account exists (admin, CSV) but never signed in. No other
			// account may hold the address meanwhile.
			if err := claimEmail(ctx, tx, tenantID, "email", email, found[0].ID); err != nil {
				return err
			}
			inv, err := a.inviteExistingTx(ctx, tx, actor, t, found[0].ID, req.Roles, req.Teams, req.Seat, lifetime, tok, hash)
			out = inv
			return err
		}
		if len(found) == 1 && found[0].Status != StatusInvited {
			if hint := uninvitable(&found[0]); hint != "" {
				return &ConflictError{Field: "email", Value: email, Hint: hint}
			}
		}
		u := adminUser(email, "", req.GivenName, req.FamilyName, display)
		u.Status, u.Source, u.Seat = StatusInvited, SourceInvite, req.Seat
		if err := a.createUser(ctx, tx, actor, tenantID, u, creation{claim: email,
			access: &adminAccess{tenant: t, roleRefs: req.Roles, teamRefs: req.Teams, defaultAlways: true}}); err != nil {
			return seatField(err, "seat")
		}
		out, err = a.issueInvitationTx(ctx, tx, actor, t, &Invitation{UserID: u.ID, Email: email, DisplayName: u.DisplayName,
			Roles: u.Roles, Teams: u.Teams, Seat: req.Seat, TokenHash: hash}, lifetime, tok)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// invitable reports whether an existing account may be invited ("invite later"): created
// by an admin or a CSV import, never signed in, neither deactivated nor already invited,
// and not managed by an identity provider (those sign in through it).
func invitable(u *User) bool {
	return u.Status == StatusActive && u.LastLoginAt == nil && !u.IdPManaged()
}

// uninvitable says why an existing account cannot be invited, for the conflict message.
func uninvitable(u *User) string {
	switch {
	case u.Status == StatusDeactivated:
		return "the user is deactivated: reactivate it instead"
	case u.IdPManaged():
		return "the user signs in through the identity provider"
	case u.LastLoginAt != nil:
		return "the user has already signed in"
	}
	return ""
}

// inviteExistingTx invites an account that exists but never signed in: it becomes invited
// (so it signs in only after accepting), gains the roles, teams and seat asked for, and the
// invitation mail is queued. A revoke gives the account back its former state.
func (a *Accounts) inviteExistingTx(ctx context.Context, tx Tx, actor Actor, t *Tenant, userID string, roles, teams []string, seat bool, lifetime time.Duration, tok string, hash []byte) (*Invitation, error) {
	now := a.now()
	cur, err := tx.GetUser(ctx, t.ID, userID)
	if err != nil {
		return nil, err
	}
	// The roles asked for join the account's admin-granted ones (SetUserRoles replaces
	// them), the teams are added.
	var given []Role
	var joined []Team
	if len(roles) > 0 || len(teams) > 0 {
		access := &adminAccess{tenant: t, roleRefs: append(append([]string(nil), cur.Roles...), roles...), teamRefs: teams, defaultAlways: true}
		if given, joined, err = a.adminGrants(ctx, tx, actor, access, "", seat); err != nil {
			return nil, err
		}
	}
	var before User
	u, err := tx.UpdateUser(ctx, t.ID, userID, func(u *User) error {
		before = *u
		if !invitable(u) {
			return &ConflictError{Field: "email", Value: u.PrimaryEmail(), Hint: uninvitable(u)}
		}
		u.Status, u.UpdatedAt = StatusInvited, now
		if seat {
			u.Seat = true
		}
		return nil
	})
	if err != nil {
		return nil, seatField(err, "seat")
	}
	if len(roles) > 0 {
		if err := tx.SetUserRoles(ctx, t.ID, u.ID, roleIDs(given)); err != nil {
			return nil, err
		}
		u.Roles = roleNames(given)
	} else {
		u.Roles = cur.Roles
	}
	if len(joined) > 0 {
		if err := tx.AddTeamMembers(ctx, t.ID, teamIDs(joined), []string{u.ID}); err != nil {
			return nil, err
		}
	}
	if err := a.audit(ctx, tx, actor, t.ID, "user.update", "user", u.ID, &before, u); err != nil {
		return nil, err
	}
	teamList := teamNames(joined)
	if len(teamList) == 0 {
		teamList = cur.Teams
	}
	email := u.PrimaryEmail()
	if email == "" {
		email = u.UserName
	}
	if err := checkNotSuppressed(ctx, tx, t.ID, "email", email); err != nil {
		return nil, err
	}
	return a.issueInvitationTx(ctx, tx, actor, t, &Invitation{UserID: u.ID, Email: email, DisplayName: u.DisplayName,
		Roles: u.Roles, Teams: teamList, Seat: u.Seat, TokenHash: hash}, lifetime, tok)
}

// issueInvitationTx completes inv (user, address, access and token hash set by the
// caller), stores it, queues its mail and audits it, in tx. It expires after lifetime, or
// the tenant's invitation lifetime when that is 0.
func (a *Accounts) issueInvitationTx(ctx context.Context, tx Tx, actor Actor, t *Tenant, inv *Invitation, lifetime time.Duration, tok string) (*Invitation, error) {
	now := a.now()
	inv.ID, inv.TenantID, inv.State, inv.SentCount, inv.DeliveryStatus = a.NewID(), t.ID, InvitePending, 1, DeliveryQueued
	inv.Roles, inv.Teams, inv.InvitedBy = nonNil(inv.Roles), nonNil(inv.Teams), actorLabel(actor)
	if lifetime <= 0 {
		lifetime = a.invitationTTL(t)
	}
	inv.ExpiresAt, inv.CreatedAt, inv.UpdatedAt = now.Add(lifetime), now, now
	if err := checkReachable(ctx, tx, t, inv.Email); err != nil {
		return nil, err
	}
	if err := tx.CreateInvitation(ctx, inv); err != nil {
		return nil, err
	}
	if err := a.enqueue(ctx, tx, t.ID, MailInvitation, inv.ID, inv.Email, a.invitationMail(t, inv, tok)); err != nil {
		return nil, err
	}
	return inv, a.audit(ctx, tx, actor, t.ID, "invitation.create", "invitation", inv.ID, nil, inv)
}

// InviteUser invites an existing account that never signed in ("invite later", the
// "Resend an invitation" of an account created without one).
func (a *Accounts) InviteUser(ctx context.Context, actor Actor, tenantID, userID string, roles, teams []string, seat bool) (*Invitation, error) {
	tok, hash, err := newInviteToken()
	if err != nil {
		return nil, err
	}
	var out *Invitation
	err = a.inTenantTx(ctx, tenantID, func(tx Tx, t *Tenant) error {
		inv, err := a.inviteExistingTx(ctx, tx, actor, t, userID, roles, teams, seat, 0, tok, hash)
		out = inv
		return err
	})
	return out, err
}

// ImportCSV is Engine.ImportCSV that, with invite, also invites every imported user in
// the same transaction (one mail each, queued only when the whole file is applied).
func (a *Accounts) ImportCSV(ctx context.Context, actor Actor, tenantID string, r io.Reader, dryRun, invite bool) (*ImportReport, error) {
	if !invite {
		return a.Engine.ImportCSV(ctx, actor, tenantID, r, dryRun)
	}
	return a.importCSV(ctx, actor, tenantID, r, dryRun, func(ctx context.Context, tx Tx, u *User, row *ImportRow) error {
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		tok, hash, err := newInviteToken()
		if err != nil {
			return err
		}
		inv, err := a.inviteExistingTx(ctx, tx, actor, t, u.ID, nil, nil, false, 0, tok, hash)
		if err != nil {
			return err
		}
		row.InvitationID = inv.ID
		return nil
	})
}

// checkReachable refuses to invite an address that could not get in: no enabled SSO
// connection serves its domain and the tenant does not sign in with passwords, so the
// invitee would set a password only to be told "single sign-on only".
func checkReachable(ctx context.Context, tx Tx, t *Tenant, email string) error {
	conns, err := tx.ListConnections(ctx, t.ID)
	if err != nil {
		return err
	}
	if t.PasswordLoginAllowed(conns) {
		return nil
	}
	for _, c := range conns {
		if !c.Disabled && c.Serves(email) {
			return nil
		}
	}
	_, domain, _ := strings.Cut(email, "@")
	return Invalid("email", "no SSO connection of %s serves %s and password sign-in is off: add the domain to a connection or turn on allowPasswordLogin first", t.Name, domain)
}

func (a *Accounts) invitationMail(t *Tenant, inv *Invitation, tok string) MailData {
	return MailData{TenantName: t.Name, TenantSlug: t.Slug, Email: inv.Email, DisplayName: inv.DisplayName,
		InvitedBy: inv.InvitedBy, Token: tok, ExpiresAt: inv.ExpiresAt, Roles: inv.Roles}
}

// actorLabel names who sends a mail: a signed-in admin by name; tokens, the CLI and the
// system by nobody, so that the mail names the organisation ("You have been invited to
// join Acme") and never a token's name or id. The audit log keeps the real actor.
func actorLabel(a Actor) string {
	if a.Kind != ActorUser {
		return ""
	}
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}

// article puts "a" or "an" before a word ("an accepted invitation").
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ResendInvitation issues a new token (the old link stops working at once), restarts the
// expiry and queues a new mail. Pending and expired invitations can be resent; accepted
// and revoked ones cannot.
func (a *Accounts) ResendInvitation(ctx context.Context, actor Actor, tenantID, id string) (*Invitation, error) {
	tok, hash, err := newInviteToken()
	if err != nil {
		return nil, err
	}
	var out *Invitation
	err = a.inTenantTx(ctx, tenantID, func(tx Tx, t *Tenant) error {
		now := a.now()
		var before Invitation
		inv, err := tx.UpdateInvitation(ctx, tenantID, id, func(inv *Invitation) error {
			before = *inv
			if inv.State != InvitePending {
				return Invalid("state", "%s invitation cannot be resent", article(string(inv.State)))
			}
			if err := checkNotSuppressed(ctx, tx, tenantID, "email", inv.Email); err != nil {
				return err
			}
			inv.TokenHash, inv.ExpiresAt, inv.UpdatedAt = hash, now.Add(a.invitationTTL(t)), now
			inv.SentCount++
			inv.DeliveryStatus, inv.DeliveryError = DeliveryQueued, ""
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.CancelMail(ctx, tenantID, inv.ID); err != nil {
			return err
		}
		if err := a.enqueue(ctx, tx, tenantID, MailInvitation, inv.ID, inv.Email, a.invitationMail(t, inv, tok)); err != nil {
			return err
		}
		out = inv
		return a.audit(ctx, tx, actor, tenantID, "invitation.resend", "invitation", id, &before, inv)
	})
	if err != nil {
		return nil, err
	}
	out.State = out.StateAt(a.now())
	return out, nil
}

// RevokeInvitation withdraws an invitation for good: its token stops working, queued
// mail is cancelled and the invited user (never signed in) is removed with its seat; an
// account invited later (it existed before) stays, as it was. To let the person in again,
// invite them from scratch.
func (a *Accounts) RevokeInvitation(ctx context.Context, actor Actor, tenantID, id string) (*Invitation, error) {
	var out *Invitation
	err := a.Store.InTx(ctx, func(tx Tx) error {
		now := a.now()
		var before Invitation
		inv, err := tx.UpdateInvitation(ctx, tenantID, id, func(inv *Invitation) error {
			before = *inv
			if inv.State != InvitePending {
				return Invalid("state", "%s invitation cannot be revoked", article(string(inv.State)))
			}
			inv.State, inv.RevokedAt, inv.UpdatedAt = InviteRevoked, &now, now
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.CancelMail(ctx, tenantID, id); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, tenantID, inv.UserID)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case u.Status != StatusInvited:
			// The person already got in (SSO sign-in activates an invited user): that
			// account is managed as a user now, not as an invitation.
			return Invalid("state", "%s has already signed in; deactivate the user instead", inv.Email)
		case u.Source != SourceInvite:
			// Invited later: the account existed before the invitation and stays.
			after, err := tx.UpdateUser(ctx, tenantID, u.ID, func(x *User) error {
				x.Status, x.UpdatedAt = StatusActive, now
				return nil
			})
			if err != nil {
				return err
			}
			if err := a.audit(ctx, tx, actor, tenantID, "user.update", "user", u.ID, u, after); err != nil {
				return err
			}
		default:
			if err := tx.EndUserSessions(ctx, tenantID, u.ID, now); err != nil {
				return err
			}
			if err := tx.DeleteInvitedUser(ctx, tenantID, u.ID); err != nil {
				return err
			}
			if err := a.audit(ctx, tx, actor, tenantID, "user.delete", "user", u.ID, u, nil); err != nil {
				return err
			}
		}
		out = inv
		return a.audit(ctx, tx, actor, tenantID, "invitation.revoke", "invitation", id, &before, inv)
	})
	return out, err
}

// GetInvitation returns one invitation with its current state.
func (a *Accounts) GetInvitation(ctx context.Context, tenantID, id string) (*Invitation, error) {
	s := a.Store
	inv, err := s.GetInvitation(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	inv.State = inv.StateAt(a.now())
	return inv, nil
}

// ListInvitations lists a tenant's invitations, newest first, optionally of one state.
func (a *Accounts) ListInvitations(ctx context.Context, tenantID string, state InvitationState) ([]Invitation, error) {
	switch state {
	case "", InvitePending, InviteAccepted, InviteRevoked, InviteExpired:
	default:
		return nil, Invalid("state", "must be pending, accepted, revoked or expired")
	}
	s := a.Store
	now := a.now()
	out, err := s.ListInvitations(ctx, tenantID, InvitationQuery{State: state, Now: now})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].State = out[i].StateAt(now)
	}
	return out, nil
}

// AcceptMode says how an invitation is accepted.
type AcceptMode string

// The accept modes.
const (
	// AcceptPassword: the invitee sets a local password.
	AcceptPassword AcceptMode = "password"
	// AcceptSSO: the tenant has an SSO connection for the invitee's domain; accepting hands
	// over to that sign-in, which activates the user.
	AcceptSSO AcceptMode = "sso"
)

// InvitationView is what the invitation page shows to the holder of a token.
type InvitationView struct {
	Invitation   *Invitation
	Tenant       *Tenant
	User         *User
	Mode         AcceptMode
	ConnectionID string
}

// InvitationByToken resolves a token for the invitation page. Unknown tokens give
// ErrNotFound (a resent invitation's old token is unknown); expired, revoked and used ones
// give *InvitationUnusableError with a message for the page.
func (a *Accounts) InvitationByToken(ctx context.Context, token string) (*InvitationView, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNotFound
	}
	s := a.Store
	inv, err := s.GetInvitationByToken(ctx, inviteTokenHash(token))
	if err != nil {
		return nil, err
	}
	if st := inv.StateAt(a.now()); st != InvitePending {
		return nil, unusable(inv, st)
	}
	t, err := s.GetTenant(ctx, inv.TenantID)
	if err != nil {
		return nil, err
	}
	u, err := s.GetUser(ctx, inv.TenantID, inv.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, unusable(inv, InviteRevoked)
	}
	if err != nil {
		return nil, err
	}
	if u.Status != StatusInvited {
		return nil, unusable(inv, InviteAccepted)
	}
	v := &InvitationView{Invitation: inv, Tenant: t, User: u, Mode: AcceptPassword}
	conns, err := s.ListConnections(ctx, inv.TenantID)
	if err != nil {
		return nil, err
	}
	for _, c := range conns {
		if !c.Disabled && c.Serves(inv.Email) {
			v.Mode, v.ConnectionID = AcceptSSO, c.ID
			break
		}
	}
	return v, nil
}

// AcceptRequest is what the invitee confirms on the invitation page.
type AcceptRequest struct {
	DisplayName string
	GivenName   string
	FamilyName  string
	// Password is required in password mode, ignored in SSO mode.
	Password  string
	IP        string
	UserAgent string
}

// AcceptResult is an accepted invitation.
type AcceptResult struct {
	Invitation *Invitation
	User       *User
	Tenant     *Tenant
	Mode       AcceptMode
	// ConnectionID is the SSO connection to sign in with (SSO mode).
	ConnectionID string
}

// AcceptInvitation uses a token once. In password mode the user is activated with the new
// password. In SSO mode nothing is used up here: the caller sends the browser to the
// connection's sign-in, and the first successful login activates the user and marks the
// invitation accepted (AcceptUserInvitations), so a refused or abandoned sign-in leaves the
// invitation usable and resendable. Of two concurrent password accepts of one token exactly
// one succeeds; the other gets *InvitationUnusableError.
func (a *Accounts) AcceptInvitation(ctx context.Context, token string, req AcceptRequest) (*AcceptResult, error) {
	view, err := a.InvitationByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if view.Mode == AcceptSSO {
		inv, u := view.Invitation, view.User
		return &AcceptResult{Tenant: view.Tenant, Mode: view.Mode, ConnectionID: view.ConnectionID, Invitation: inv, User: u}, nil
	}
	hash := inviteTokenHash(token)
	var pwHash string
	if view.Mode == AcceptPassword {
		if err := CheckPasswordStrength("password", req.Password, view.Invitation.Email,
			append(userWords(view.User), req.DisplayName, req.GivenName, req.FamilyName)...); err != nil {
			return nil, err
		}
		// Hashing takes a tenth of a second: do it before the transaction so that the
		// database's write lock is not held for it.
		if pwHash, err = a.hashPassword(ctx, req.Password); err != nil {
			return nil, err
		}
	}
	res := &AcceptResult{Tenant: view.Tenant, Mode: view.Mode, ConnectionID: view.ConnectionID}
	actor := Actor{Kind: ActorUser, ID: view.User.ID, Name: view.Invitation.Email, IP: req.IP}
	err = a.Store.InTx(ctx, func(tx Tx) error {
		now := a.now()
		var before Invitation
		inv, err := tx.UpdateInvitation(ctx, view.Invitation.TenantID, view.Invitation.ID, func(inv *Invitation) error {
			before = *inv
			if !hashEqual(inv.TokenHash, hash) {
				// Resent between the page load and this request: the old token is dead.
				return ErrNotFound
			}
			if st := inv.StateAt(now); st != InvitePending {
				return unusable(inv, st)
			}
			inv.State, inv.AcceptedAt, inv.UpdatedAt = InviteAccepted, &now, now
			return nil
		})
		if err != nil {
			return err
		}
		var ubefore User
		u, err := tx.UpdateUser(ctx, inv.TenantID, inv.UserID, func(u *User) error {
			ubefore = *u
			if u.Status != StatusInvited {
				return unusable(inv, InviteAccepted)
			}
			if d := strings.TrimSpace(req.DisplayName); d != "" && len(d) <= 256 {
				u.DisplayName = d
			}
			if g := strings.TrimSpace(req.GivenName); g != "" && len(g) <= 256 {
				u.Name.GivenName = g
			}
			if f := strings.TrimSpace(req.FamilyName); f != "" && len(f) <= 256 {
				u.Name.FamilyName = f
			}
			if pwHash != "" {
				u.PasswordHash, u.Status = pwHash, StatusActive
			}
			u.UpdatedAt = now
			return nil
		})
		if errors.Is(err, ErrNotFound) {
			return unusable(inv, InviteRevoked)
		}
		if err != nil {
			return err
		}
		if pwHash != "" {
			if _, err := tx.UpdateLocalAccount(ctx, inv.TenantID, u.ID, func(acc *LocalAccount) error {
				acc.MustChange, acc.FailedCount, acc.LockedUntil, acc.PasswordChangedAt = false, 0, nil, &now
				return nil
			}); err != nil {
				return err
			}
		}
		if err := a.audit(ctx, tx, actor, inv.TenantID, "user.update", "user", u.ID, &ubefore, u); err != nil {
			return err
		}
		res.Invitation, res.User = inv, u
		return a.audit(ctx, tx, actor, inv.TenantID, "invitation.accept", "invitation", inv.ID, &before, inv)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
