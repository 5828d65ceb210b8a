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
// committed, login event included) or a result.
func (e *Engine) login(ctx context.Context, req LoginRequest, mayTakeSeat bool) (*LoginResult, *LoginRefusedError, error) {
	var (
		res     *LoginResult
		refusal *LoginRefusedError
	)
	c := req.Claims
	actor := Actor{Kind: ActorSSO, ID: req.ConnectionID, Name: c.Subject, IP: req.IP}
	body := func(tx Tx) error {
		refusal, res = nil, nil
		now := e.now()
		ev := &LoginEvent{TenantID: req.TenantID, ConnectionID: req.ConnectionID, Method: req.Method,
			Subject: c.Subject, IP: req.IP, UserAgent: req.UserAgent, At: now}
		finish := func(u *User, r *LoginRefusedError) error {
			if u != nil {
				ev.UserID = u.ID
			}
			if r != nil {
				refusal = r
				ev.Result, ev.Reason = "refused", string(r.Reason)
			} else {
				ev.Result = "success"
			}
			return e.appendLogin(ctx, tx, ev)
		}

		tenant, err := tx.GetTenant(ctx, req.TenantID)
		if err != nil {
			return err
		}
		conn, err := tx.GetConnection(ctx, req.TenantID, req.ConnectionID)
		if err != nil {
			return err
		}
		// A test sign-in may run through a connection not yet activated (the set-up
		// wizard's): it changes nothing.
		if conn.Disabled && !req.DryRun {
			return finish(nil, refuse(RefuseConnection, "This sign-in connection is disabled."))
		}
		if c.Subject == "" {
			return finish(nil, refuse(RefuseBadClaims, "Your identity provider did not send a user identifier."))
		}
		emailKey := FoldKey(c.Email)
		verified := c.EmailVerified && emailKey != "" && conn.Serves(c.Email)

		var u *User
		created, linked := false, false
		link, err := tx.GetIdentity(ctx, req.TenantID, conn.ID, c.Subject)
		switch {
		case err == nil:
			if u, err = tx.GetUser(ctx, req.TenantID, link.UserID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err != nil {
				u = nil
			}
		case errors.Is(err, ErrNotFound):
		default:
			return err
		}

		if u == nil {
			for _, key := range []string{emailKey, FoldKey(c.Subject)} {
				if key == "" {
					continue
				}
				dead, err := tx.IsTombstoned(ctx, req.TenantID, key)
				if err != nil {
					return err
				}
				if dead {
					return finish(nil, refuse(RefuseDeleted, "Your account was removed by your organisation's directory. Ask your administrator to restore it."))
				}
			}
			if verified {
				found, err := tx.FindUsersByEmail(ctx, req.TenantID, emailKey)
				if err != nil {
					return err
				}
				if len(found) > 1 {
					return finish(nil, refuse(RefuseAmbiguous, "Several accounts use the address %s. Ask your administrator to resolve this.", c.Email))
				}
				if len(found) == 1 {
					u = &found[0]
				}
			}
			switch conn.Mode {
			case ModeJIT:
				if u == nil {
					if emailKey == "" {
						return finish(nil, refuse(RefuseBadClaims, "Your identity provider did not send an e-mail address."))
					}
					// A connection creates accounts only for the domains it serves: an IdP
					// may assert any address, and an account it created for another
					// domain would be linked by e-mail to the real owner's later sign-in
					// through the right connection, leaving this IdP a way in.
					if !conn.Serves(c.Email) {
						return finish(nil, refuse(RefuseDomainNotServed,
							"This sign-in connection does not serve the address %s, so it cannot create an account for it. Sign in through your own organisation's identity provider.", c.Email))
					}
					if msg := domainRefusal(tenant, c.Email); msg != "" {
						return finish(nil, refuse(RefuseDomain, "%s", msg))
					}
					// The JIT user is created with the e-mail as userName. One the IdP
					// did not verify is never used to match an existing account: a clash
					// is a conflict, not a link.
					if !verified {
						if _, err := tx.GetUserByUserName(ctx, req.TenantID, c.Email); err == nil {
							return finish(nil, refuse(RefuseUnknownUser, "An account for %s exists but this connection may not sign it in.", c.Email))
						} else if !errors.Is(err, ErrNotFound) {
							return err
						}
					}
					nu := &User{UserName: c.Email, Status: StatusActive, Source: SourceJIT, ManagedByIdP: true,
						Emails: []MultiValue{{Value: c.Email, Type: "work", Primary: true}}}
					syncNames(nu, c)
					nu.ID, nu.TenantID, nu.Version, nu.CreatedAt, nu.UpdatedAt = e.NewID(), req.TenantID, 1, now, now
					if err := validateUser(nu); err != nil {
						return err
					}
					if err := tx.CreateUser(ctx, req.TenantID, nu); err != nil {
						return err
					}
					if err := e.audit(ctx, tx, actor, req.TenantID, "user.create", "user", nu.ID, nil, nu); err != nil {
						return err
					}
					u, created = nu, true
				}
			case ModePreProvisioned:
				if u == nil {
					return finish(nil, refuse(RefuseUnknownUser, "There is no account for %s in %s. Ask your administrator to invite you.", displayOr(c.Email, c.Subject), tenant.Name))
				}
			case ModeDirectory:
				if u == nil {
					return finish(nil, refuse(RefuseNotInDirectory, "Your account has not been provisioned by your organisation's directory yet."))
				}
			}
			id := &Identity{TenantID: req.TenantID, ConnectionID: conn.ID, Subject: c.Subject, UserID: u.ID, CreatedAt: now}
			if err := tx.LinkIdentity(ctx, id); err != nil {
				return err
			}
			if err := e.audit(ctx, tx, actor, req.TenantID, "identity.link", "user", u.ID, nil, id); err != nil {
				return err
			}
			linked = true
		}

		if conn.Mode == ModeDirectory && u.Source != SourceSCIM {
			return finish(u, refuse(RefuseNotInDirectory, "Only accounts provisioned by your organisation's directory may sign in here."))
		}
		if u.Status == StatusDeactivated {
			return finish(u, refuse(RefuseDeactivated, "Your account is deactivated. Ask your administrator to reactivate it."))
		}

		grants := conn.Mapping.Evaluate(c.Groups)
		takeSeat := !u.Seat && grants.Seat && mayTakeSeat && tenant.SeatsFree() > 0
		update := takeSeat || u.Status == StatusInvited || (u.ManagedByIdP && u.Source == SourceJIT && namesDiffer(u, c))
		if update {
			before := *u
			nu, err := tx.UpdateUser(ctx, req.TenantID, u.ID, func(x *User) error {
				if takeSeat {
					x.Seat = true
				}
				if x.Status == StatusInvited {
					x.Status = StatusActive
				}
				if x.ManagedByIdP && x.Source == SourceJIT {
					syncNames(x, c)
				}
				x.UpdatedAt = now
				return nil
			})
			if err != nil {
				return err
			}
			if err := e.audit(ctx, tx, actor, req.TenantID, "user.update", "user", u.ID, &before, nu); err != nil {
				return err
			}
			if before.Status == StatusInvited {
				// The invitation is accepted by this first sign-in, not by the click on
				// its link (see Accounts.AcceptInvitation).
				if err := tx.AcceptUserInvitations(ctx, req.TenantID, u.ID, now); err != nil {
					return err
				}
			}
			u = nu
		}

		if err := e.applyGrants(ctx, tx, actor, tenant, conn, u, grants); err != nil {
			return err
		}
		if u, err = tx.GetUser(ctx, req.TenantID, u.ID); err != nil {
			return err
		}
		if !u.Seat {
			if grants.Seat {
				return finish(u, refuse(RefuseTenantFull, "%s has no seat left for you. Ask your administrator for a licence.", tenant.Name))
			}
			return finish(u, refuse(RefuseNoSeat, "Your account has no seat in %s yet. Ask your administrator to assign one.", tenant.Name))
		}

		if err := tx.TouchLastLogin(ctx, req.TenantID, u.ID, now); err != nil {
			return err
		}
		if err := tx.TouchIdentity(ctx, req.TenantID, conn.ID, c.Subject, now); err != nil {
			return err
		}
		secret, sess, err := e.newSession(u, conn, req, now)
		if err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		u.LastLoginAt = &now
		res = &LoginResult{User: u, Session: sess, SessionSecret: secret, Created: created, Linked: linked}
		return finish(u, nil)
	}
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if err := body(tx); err != nil {
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

// applyGrants makes the roles and teams held from this connection equal to what the
// mapping grants now. A seated user left without any role gets the tenant's default role
// (from this connection, so it goes when a rule grants a real one).
func (e *Engine) applyGrants(ctx context.Context, tx Tx, actor Actor, tenant *Tenant, conn *Connection, u *User, g Grants) error {
	roles, err := tx.ListRoles(ctx, tenant.ID)
	if err != nil {
		return err
	}
	byName := map[string]string{}
	for _, r := range roles {
		byName[FoldKey(r.Name)] = r.ID
	}
	var roleIDs []string
	for _, name := range g.Roles {
		id, ok := byName[FoldKey(name)]
		if !ok {
			e.Log.WarnContext(ctx, "group rule names an unknown role", "tenant", tenant.ID, "connection", conn.ID, "role", name)
			continue
		}
		roleIDs = append(roleIDs, id)
	}
	source := conn.IdentitySource()
	if err := tx.SetSourcedRoles(ctx, tenant.ID, u.ID, source, roleIDs); err != nil {
		return err
	}
	after, err := tx.GetUser(ctx, tenant.ID, u.ID)
	if err != nil {
		return err
	}
	if after.Seat && len(after.Roles) == 0 && tenant.Policy.DefaultRole != "" {
		if id, ok := byName[FoldKey(tenant.Policy.DefaultRole)]; ok {
			roleIDs = append(roleIDs, id)
			if err := tx.SetSourcedRoles(ctx, tenant.ID, u.ID, source, roleIDs); err != nil {
				return err
			}
		}
	}

	var teamIDs []string
	if len(g.Teams) > 0 {
		teams, err := tx.ListTeams(ctx, tenant.ID)
		if err != nil {
			return err
		}
		tByName := map[string]string{}
		for _, t := range teams {
			tByName[FoldKey(t.Name)] = t.ID
		}
		for _, name := range g.Teams {
			id, ok := tByName[FoldKey(name)]
			if !ok {
				// Teams named by the connection's rules are created on first use.
				t := &Team{ID: e.NewID(), TenantID: tenant.ID, Name: strings.TrimSpace(name), CreatedAt: e.now(), UpdatedAt: e.now()}
				if err := tx.CreateTeam(ctx, tenant.ID, t); err != nil {
					return err
				}
				if err := e.audit(ctx, tx, actor, tenant.ID, "team.create", "team", t.ID, nil, t); err != nil {
					return err
				}
				id = t.ID
				tByName[FoldKey(name)] = id
			}
			teamIDs = append(teamIDs, id)
		}
	}
	if err := tx.SetSourcedTeams(ctx, tenant.ID, u.ID, source, teamIDs); err != nil {
		return err
	}
	final, err := tx.GetUser(ctx, tenant.ID, u.ID)
	if err != nil {
		return err
	}
	if !sameSet(u.Roles, final.Roles) || !sameSet(u.Teams, final.Teams) {
		type access struct{ Roles, Teams []string }
		return e.audit(ctx, tx, actor, tenant.ID, "user.access.idp", "user", u.ID,
			access{u.Roles, u.Teams}, access{final.Roles, final.Teams})
	}
	return nil
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
