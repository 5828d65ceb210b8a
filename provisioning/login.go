package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Claims is what an IdP asserted about a user, after the protocol door verified the
// assertion or ID token.
type Claims struct {
	// Subject is the IdP's stable identifier of the user (SAML NameID, OIDC sub).
	Subject string
	Email   string
	// EmailVerified is the IdP's statement that it verified the address (OIDC
	// email_verified; a SAML IdP's assertion counts as verified). Even then the engine only
	// links by e-mail when the address is in one of the connection's domains.
	EmailVerified bool
	GivenName     string
	FamilyName    string
	DisplayName   string
	Groups        []string
}

// LoginRequest is one verified upstream sign-in.
type LoginRequest struct {
	TenantID     string
	ConnectionID string
	// Method is the upstream protocol, "saml" or "oidc" (it becomes the amr claim).
	Method    string
	Claims    Claims
	IP        string
	UserAgent string
	// SessionTTL is the lifetime of the session created on success (default 8 hours).
	SessionTTL time.Duration
	// DryRun runs every step of the login and rolls all of it back (set-up wizard's
	// test sign-in): no user, link, grant, session or login event is kept.
	DryRun bool
	// Assertion, when set, is the single-use assertion (SAML) this sign-in presents. It is
	// remembered first thing in the login's transaction, so an assertion opens at most one
	// session and costs no transaction of its own; one seen before fails the login with
	// ErrReplayed, before any step runs and without a login event. It stays remembered
	// after a refusal (that transaction commits) and is forgotten only with a login that
	// failed on an error, which opened nothing. A dry run rolls it back with the rest, so
	// the door remembers a test sign-in's assertion itself.
	Assertion *AssertionUse
}

// AssertionUse names an assertion of the login's connection and how long it must be
// remembered (as long as the protocol could still accept it).
type AssertionUse struct {
	ID    string
	Until time.Time
}

// LoginResult is a successful login: the user and a new server-side session whose secret
// is returned once (only its hash is stored).
type LoginResult struct {
	User          *User
	Session       *Session
	SessionSecret string
	Created       bool
	Linked        bool
}

// RefusalReason is the machine-readable reason of a refused login.
type RefusalReason string

// The refusal reasons.
const (
	RefuseConnection     RefusalReason = "connection_disabled"
	RefuseBadClaims      RefusalReason = "missing_claims"
	RefuseDeactivated    RefusalReason = "deactivated"
	RefuseNoSeat         RefusalReason = "no_seat"
	RefuseTenantFull     RefusalReason = "tenant_full"
	RefuseUnknownUser    RefusalReason = "unknown_user"
	RefuseNotInDirectory RefusalReason = "not_in_directory"
	RefuseDeleted        RefusalReason = "deleted_by_directory"
	RefuseDomain         RefusalReason = "domain_not_allowed"
	RefuseAmbiguous      RefusalReason = "ambiguous_email"
	// RefuseDomainNotServed: a jit connection was asked to create an account for an
	// address outside its own domains. Creating it would let that IdP pre-register an
	// account that the connection really serving the domain later links to by e-mail
	// (account pre-hijack), so it is refused whatever the tenant's policy allows.
	RefuseDomainNotServed RefusalReason = "domain_not_served"
)

// LoginRefusedError says why a verified identity may not sign in. Message is safe to show
// to the user.
type LoginRefusedError struct {
	Reason  RefusalReason
	Message string
}

func (e *LoginRefusedError) Error() string { return "login refused: " + string(e.Reason) }

// Is makes errors.Is(err, ErrForbidden) true.
func (e *LoginRefusedError) Is(target error) bool { return target == ErrForbidden }

func refuse(r RefusalReason, format string, args ...any) *LoginRefusedError {
	return &LoginRefusedError{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// DefaultSessionTTL is the lifetime of a Seatbridge session.
const DefaultSessionTTL = 8 * time.Hour

// Login decides whether a verified upstream identity may sign in, following the
// connection's mode:
//
//   - jit: an unknown identity with an e-mail in one of the connection's domains creates
//     the user (source jit, managed by the IdP; any other address is refused); a seat is
//     assigned when the mapping says so and seats are left, otherwise the user exists
//     without a seat and the login is refused with the reason.
//   - pre_provisioned: the user must exist; the first login links the identity to it by a
//     verified e-mail in one of the connection's domains; an unknown user is refused.
//   - directory: only users pushed over SCIM may sign in.
//
// In every mode a user deleted by the directory (tombstone) is never recreated, and
// deactivated or seatless users and full tenants are refused. Group rules are applied on
// every login: roles and teams granted by this connection follow the groups sent now.
// Every attempt writes a login event. A refusal is a *LoginRefusedError; changes made
// before it (a JIT user created without a seat) are kept.
func (e *Engine) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	if req.SessionTTL <= 0 {
		req.SessionTTL = DefaultSessionTTL
	}
	req.Claims.Subject = strings.TrimSpace(req.Claims.Subject)
	req.Claims.Email = strings.TrimSpace(req.Claims.Email)
	res, refusal, err := e.login(ctx, req, true)
	if errors.Is(err, ErrSeatLimit) {
		// Another login took the last seat between our check and our write.
		res, refusal, err = e.login(ctx, req, false)
	}
	if errors.Is(err, ErrReplayed) {
		return nil, err
	}
	if err != nil && !req.DryRun {
		ev := &LoginEvent{TenantID: req.TenantID, ConnectionID: req.ConnectionID, Method: req.Method, Result: "error",
			Reason: "internal", Subject: req.Claims.Subject, IP: req.IP, UserAgent: req.UserAgent, At: e.now()}
		if lerr := e.Store.InTx(ctx, func(tx Tx) error { return e.appendLogin(ctx, tx, ev) }); lerr != nil {
			e.Log.ErrorContext(ctx, "append login event", "err", lerr)
		}
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	return res, nil
}

// login runs one attempt in one transaction. It returns a refusal (with the transaction
// committed, login event included) or a result. The attempt is a sequence of named steps
// over one loginRun: findUser, admit, syncProfile, applyGrants, openSession; the user is
// read once (by findUser) and passed along.
func (e *Engine) login(ctx context.Context, req LoginRequest, mayTakeSeat bool) (*LoginResult, *LoginRefusedError, error) {
	var (
		res     *LoginResult
		refusal *LoginRefusedError
	)
	err := e.Store.InTx(ctx, func(tx Tx) error {
		res, refusal = nil, nil
		if a := req.Assertion; a != nil {
			if err := tx.RememberAssertion(ctx, req.ConnectionID, a.ID, a.Until, e.now()); errors.Is(err, ErrConflict) {
				return fmt.Errorf("%w: %w", ErrReplayed, err)
			} else if err != nil {
				return err
			}
		}
		r := &loginRun{e: e, tx: tx, req: req, c: req.Claims, now: e.now(), mayTakeSeat: mayTakeSeat,
			actor: Actor{Kind: ActorSSO, ID: req.ConnectionID, Name: req.Claims.Subject, IP: req.IP}}
		u, refused, err := r.steps(ctx)
		if err != nil {
			return err
		}
		// Every attempt that reaches a decision writes its login event, refusals included.
		ev := &LoginEvent{TenantID: req.TenantID, ConnectionID: req.ConnectionID, Method: req.Method,
			Subject: r.c.Subject, IP: req.IP, UserAgent: req.UserAgent, At: r.now, Result: "success"}
		if u != nil {
			ev.UserID = u.ID
		}
		if refused != nil {
			refusal, ev.Result, ev.Reason = refused, "refused", string(refused.Reason)
		} else {
			res = r.result
		}
		if err := e.appendLogin(ctx, tx, ev); err != nil {
			return err
		}
		if req.DryRun {
			// A test sign-in runs every step and then rolls all of it back.
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, nil, err
	}
	return res, refusal, nil
}

// loginRun is what the steps of one sign-in attempt share, inside its transaction.
type loginRun struct {
	e           *Engine
	tx          Tx
	req         LoginRequest
	c           Claims
	actor       Actor
	now         time.Time
	mayTakeSeat bool

	tenant *Tenant
	conn   *Connection
	// emailKey is the folded address claimed; verified says whether it may link an
	// account (verified by the IdP and in one of the connection's domains).
	emailKey string
	verified bool
	// linked is true when this attempt links the identity to the user; created when it
	// created the user (JIT).
	created, linked bool
	grants          Grants
	result          *LoginResult
}

// steps runs the named steps in order. It returns the user concerned (nil when none is
// known) and a refusal, or an error that rolls everything back.
func (r *loginRun) steps(ctx context.Context) (*User, *LoginRefusedError, error) {
	var err error
	if r.tenant, err = r.tx.GetTenant(ctx, r.req.TenantID); err != nil {
		return nil, nil, err
	}
	if r.conn, err = r.tx.GetConnection(ctx, r.req.TenantID, r.req.ConnectionID); err != nil {
		return nil, nil, err
	}
	// A test sign-in may run through a connection not yet activated (the set-up
	// wizard's): it changes nothing.
	if r.conn.Disabled && !r.req.DryRun {
		return nil, refuse(RefuseConnection, "This sign-in connection is disabled."), nil
	}
	if r.c.Subject == "" {
		return nil, refuse(RefuseBadClaims, "Your identity provider did not send a user identifier."), nil
	}
	r.emailKey = FoldKey(r.c.Email)
	r.verified = r.c.EmailVerified && r.emailKey != "" && r.conn.Serves(r.c.Email)

	u, known, refused, err := r.findUser(ctx)
	if err != nil || refused != nil {
		return nil, refused, err
	}
	if u, refused, err = r.admit(ctx, u, known); err != nil || refused != nil {
		return u, refused, err
	}
	if u, err = r.syncProfile(ctx, u); err != nil {
		return nil, nil, err
	}
	if err = r.applyGrants(ctx, u); err != nil {
		return nil, nil, err
	}
	refused, err = r.openSession(ctx, u)
	return u, refused, err
}

// findUser finds the user the identity signs in as: the one its link names, else — for an
// identity not linked yet — the one account holding the verified address. A user deleted
// by the directory (tombstone) is refused, so is an address several accounts use. known
// says whether the identity was linked already; u is nil when no account matches.
func (r *loginRun) findUser(ctx context.Context) (u *User, known bool, refused *LoginRefusedError, err error) {
	link, err := r.tx.GetIdentity(ctx, r.req.TenantID, r.conn.ID, r.c.Subject)
	switch {
	case err == nil:
		u, err = r.tx.GetUser(ctx, r.req.TenantID, link.UserID)
		if err == nil {
			return u, true, nil, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, false, nil, err
		}
	case errors.Is(err, ErrNotFound):
	default:
		return nil, false, nil, err
	}
	for _, key := range []string{r.emailKey, FoldKey(r.c.Subject)} {
		if key == "" {
			continue
		}
		dead, err := r.tx.IsTombstoned(ctx, r.req.TenantID, key)
		if err != nil {
			return nil, false, nil, err
		}
		if dead {
			return nil, false, refuse(RefuseDeleted, "Your account was removed by your organisation's directory. Ask your administrator to restore it."), nil
		}
	}
	if r.verified {
		found, err := r.tx.FindUsersByEmail(ctx, r.req.TenantID, r.emailKey)
		if err != nil {
			return nil, false, nil, err
		}
		if len(found) > 1 {
			return nil, false, refuse(RefuseAmbiguous, "Several accounts use the address %s. Ask your administrator to resolve this.", r.c.Email), nil
		}
		if len(found) == 1 {
			return &found[0], false, nil, nil
		}
	}
	return nil, false, nil, nil
}

// admit applies the connection's mode and the tenant's rules. An identity not linked yet
// gets its user by the mode — jit creates one for an address in the connection's domains
// that the tenant's domain policy accepts, pre_provisioned and directory need an existing
// account — and is linked to it. Then a directory connection admits only users pushed
// over SCIM, and a deactivated user is refused. It decides whether this sign-in takes a
// seat (the mapping grants one, one is free, and no concurrent login took the last).
func (r *loginRun) admit(ctx context.Context, u *User, known bool) (*User, *LoginRefusedError, error) {
	c, conn, tenant := r.c, r.conn, r.tenant
	if !known {
		switch conn.Mode {
		case ModeJIT:
			if u == nil {
				if r.emailKey == "" {
					return nil, refuse(RefuseBadClaims, "Your identity provider did not send an e-mail address."), nil
				}
				// A connection creates accounts only for the domains it serves: an IdP
				// may assert any address, and an account it created for another
				// domain would be linked by e-mail to the real owner's later sign-in
				// through the right connection, leaving this IdP a way in.
				if !conn.Serves(c.Email) {
					return nil, refuse(RefuseDomainNotServed,
						"This sign-in connection does not serve the address %s, so it cannot create an account for it. Sign in through your own organisation's identity provider.", c.Email), nil
				}
				if msg := domainRefusal(tenant, c.Email); msg != "" {
					return nil, refuse(RefuseDomain, "%s", msg), nil
				}
				// The JIT user is created with the e-mail as userName. One the IdP
				// did not verify is never used to match an existing account: a clash
				// is a conflict, not a link.
				if !r.verified {
					if _, err := r.tx.GetUserByUserName(ctx, r.req.TenantID, c.Email); err == nil {
						return nil, refuse(RefuseUnknownUser, "An account for %s exists but this connection may not sign it in.", c.Email), nil
					} else if !errors.Is(err, ErrNotFound) {
						return nil, nil, err
					}
				}
				nu := &User{UserName: c.Email, Status: StatusActive, Source: SourceJIT, ManagedByIdP: true,
					Emails: []MultiValue{{Value: c.Email, Type: "work", Primary: true}}}
				syncNames(nu, c)
				if err := r.e.createUser(ctx, r.tx, r.actor, r.req.TenantID, nu, creation{}); err != nil {
					return nil, nil, err
				}
				u, r.created = nu, true
			}
		case ModePreProvisioned:
			if u == nil {
				return nil, refuse(RefuseUnknownUser, "There is no account for %s in %s. Ask your administrator to invite you.", displayOr(c.Email, c.Subject), tenant.Name), nil
			}
		case ModeDirectory:
			if u == nil {
				return nil, refuse(RefuseNotInDirectory, "Your account has not been provisioned by your organisation's directory yet."), nil
			}
		}
		id := &Identity{TenantID: r.req.TenantID, ConnectionID: conn.ID, Subject: c.Subject, UserID: u.ID, CreatedAt: r.now}
		if err := r.tx.LinkIdentity(ctx, id); err != nil {
			return nil, nil, err
		}
		if err := r.e.audit(ctx, r.tx, r.actor, r.req.TenantID, "identity.link", "user", u.ID, nil, id); err != nil {
			return nil, nil, err
		}
		r.linked = true
	}
	if conn.Mode == ModeDirectory && u.Source != SourceSCIM {
		return u, refuse(RefuseNotInDirectory, "Only accounts provisioned by your organisation's directory may sign in here."), nil
	}
	if u.Status == StatusDeactivated {
		return u, refuse(RefuseDeactivated, "Your account is deactivated. Ask your administrator to reactivate it."), nil
	}
	r.grants = conn.Mapping.Evaluate(c.Groups)
	return u, nil, nil
}

// syncProfile writes what this sign-in changes on the user: the seat the mapping grants
// (when one is free), an invited user becomes active (its invitation accepted by this
// first sign-in), and a JIT user's names follow the IdP. It returns the user as written,
// its roles and teams carried over from u.
func (r *loginRun) syncProfile(ctx context.Context, u *User) (*User, error) {
	takeSeat := !u.Seat && r.grants.Seat && r.mayTakeSeat && r.tenant.SeatsFree() > 0
	if !takeSeat && u.Status != StatusInvited && !(u.ManagedByIdP && u.Source == SourceJIT && namesDiffer(u, r.c)) {
		return u, nil
	}
	before := *u
	nu, err := r.tx.UpdateUser(ctx, r.req.TenantID, u.ID, func(x *User) error {
		if takeSeat {
			x.Seat = true
		}
		if x.Status == StatusInvited {
			x.Status = StatusActive
		}
		if x.ManagedByIdP && x.Source == SourceJIT {
			syncNames(x, r.c)
		}
		x.UpdatedAt = r.now
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The row UpdateUser locks carries no roles or teams; they are unchanged.
	nu.Roles, nu.Teams = u.Roles, u.Teams
	if err := r.e.audit(ctx, r.tx, r.actor, r.req.TenantID, "user.update", "user", u.ID, &before, nu); err != nil {
		return nil, err
	}
	if before.Status == StatusInvited {
		// The invitation is accepted by this first sign-in, not by the click on
		// its link (see Accounts.AcceptInvitation).
		if err := r.tx.AcceptUserInvitations(ctx, r.req.TenantID, u.ID, r.now); err != nil {
			return nil, err
		}
	}
	return nu, nil
}

// applyGrants makes the roles and teams held from this connection (source
// idp:<connection>) equal to what the mapping grants now, through the access module's
// resolver and diff. A seated user left without any role gets the tenant's default role
// (from this connection, so it goes when a rule grants a real one); teams the rules name
// are created on first use; unknown roles are logged and skipped. u's Roles and Teams are
// updated to what the user holds afterwards.
func (r *loginRun) applyGrants(ctx context.Context, u *User) error {
	e, tx, tenant, g := r.e, r.tx, r.tenant, r.grants
	rs, err := loadRoles(ctx, tx, tenant.ID)
	if err != nil {
		return err
	}
	var held []Grant
	if !r.created {
		if held, err = tx.UserGrants(ctx, tenant.ID, []string{u.ID}); err != nil {
			return err
		}
	}
	source := r.conn.IdentitySource()
	var roles []Role
	for _, name := range g.Roles {
		x, ok := rs.named(name)
		if !ok {
			e.Log.WarnContext(ctx, "group rule names an unknown role", "tenant", tenant.ID, "connection", r.conn.ID, "role", name)
			continue
		}
		roles = append(roles, x)
	}
	otherRoles := slices.ContainsFunc(held, func(x Grant) bool { return x.Kind == "role" && x.Source != source })
	if u.Seat && len(roles) == 0 && !otherRoles && tenant.Policy.DefaultRole != "" {
		if def, ok := rs.named(tenant.Policy.DefaultRole); ok {
			roles = append(roles, def)
		}
	}
	var teams []Team
	if len(g.Teams) > 0 {
		ts, err := loadTeams(ctx, tx, tenant.ID)
		if err != nil {
			return err
		}
		for _, name := range g.Teams {
			x, ok := ts.named(name)
			if !ok {
				// Teams named by the connection's rules are created on first use.
				x = Team{ID: e.NewID(), TenantID: tenant.ID, Name: strings.TrimSpace(name), CreatedAt: e.now(), UpdatedAt: e.now()}
				if err := tx.CreateTeam(ctx, tenant.ID, &x); err != nil {
					return err
				}
				if err := e.audit(ctx, tx, r.actor, tenant.ID, "team.create", "team", x.ID, nil, &x); err != nil {
					return err
				}
				ts.byName[FoldKey(name)], ts.byID[x.ID] = x, x
			}
			teams = append(teams, x)
		}
	}
	roleIDs, teamIDs := roleIDs(roles), teamIDs(teams)
	if give, take := diffGrants(heldGrants(held, "role", source), roleIDs); len(give)+len(take) > 0 {
		if err := tx.SetSourcedRoles(ctx, tenant.ID, u.ID, source, roleIDs); err != nil {
			return err
		}
	}
	if give, take := diffGrants(heldGrants(held, "team", source), teamIDs); len(give)+len(take) > 0 {
		if err := tx.SetSourcedTeams(ctx, tenant.ID, u.ID, source, teamIDs); err != nil {
			return err
		}
	}
	// What the user holds now: the other sources' grants and this connection's new ones
	// (a grant held from two sources counts once), named as the store names them.
	after := map[string]map[string]string{"role": {}, "team": {}}
	for _, x := range held {
		if x.Source != source {
			after[x.Kind][x.ID] = x.Name
		}
	}
	for _, x := range roles {
		after["role"][x.ID] = x.Name
	}
	for _, x := range teams {
		after["team"][x.ID] = x.Name
	}
	before := struct{ Roles, Teams []string }{u.Roles, u.Teams}
	u.Roles, u.Teams = namesByKey(after["role"]), namesByKey(after["team"])
	if !sameSet(before.Roles, u.Roles) || !sameSet(before.Teams, u.Teams) {
		type access struct{ Roles, Teams []string }
		return e.audit(ctx, tx, r.actor, tenant.ID, "user.access.idp", "user", u.ID,
			access{before.Roles, before.Teams}, access{u.Roles, u.Teams})
	}
	return nil
}

// namesByKey lists the names of a grant map in the store's order (by folded name).
func namesByKey(byID map[string]string) []string {
	out := make([]string, 0, len(byID))
	for _, n := range byID {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(FoldKey(a), FoldKey(b)) })
	return out
}

// openSession refuses a user left without a seat (the tenant is full, or the mapping
// grants none), and otherwise records the sign-in on the user and the identity and opens
// a server-side session, whose secret goes back once in the result.
func (r *loginRun) openSession(ctx context.Context, u *User) (*LoginRefusedError, error) {
	if !u.Seat {
		if r.grants.Seat {
			return refuse(RefuseTenantFull, "%s has no seat left for you. Ask your administrator for a licence.", r.tenant.Name), nil
		}
		return refuse(RefuseNoSeat, "Your account has no seat in %s yet. Ask your administrator to assign one.", r.tenant.Name), nil
	}
	if err := r.tx.TouchLastLogin(ctx, r.req.TenantID, u.ID, r.now); err != nil {
		return nil, err
	}
	if err := r.tx.TouchIdentity(ctx, r.req.TenantID, r.conn.ID, r.c.Subject, r.now); err != nil {
		return nil, err
	}
	secret, sess, err := r.e.newSession(u, r.conn, r.req, r.now)
	if err != nil {
		return nil, err
	}
	if err := r.tx.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	u.LastLoginAt = &r.now
	r.result = &LoginResult{User: u, Session: sess, SessionSecret: secret, Created: r.created, Linked: r.linked}
	return nil, nil
}

func (e *Engine) newSession(u *User, conn *Connection, req LoginRequest, now time.Time) (string, *Session, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("session secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(secret))
	return secret, &Session{ID: e.NewID(), TenantID: u.TenantID, UserID: u.ID, SecretHash: sum[:], ConnectionID: conn.ID,
		AMR: req.Method, CreatedAt: now, ExpiresAt: now.Add(req.SessionTTL)}, nil
}

// ErrSessionEnded is returned for a session that is unknown, ended or expired, or whose
// user may no longer sign in.
var ErrSessionEnded = errors.New("session ended")

// Access is what a signed-in user may do: the claims the platform app receives.
type Access struct {
	User        *User
	Tenant      *Tenant
	Session     *Session
	Roles       []string
	Permissions []string
	Teams       []string
}

// SessionAccess checks a presented session (ID and secret, compared in constant time)
// and returns the user's current access. A session whose user is deactivated, lost the
// seat or was deleted is ended and refused: the check is made on every use.
func (e *Engine) SessionAccess(ctx context.Context, id, secret string) (*Access, error) {
	s := e.Store
	if id == "" || secret == "" || TextProblem(id, 64) != "" {
		return nil, ErrSessionEnded
	}
	sess, err := s.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	sum := sha256.Sum256([]byte(secret))
	if !hashEqual(sum[:], sess.SecretHash) || !sess.Open(e.now()) {
		return nil, ErrSessionEnded
	}
	return e.access(ctx, s, sess)
}

// SessionAccessByID is SessionAccess for a session already authenticated by other means
// (an authorization code or access token bound to it).
func (e *Engine) SessionAccessByID(ctx context.Context, id string) (*Access, error) {
	s := e.Store
	sess, err := s.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if !sess.Open(e.now()) {
		return nil, ErrSessionEnded
	}
	return e.access(ctx, s, sess)
}

func (e *Engine) access(ctx context.Context, s Store, sess *Session) (*Access, error) {
	u, err := s.GetUser(ctx, sess.TenantID, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("load session user: %w", err)
	}
	if u.Status == StatusDeactivated || !u.Seat {
		if err := e.EndSession(ctx, sess.ID); err != nil {
			e.Log.ErrorContext(ctx, "end session", "err", err)
		}
		return nil, ErrSessionEnded
	}
	tenant, err := s.GetTenant(ctx, sess.TenantID)
	if err != nil {
		return nil, fmt.Errorf("load session tenant: %w", err)
	}
	roles, err := s.ListRoles(ctx, sess.TenantID)
	if err != nil {
		return nil, fmt.Errorf("load roles: %w", err)
	}
	perms := map[string]bool{}
	for _, r := range roles {
		if slices.ContainsFunc(u.Roles, func(n string) bool { return FoldKey(n) == FoldKey(r.Name) }) {
			for _, p := range r.Permissions {
				perms[string(p)] = true
			}
		}
	}
	a := &Access{User: u, Tenant: tenant, Session: sess, Roles: sortedCopy(u.Roles), Teams: sortedCopy(u.Teams)}
	for p := range perms {
		a.Permissions = append(a.Permissions, p)
	}
	sort.Strings(a.Permissions)
	return a, nil
}

// EndSession ends one session (logout).
func (e *Engine) EndSession(ctx context.Context, id string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		sess, err := tx.GetSession(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if sess.EndedAt != nil {
			return nil
		}
		if err := tx.EndSession(ctx, id, e.now()); err != nil {
			return err
		}
		// A sign-out is an event, and the platform's sessions of it end by back-channel
		// logout, queued in this transaction.
		now := e.now()
		if err := e.emit(ctx, tx, Actor{Kind: ActorSSO, ID: sess.UserID}, sess.TenantID, now, []derived{{typ: EvSessionEnded,
			userID: sess.UserID, data: sessionData{UserID: sess.UserID, SessionID: sess.ID}}}); err != nil {
			return err
		}
		return tx.EnqueueLogout(ctx, &LogoutRequest{ID: e.NewID(), TenantID: sess.TenantID, UserID: sess.UserID, SessionID: sess.ID,
			Reason: LogoutSignedOut, NextAttemptAt: now, CreatedAt: now})
	})
}

func hashEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(sortedCopy(a), sortedCopy(b))
}

func syncNames(u *User, c Claims) {
	if c.GivenName != "" {
		u.Name.GivenName = c.GivenName
	}
	if c.FamilyName != "" {
		u.Name.FamilyName = c.FamilyName
	}
	if c.DisplayName != "" {
		u.DisplayName = c.DisplayName
	} else if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
}

func namesDiffer(u *User, c Claims) bool {
	return (c.GivenName != "" && c.GivenName != u.Name.GivenName) ||
		(c.FamilyName != "" && c.FamilyName != u.Name.FamilyName) ||
		(c.DisplayName != "" && c.DisplayName != u.DisplayName)
}

func displayOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// freeMail lists well-known free-mail providers refused when Policy.BlockFreeMail is set.
var freeMail = []string{"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com", "aol.com", "gmx.de", "web.de", "proton.me", "protonmail.com"}

// domainRefusal says why the tenant's policy refuses an e-mail's domain, or "".
func domainRefusal(t *Tenant, email string) string {
	_, domain, _ := strings.Cut(FoldKey(email), "@")
	p := t.Policy
	if len(p.AllowedDomains) > 0 && !slices.ContainsFunc(p.AllowedDomains, func(d string) bool { return FoldKey(d) == domain }) {
		return fmt.Sprintf("%s does not accept accounts from %s.", t.Name, domain)
	}
	// A blocked domain covers its subdomains (blocking example.com blocks mail.example.com).
	if slices.ContainsFunc(p.BlockedDomains, func(d string) bool { d = FoldKey(d); return d == domain || strings.HasSuffix(domain, "."+d) }) ||
		(p.BlockFreeMail && slices.Contains(freeMail, domain)) {
		return fmt.Sprintf("%s does not accept accounts from %s.", t.Name, domain)
	}
	return ""
}
