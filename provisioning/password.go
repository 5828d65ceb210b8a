package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters of new hashes. Stored hashes carry their
// own parameters, so changing these never locks anyone out.
type PasswordParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
	// Concurrency bounds the hashes computed at once, which bounds memory
	// (Concurrency × MemoryKiB) and keeps a burst of sign-ins from starving the server.
	Concurrency int
}

// DefaultPasswordParams suit a 2-core server: t=2, 32 MiB, 2 lanes is about 0.1 s a hash,
// and two hashes at once cost 64 MiB.
var DefaultPasswordParams = PasswordParams{Time: 2, MemoryKiB: 32 * 1024, Threads: 2, Concurrency: 2}

const (
	passwordMinLen = 10
	passwordMaxLen = 256
	argonKeyLen    = 32
)

// LockoutPolicy slows down password guessing. After MaxFailures consecutive failures the
// account is locked for LockFor, doubling with each further failure up to MaxLock. The
// counters live in the database so that every replica sees them.
type LockoutPolicy struct {
	MaxFailures int
	LockFor     time.Duration
	MaxLock     time.Duration
}

// DefaultLockout locks after 5 failures for 15 minutes, at most a day.
var DefaultLockout = LockoutPolicy{MaxFailures: 5, LockFor: 15 * time.Minute, MaxLock: 24 * time.Hour}

// Refusal reasons of password sign-in.
const (
	RefusePasswordDisabled RefusalReason = "password_login_disabled"
	RefuseBadCredentials   RefusalReason = "bad_credentials"
	RefuseLockedOut        RefusalReason = "locked_out"
	RefuseNotAccepted      RefusalReason = "invitation_not_accepted"
)

// ErrPasswordRestricted is returned when a password-restricted account tries to change
// its own password.
var ErrPasswordRestricted = fmt.Errorf("this account may not change its own password: %w", ErrForbidden)

// PasswordChangeRequiredError is returned by a correct sign-in with a temporary password.
// Ticket (single use, short-lived) lets CompletePasswordChange finish the sign-in.
type PasswordChangeRequiredError struct {
	Ticket string
	// RecoveryCodes of a second factor set up just before, to show once with the change.
	RecoveryCodes []string
}

func (e *PasswordChangeRequiredError) Error() string { return "password change required" }

// StatePasswordChange is the SSO state kind (Store.PutState) of password change tickets.
const StatePasswordChange = "password_change"

const passwordChangeTTL = 10 * time.Minute

// PasswordMinScore is the zxcvbn score (0-4) a chosen password needs: 3 means about 10^8
// or more guesses, "safely unguessable" for an online attack with lockout.
const PasswordMinScore = 3

// CheckPasswordStrength refuses passwords that are too short, too long, equal to the
// e-mail address, or easy to guess by zxcvbn's estimate (common words and passwords,
// names, dates, keyboard patterns, repeats, the user's own address or names given in
// inputs). The message says what made it weak.
func CheckPasswordStrength(field, pw, email string, inputs ...string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < passwordMinLen:
		return Invalid(field, "must be at least %d characters", passwordMinLen)
	case len(pw) > passwordMaxLen:
		return Invalid(field, "must be at most %d bytes", passwordMaxLen)
	case email != "" && FoldKey(pw) == FoldKey(email):
		return Invalid(field, "must not be your e-mail address")
	}
	var user []string
	for _, in := range inputs {
		user = append(user, in)
		user = append(user, strings.Fields(in)...)
	}
	if local, domain, ok := strings.Cut(email, "@"); ok {
		user = append(user, email, local, domain)
		user = append(user, strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })...)
		if host, _, ok := strings.Cut(domain, "."); ok {
			user = append(user, host)
		}
	}
	res := zxcvbn.PasswordStrength(pw, user)
	if res.Score >= PasswordMinScore {
		return nil
	}
	return Invalid(field, "is too easy to guess%s; use a longer passphrase of several unrelated words, or add uncommon words and symbols", weakness(res.Sequence))
}

// weakness names the first guessable pattern zxcvbn found, for the refusal message.
func weakness(seq []*match.Match) string {
	for _, m := range seq {
		switch m.Pattern {
		case "dictionary":
			if m.DictionaryName == "user_inputs" {
				return fmt.Sprintf(" (%q is part of your e-mail address or name)", m.Token)
			}
			if m.Reversed {
				return fmt.Sprintf(" (%q is a common word reversed)", m.Token)
			}
			if m.L33t {
				return fmt.Sprintf(" (%q is a common word with predictable substitutions)", m.Token)
			}
			return fmt.Sprintf(" (%q is a common word or password)", m.Token)
		case "spatial":
			return fmt.Sprintf(" (%q is a keyboard pattern)", m.Token)
		case "repeat":
			return fmt.Sprintf(" (%q repeats characters)", m.Token)
		case "sequence":
			return fmt.Sprintf(" (%q is a sequence such as abc or 123)", m.Token)
		case "date":
			return fmt.Sprintf(" (%q is a date)", m.Token)
		case "regex":
			return fmt.Sprintf(" (%q is a recent year)", m.Token)
		}
	}
	return ""
}

// HashPassword returns an encoded argon2id hash ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func HashPassword(p PasswordParams, pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches an encoded hash, in constant time.
func VerifyPassword(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("password hash: not argon2id")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("password hash: unsupported version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 {
		return false, errors.New("password hash: bad parameters")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errors.New("password hash: bad salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errors.New("password hash: bad key")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func (a *Accounts) slots() chan struct{} {
	// Created on first use so that callers may adjust Password after NewAccounts.
	a.slotsOnce.Do(func() {
		n := a.Password.Concurrency
		if n <= 0 {
			n = 2
		}
		a.hashSlots = make(chan struct{}, n)
	})
	return a.hashSlots
}

// errLockedMeanwhile aborts counting a failure on an account that another attempt locked
// while this one was being hashed.
var errLockedMeanwhile = errors.New("account locked meanwhile")

// lockedOut is the refusal of an account locked at now, or nil.
func lockedOut(acc *LocalAccount, now time.Time) *LoginRefusedError {
	if acc == nil || acc.LockedUntil == nil || !now.Before(*acc.LockedUntil) {
		return nil
	}
	wait := acc.LockedUntil.Sub(now).Round(time.Minute)
	return refuse(RefuseLockedOut, "Too many failed attempts. Try again in %s or ask your administrator to unlock your account.",
		max(wait, time.Minute))
}

// countFailureUnlessLocked counts a wrong password in one transaction with a fresh look at
// the lock, and returns the lock's refusal instead when another attempt locked the account
// while this one was being hashed: concurrent guesses then buy no more than the policy's
// failures.
func (a *Accounts) countFailureUnlessLocked(ctx context.Context, tenantID, userID string) (*LoginRefusedError, error) {
	var locked *LoginRefusedError
	err := a.Store.InTx(ctx, func(tx Tx) error {
		_, err := tx.UpdateLocalAccount(ctx, tenantID, userID, func(acc *LocalAccount) error {
			if locked = lockedOut(acc, a.now()); locked != nil {
				return errLockedMeanwhile
			}
			a.countFailure(acc)
			return nil
		})
		if errors.Is(err, errLockedMeanwhile) {
			return nil
		}
		return err
	})
	return locked, err
}

// countFailure records a wrong password and locks the account once the policy says so.
func (a *Accounts) countFailure(acc *LocalAccount) {
	at := a.now()
	acc.FailedCount++
	acc.LastFailedAt = &at
	if over := acc.FailedCount - a.Lockout.MaxFailures; a.Lockout.MaxFailures > 0 && over >= 0 {
		d := a.Lockout.LockFor
		for i := 0; i < over && d < a.Lockout.MaxLock; i++ {
			d *= 2
		}
		until := at.Add(min(d, a.Lockout.MaxLock))
		acc.LockedUntil = &until
	}
}

func (a *Accounts) acquire(ctx context.Context) (func(), error) {
	s := a.slots()
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *Accounts) hashPassword(ctx context.Context, pw string) (string, error) {
	release, err := a.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(a.Password, pw)
}

func (a *Accounts) verifyPassword(ctx context.Context, encoded, pw string) (bool, error) {
	release, err := a.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	if encoded == "" {
		// Unknown user or no password: spend the same time so that the answer does not
		// tell which accounts exist.
		_, _ = HashPassword(a.Password, pw)
		return false, nil
	}
	return VerifyPassword(encoded, pw)
}

// GeneratePassword returns a random temporary password of 16 characters from an alphabet
// without look-alikes (about 90 bits).
func GeneratePassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var sb strings.Builder
	for range 16 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		sb.WriteByte(alphabet[n.Int64()])
	}
	return sb.String(), nil
}

// LocalUserRequest creates a user who signs in with a password (the "Add agent" form).
type LocalUserRequest struct {
	Email        string       `json:"email"`
	DisplayName  string       `json:"displayName"`
	GivenName    string       `json:"givenName,omitempty"`
	FamilyName   string       `json:"familyName,omitempty"`
	Language     string       `json:"language,omitempty"`
	BusinessUnit string       `json:"businessUnit,omitempty"`
	PhoneNumbers []MultiValue `json:"phoneNumbers,omitempty"`
	Roles        []string     `json:"roles,omitempty"`
	Teams        []string     `json:"teams,omitempty"`
	Seat         bool         `json:"seat,omitempty"`
	Password     string       `json:"-"`
	ForceChange  bool         `json:"forceChange,omitempty"`
	SendMail     bool         `json:"sendMail,omitempty"`
	Restricted   bool         `json:"passwordRestricted,omitempty"`
}

// CreateLocalUser creates an active user with a password: the given one or a generated
// temporary one, returned once. ForceChange makes the user choose a new one at first
// sign-in; SendMail queues the credentials mail in the same transaction. A
// password-restricted account cannot be forced to change (it may not change at all).
func (a *Accounts) CreateLocalUser(ctx context.Context, actor Actor, tenantID string, req LocalUserRequest) (*User, string, error) {
	email, err := NormalizeEmail("email", req.Email)
	if err != nil {
		return nil, "", err
	}
	if req.Restricted && req.ForceChange {
		return nil, "", Invalid("forceChange", "a password-restricted account cannot change its password, so it cannot be forced to")
	}
	display := strings.TrimSpace(req.DisplayName)
	if display == "" {
		display = strings.TrimSpace(strings.TrimSpace(req.GivenName) + " " + strings.TrimSpace(req.FamilyName))
	}
	// Seed 004: the agent's name is required; it is shown in chats and throughout the system.
	if display == "" {
		return nil, "", Invalid("displayName", "is required: the agent's name shown in chats and throughout the system")
	}
	if len(display) > 256 {
		return nil, "", Invalid("displayName", "is longer than 256 characters")
	}
	lang, err := CheckLanguage("preferredLanguage", req.Language)
	if err != nil {
		return nil, "", err
	}
	pw := req.Password
	if pw == "" {
		if pw, err = GeneratePassword(); err != nil {
			return nil, "", err
		}
	} else if err := CheckPasswordStrength("password", pw, email, req.DisplayName, req.GivenName, req.FamilyName); err != nil {
		return nil, "", err
	}
	hash, err := a.hashPassword(ctx, pw)
	if err != nil {
		return nil, "", err
	}
	var out *User
	err = a.inTenantTx(ctx, tenantID, func(tx Tx, t *Tenant) error {
		if err := CheckEmailPolicy(t, "email", email); err != nil {
			return err
		}
		if req.SendMail {
			if err := checkNotSuppressed(ctx, tx, tenantID, "email", email); err != nil {
				return err
			}
			// The credentials mail points at the password page: it must lead somewhere.
			conns, err := tx.ListConnections(ctx, tenantID)
			if err != nil {
				return err
			}
			if !t.PasswordLoginAllowed(conns) {
				return Invalid("sendMail", "%s signs in with single sign-on only, so the credentials would not work: turn on allowPasswordLogin first", t.Name)
			}
		}
		now := a.now()
		u := adminUser(email, "", req.GivenName, req.FamilyName, display)
		u.PreferredLanguage, u.BusinessUnit, u.PhoneNumbers = lang, strings.TrimSpace(req.BusinessUnit), req.PhoneNumbers
		u.Status, u.Source, u.Seat, u.PasswordHash = StatusActive, SourceAdmin, req.Seat, hash
		// The audit event records the account's password settings beside the user.
		record := func(u *User) (any, error) {
			acc, err := tx.UpdateLocalAccount(ctx, tenantID, u.ID, func(acc *LocalAccount) error {
				acc.MustChange, acc.PasswordRestricted, acc.PasswordChangedAt = req.ForceChange, req.Restricted, &now
				return nil
			})
			return struct {
				*User
				Account *LocalAccount `json:"account"`
			}{u, acc}, err
		}
		if err := a.createUser(ctx, tx, actor, tenantID, u, creation{claim: email, record: record,
			access: &adminAccess{tenant: t, roleRefs: req.Roles, teamRefs: req.Teams, defaultAlways: true}}); err != nil {
			return seatField(err, "seat")
		}
		if req.SendMail {
			data := MailData{TenantName: t.Name, TenantSlug: t.Slug, Email: email, DisplayName: display, InvitedBy: actorLabel(actor),
				Password: pw, MustChange: req.ForceChange, Roles: u.Roles}
			if err := a.enqueue(ctx, tx, tenantID, MailCredentials, u.ID, email, data); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, pw, nil
}

// ResetPasswordRequest is an admin's password reset.
type ResetPasswordRequest struct {
	// Password empty generates a temporary one.
	Password    string `json:"-"`
	ForceChange bool   `json:"forceChange,omitempty"`
	SendMail    bool   `json:"sendMail,omitempty"`
}

// ResetPassword sets a user's password on an admin's behalf (also for password-restricted
// accounts: the admin manages their shared password), clears any lockout and returns the
// password once.
func (a *Accounts) ResetPassword(ctx context.Context, actor Actor, tenantID, userID string, req ResetPasswordRequest) (string, error) {
	pw := req.Password
	var err error
	if pw == "" {
		if pw, err = GeneratePassword(); err != nil {
			return "", err
		}
	} else if err := CheckPasswordStrength("password", pw, ""); err != nil {
		return "", err
	}
	hash, err := a.hashPassword(ctx, pw)
	if err != nil {
		return "", err
	}
	err = a.Store.InTx(ctx, func(tx Tx) error {
		now := a.now()
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		u, err := tx.UpdateUser(ctx, tenantID, userID, func(u *User) error {
			if u.ManagedByIdP {
				return Invalid("password", "is managed by the identity provider")
			}
			u.PasswordHash, u.UpdatedAt = hash, now
			return nil
		})
		if err != nil {
			return err
		}
		acc, err := tx.UpdateLocalAccount(ctx, tenantID, userID, func(acc *LocalAccount) error {
			if acc.PasswordRestricted && req.ForceChange {
				return Invalid("forceChange", "a password-restricted account cannot change its password, so it cannot be forced to")
			}
			acc.MustChange, acc.FailedCount, acc.LockedUntil, acc.PasswordChangedAt = req.ForceChange, 0, nil, &now
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.EndUserSessions(ctx, tenantID, userID, now); err != nil {
			return err
		}
		if req.SendMail {
			if err := checkNotSuppressed(ctx, tx, tenantID, "email", u.PrimaryEmail()); err != nil {
				return err
			}
			data := MailData{TenantName: t.Name, TenantSlug: t.Slug, Email: u.PrimaryEmail(), DisplayName: u.DisplayName,
				InvitedBy: actorLabel(actor), Password: pw, MustChange: req.ForceChange}
			if err := a.enqueue(ctx, tx, tenantID, MailCredentials, u.ID, u.PrimaryEmail(), data); err != nil {
				return err
			}
		}
		return a.audit(ctx, tx, actor, tenantID, "user.password.reset", "user", userID, nil, acc)
	})
	if err != nil {
		return "", err
	}
	return pw, nil
}

// SetPasswordRestricted grants or removes the password-restricted platform role.
func (a *Accounts) SetPasswordRestricted(ctx context.Context, actor Actor, tenantID, userID string, restricted bool) error {
	return a.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetUser(ctx, tenantID, userID); err != nil {
			return err
		}
		var before LocalAccount
		acc, err := tx.UpdateLocalAccount(ctx, tenantID, userID, func(acc *LocalAccount) error {
			before = *acc
			acc.PasswordRestricted = restricted
			if restricted {
				acc.MustChange = false
			}
			return nil
		})
		if err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, tenantID, "user.password.restrict", "user", userID, &before, acc)
	})
}

// UnlockAccount clears a lockout.
func (a *Accounts) UnlockAccount(ctx context.Context, actor Actor, tenantID, userID string) error {
	return a.Store.InTx(ctx, func(tx Tx) error {
		acc, err := tx.UpdateLocalAccount(ctx, tenantID, userID, func(acc *LocalAccount) error {
			acc.FailedCount, acc.LockedUntil = 0, nil
			return nil
		})
		if err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, tenantID, "user.unlock", "user", userID, nil, acc)
	})
}

// PasswordLoginAllowed reports whether the tenant's users sign in with passwords now
// (Tenant.PasswordLoginAllowed over its connections).
func (a *Accounts) PasswordLoginAllowed(ctx context.Context, t *Tenant) (bool, error) {
	s := a.Store
	conns, err := s.ListConnections(ctx, t.ID)
	if err != nil {
		return false, err
	}
	return t.PasswordLoginAllowed(conns), nil
}

// PasswordLoginRequest is one password sign-in attempt.
type PasswordLoginRequest struct {
	TenantID  string
	Email     string
	Password  string
	IP        string
	UserAgent string
}

// PasswordLogin signs a user in with a password and opens the same kind of session as an
// SSO login (so the platform gets its OIDC login the same way). Every attempt writes a
// login event. Refusals are *LoginRefusedError (bad credentials never say whether the
// account exists); a correct temporary password gives *PasswordChangeRequiredError.
func (a *Accounts) PasswordLogin(ctx context.Context, req PasswordLoginRequest) (*LoginResult, error) {
	s := a.Store
	ev := &LoginEvent{TenantID: req.TenantID, Method: "password", Subject: truncateReason(req.Email), IP: req.IP, UserAgent: req.UserAgent}
	refuseWith := func(u *User, r *LoginRefusedError, fn func(tx Tx) error) (*LoginResult, error) {
		ev.Result, ev.Reason, ev.At = "refused", string(r.Reason), a.now()
		if u != nil {
			ev.UserID = u.ID
		}
		err := a.Store.InTx(ctx, func(tx Tx) error {
			if fn != nil {
				if err := fn(tx); err != nil {
					return err
				}
			}
			return a.appendLogin(ctx, tx, ev)
		})
		if err != nil {
			return nil, err
		}
		return nil, r
	}
	badCreds := refuse(RefuseBadCredentials, "The e-mail address or password is wrong.")

	t, err := s.GetTenant(ctx, req.TenantID)
	if err != nil {
		return nil, err
	}
	if ok, err := a.PasswordLoginAllowed(ctx, t); err != nil {
		return nil, err
	} else if !ok {
		return refuseWith(nil, refuse(RefusePasswordDisabled, "%s signs in with single sign-on only.", t.Name), nil)
	}
	u, err := s.GetUserByUserName(ctx, t.ID, strings.TrimSpace(req.Email))
	if errors.Is(err, ErrNotFound) {
		_, _ = a.verifyPassword(ctx, "", req.Password)
		return refuseWith(nil, badCreds, nil)
	}
	if err != nil {
		return nil, err
	}
	acc, err := s.GetLocalAccount(ctx, t.ID, u.ID)
	if errors.Is(err, ErrNotFound) {
		acc, err = &LocalAccount{TenantID: t.ID, UserID: u.ID}, nil
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	if r := lockedOut(acc, now); r != nil {
		// No hash is computed for a locked account: guessing costs the attacker nothing
		// but costs us nothing either.
		return refuseWith(u, r, nil)
	}
	ok, err := a.verifyPassword(ctx, u.PasswordHash, req.Password)
	if err != nil {
		a.Log.ErrorContext(ctx, "stored password hash unusable", "tenant", t.ID, "user", u.ID, "err", err)
		ok = false
	}
	// The check above ran before the hash, which is slow on purpose: concurrent guesses
	// all pass it before any of them is counted. So the lock is looked at again once the
	// hash is known, atomically with counting a failure, and an attempt that finds the
	// account locked by then gets the locked answer whether its password was right or
	// wrong: a burst of guesses buys no more than the policy's failures, and the answers
	// do not tell the right password from the wrong ones.
	if !ok {
		locked, err := a.countFailureUnlessLocked(ctx, t.ID, u.ID)
		if err != nil {
			return nil, err
		}
		if locked != nil {
			return refuseWith(u, locked, nil)
		}
		return refuseWith(u, badCreds, nil)
	}
	if acc, err = a.localAccount(ctx, s, t.ID, u.ID); err != nil {
		return nil, err
	}
	if r := lockedOut(acc, a.now()); r != nil {
		return refuseWith(u, r, nil)
	}
	switch {
	case u.Status == StatusDeactivated:
		return refuseWith(u, refuse(RefuseDeactivated, "Your account is deactivated. Ask your administrator to reactivate it."), nil)
	case u.Status == StatusInvited:
		return refuseWith(u, refuse(RefuseNotAccepted, "Accept your invitation first: use the link in the invitation e-mail."), nil)
	case !u.Seat:
		return refuseWith(u, refuse(RefuseNoSeat, "Your account has no seat in %s yet. Ask your administrator to assign one.", t.Name), nil)
	}
	tf, err := a.getTwoFactor(ctx, t.ID, u.ID)
	if err != nil {
		return nil, err
	}
	if tf.Enabled() || t.Policy.RequireTwoFactor {
		// The failure counter is not reset here: a password alone must not buy fresh
		// guesses at the second factor.
		ticket, err := randomSecret()
		if err != nil {
			return nil, err
		}
		data, _ := json.Marshal(map[string]string{"userId": u.ID})
		if err := s.PutState(ctx, &AuthState{Kind: StateSecondFactor, Key: secretKey(ticket), TenantID: t.ID, Data: data,
			CreatedAt: now, ExpiresAt: now.Add(secondFactorTTL)}); err != nil {
			return nil, err
		}
		ev.Result, ev.Reason, ev.UserID, ev.At = "challenge", "second_factor_required", u.ID, now
		if err := a.Store.InTx(ctx, func(tx Tx) error { return a.appendLogin(ctx, tx, ev) }); err != nil {
			return nil, err
		}
		return nil, &SecondFactorRequiredError{Ticket: ticket, Enrol: !tf.Enabled()}
	}
	return a.afterFirstFactor(ctx, s, t, u, acc, ev)
}

// afterFirstFactor finishes a sign-in whose factors are proven: a temporary password
// asks for a new one first, otherwise the session opens.
func (a *Accounts) afterFirstFactor(ctx context.Context, s Store, t *Tenant, u *User, acc *LocalAccount, ev *LoginEvent) (*LoginResult, error) {
	now := a.now()
	if acc.MustChange && !acc.PasswordRestricted {
		ticket, err := randomSecret()
		if err != nil {
			return nil, err
		}
		data, _ := json.Marshal(map[string]string{"userId": u.ID})
		if err := s.PutState(ctx, &AuthState{Kind: StatePasswordChange, Key: secretKey(ticket), TenantID: t.ID, Data: data,
			CreatedAt: now, ExpiresAt: now.Add(passwordChangeTTL)}); err != nil {
			return nil, err
		}
		ev.Result, ev.Reason, ev.UserID, ev.At = "challenge", "password_change_required", u.ID, now
		if err := a.Store.InTx(ctx, func(tx Tx) error {
			if _, err := tx.UpdateLocalAccount(ctx, t.ID, u.ID, func(acc *LocalAccount) error {
				acc.FailedCount, acc.LockedUntil = 0, nil
				return nil
			}); err != nil {
				return err
			}
			return a.appendLogin(ctx, tx, ev)
		}); err != nil {
			return nil, err
		}
		return nil, &PasswordChangeRequiredError{Ticket: ticket}
	}
	return a.openPasswordSession(ctx, t, u.ID, ev, nil)
}

// openPasswordSession resets the failure counter, opens a session and records the login,
// optionally after change (which runs first in the same transaction).
func (a *Accounts) openPasswordSession(ctx context.Context, t *Tenant, userID string, ev *LoginEvent, change func(tx Tx) error) (*LoginResult, error) {
	var res *LoginResult
	err := a.Store.InTx(ctx, func(tx Tx) error {
		now := a.now()
		if change != nil {
			if err := change(tx); err != nil {
				return err
			}
		}
		if _, err := tx.UpdateLocalAccount(ctx, t.ID, userID, func(acc *LocalAccount) error {
			acc.FailedCount, acc.LockedUntil = 0, nil
			return nil
		}); err != nil {
			return err
		}
		if err := tx.TouchLastLogin(ctx, t.ID, userID, now); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, t.ID, userID)
		if err != nil {
			return err
		}
		ttl := a.SessionTTL
		if ttl <= 0 {
			ttl = DefaultSessionTTL
		}
		secret, sess, err := a.newSession(u, &Connection{}, LoginRequest{Method: "pwd", SessionTTL: ttl}, now)
		if err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		u.LastLoginAt = &now
		ev.UserID, ev.Result, ev.Reason, ev.At = u.ID, "success", "", now
		if err := a.appendLogin(ctx, tx, ev); err != nil {
			return err
		}
		res = &LoginResult{User: u, Session: sess, SessionSecret: secret}
		return nil
	})
	return res, err
}

// CompletePasswordChange finishes a sign-in that needed a new password: the ticket is
// used up, the new password replaces the temporary one and a session opens.
func (a *Accounts) CompletePasswordChange(ctx context.Context, tenantID, ticket, newPassword, ip, userAgent string) (*LoginResult, error) {
	s := a.Store
	now := a.now()
	u, err := a.ticketUser(ctx, s, StatePasswordChange, tenantID, ticket)
	if err != nil {
		return nil, err
	}
	if err := CheckPasswordStrength("password", newPassword, u.PrimaryEmail(), userWords(u)...); err != nil {
		return nil, err
	}
	if same, _ := a.verifyPassword(ctx, u.PasswordHash, newPassword); same {
		return nil, Invalid("password", "must differ from the temporary password")
	}
	hash, err := a.hashPassword(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	// Taken only now, so that a refused new password leaves the ticket usable.
	if _, err := s.TakeState(ctx, StatePasswordChange, secretKey(ticket), now); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrSessionEnded
		}
		return nil, err
	}
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	ev := &LoginEvent{TenantID: tenantID, Method: "password", Subject: u.UserName, IP: ip, UserAgent: userAgent}
	actor := Actor{Kind: ActorUser, ID: u.ID, Name: u.UserName, IP: ip}
	return a.openPasswordSession(ctx, t, u.ID, ev, func(tx Tx) error {
		return a.setOwnPassword(ctx, tx, actor, tenantID, u.ID, hash, true)
	})
}

// setOwnPassword stores a password the user chose. Restricted accounts may not; forced
// is the change a temporary password demands, which must still be pending.
func (a *Accounts) setOwnPassword(ctx context.Context, tx Tx, actor Actor, tenantID, userID, hash string, forced bool) error {
	now := a.now()
	if _, err := tx.UpdateLocalAccount(ctx, tenantID, userID, func(acc *LocalAccount) error {
		if acc.PasswordRestricted {
			return ErrPasswordRestricted
		}
		if forced && !acc.MustChange {
			return ErrSessionEnded
		}
		acc.MustChange, acc.PasswordChangedAt = false, &now
		return nil
	}); err != nil {
		return err
	}
	if _, err := tx.UpdateUser(ctx, tenantID, userID, func(u *User) error {
		u.PasswordHash, u.UpdatedAt = hash, now
		return nil
	}); err != nil {
		return err
	}
	return a.audit(ctx, tx, actor, tenantID, "user.password.change", "user", userID, nil, nil)
}

// ChangeOwnPassword lets a signed-in user replace its password after proving the current
// one (a wrong one counts towards the lockout). Password-restricted accounts get
// ErrPasswordRestricted.
func (a *Accounts) ChangeOwnPassword(ctx context.Context, tenantID, userID, current, newPassword, ip string) error {
	s := a.Store
	u, err := s.GetUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if u.IdPManaged() {
		return &ForbiddenError{Reason: "your password is managed by your identity provider; change it there"}
	}
	acc, err := s.GetLocalAccount(ctx, tenantID, userID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if acc != nil && acc.PasswordRestricted {
		return ErrPasswordRestricted
	}
	if acc != nil && acc.LockedUntil != nil && a.now().Before(*acc.LockedUntil) {
		return refuse(RefuseLockedOut, "Too many failed attempts. Try again later.")
	}
	if err := CheckPasswordStrength("password", newPassword, u.PrimaryEmail(), userWords(u)...); err != nil {
		return err
	}
	ok, err := a.verifyPassword(ctx, u.PasswordHash, current)
	if err != nil || !ok {
		locked, err := a.countFailureUnlessLocked(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		if locked != nil {
			return locked
		}
		return Invalid("currentPassword", "is wrong")
	}
	// Concurrent wrong guesses may have locked the account while this hash ran: a right
	// password found after the lock changes nothing, as at sign-in.
	if acc, err = s.GetLocalAccount(ctx, tenantID, userID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if r := lockedOut(acc, a.now()); r != nil {
		return r
	}
	hash, err := a.hashPassword(ctx, newPassword)
	if err != nil {
		return err
	}
	actor := Actor{Kind: ActorUser, ID: userID, Name: u.UserName, IP: ip}
	return a.Store.InTx(ctx, func(tx Tx) error {
		return a.setOwnPassword(ctx, tx, actor, tenantID, userID, hash, false)
	})
}

// userWords are the user's own names, which a password must not lean on.
func userWords(u *User) []string {
	return []string{u.DisplayName, u.Name.GivenName, u.Name.FamilyName, u.UserName}
}

// ticketUser resolves a sign-in ticket of kind (password change, second factor) to its
// user without using it up; an unknown, expired or other tenant's ticket, or a user gone
// since, is ErrSessionEnded.
func (a *Accounts) ticketUser(ctx context.Context, s Store, kind, tenantID, ticket string) (*User, error) {
	if ticket == "" || len(ticket) > 128 {
		return nil, ErrSessionEnded
	}
	st, err := s.GetState(ctx, kind, secretKey(ticket), a.now())
	if errors.Is(err, ErrNotFound) || (err == nil && st.TenantID != tenantID) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, err
	}
	var data struct {
		UserID string `json:"userId"`
	}
	if err := json.Unmarshal(st.Data, &data); err != nil {
		return nil, fmt.Errorf("%s ticket: %w", kind, err)
	}
	u, err := s.GetUser(ctx, tenantID, data.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrSessionEnded
	}
	return u, err
}

func randomSecret() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

func secretKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// PasswordRestricted reports whether the user may not change its own password.
func (a *Accounts) PasswordRestricted(ctx context.Context, tenantID, userID string) (bool, error) {
	s := a.Store
	acc, err := a.localAccount(ctx, s, tenantID, userID)
	if err != nil {
		return false, err
	}
	return acc.PasswordRestricted, nil
}

// localAccount returns the user's local account row, or an empty one when it has none.
func (a *Accounts) localAccount(ctx context.Context, s Store, tenantID, userID string) (*LocalAccount, error) {
	acc, err := s.GetLocalAccount(ctx, tenantID, userID)
	if errors.Is(err, ErrNotFound) {
		return &LocalAccount{TenantID: tenantID, UserID: userID}, nil
	}
	return acc, err
}
