package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/skip2/go-qrcode"
)

// TwoFactor is a user's TOTP authenticator (RFC 6238). SecretSealed is the base32 secret
// sealed by the Accounts' Sealer; RecoveryHashes are SHA-256 hex digests of the unused
// recovery codes. ConfirmedAt is nil while the enrolment waits for its first code.
type TwoFactor struct {
	TenantID       string
	UserID         string
	SecretSealed   []byte
	ConfirmedAt    *time.Time
	LastStep       int64
	RecoveryHashes []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Enabled reports whether the authenticator is confirmed and so asked for at sign-in.
func (t *TwoFactor) Enabled() bool { return t != nil && t.ConfirmedAt != nil }

// TOTP parameters: the RFC 6238 defaults every authenticator app understands.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew accepts the code of the step before and after (clock drift of a phone).
	totpSkew = 1
	// recoveryCodeCount recovery codes are issued at enrolment, each usable once.
	recoveryCodeCount = 10
	// StateSecondFactor is the SSO state kind (Store.PutState) of sign-in tickets waiting for a second
	// factor.
	StateSecondFactor = "second_factor"
	secondFactorTTL   = 10 * time.Minute
)

// Refusal reasons of the second factor.
const (
	RefuseBadSecondFactor RefusalReason = "bad_second_factor"
)

// SecondFactorRequiredError is returned by a correct password when the account has a
// second factor, or the tenant requires one (Enrol: the user sets one up now). Ticket
// (single use, short-lived) lets CompleteSecondFactor finish the sign-in.
type SecondFactorRequiredError struct {
	Ticket string
	Enrol  bool
}

func (e *SecondFactorRequiredError) Error() string { return "second factor required" }

// TOTPEnrolment is a new authenticator secret shown once: the base32 secret for manual
// entry, the otpauth:// URI and a PNG QR code of it.
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"otpauthUri"`
	QRPNG  []byte `json:"qrPng"`
}

// TwoFactorStatus is what a user (or admin) sees of a second factor.
type TwoFactorStatus struct {
	TOTP             bool       `json:"totp"`
	EnabledAt        *time.Time `json:"enabledAt,omitempty"`
	RecoveryCodes    int        `json:"recoveryCodesLeft"`
	Required         bool       `json:"required"`
	PendingEnrolment bool       `json:"pendingEnrolment"`
}

// getTwoFactor returns the user's second factor, nil when there is none.
func (a *Accounts) getTwoFactor(ctx context.Context, tenantID, userID string) (*TwoFactor, error) {
	r := a.Store
	tf, err := r.GetTwoFactor(ctx, tenantID, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return tf, err
}

func totpContext(userID string) string { return "totp:" + userID }

func (a *Accounts) openSecret(tf *TwoFactor) (string, error) {
	if a.Sealer == nil {
		return "", errors.New("two factor: no sealer configured")
	}
	raw, err := a.Sealer.Open(tf.SecretSealed, totpContext(tf.UserID))
	if err != nil {
		return "", fmt.Errorf("two factor secret: %w", err)
	}
	return string(raw), nil
}

// TwoFactorStatus reports the user's second factor and whether the tenant requires one.
func (a *Accounts) TwoFactorStatus(ctx context.Context, tenantID, userID string) (*TwoFactorStatus, error) {
	t, err := a.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	tf, err := a.getTwoFactor(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	st := &TwoFactorStatus{Required: t.Policy.RequireTwoFactor}
	if tf != nil {
		st.TOTP, st.EnabledAt, st.RecoveryCodes, st.PendingEnrolment = tf.Enabled(), tf.ConfirmedAt, len(tf.RecoveryHashes), !tf.Enabled()
	}
	return st, nil
}

// BeginTOTP starts (or restarts) the enrolment of an authenticator: a new secret is
// sealed and stored unconfirmed; it protects nothing until ConfirmTOTP proves the app
// produces its codes. A user with a confirmed authenticator removes it first.
func (a *Accounts) BeginTOTP(ctx context.Context, tenantID, userID string) (*TOTPEnrolment, error) {
	if a.Sealer == nil {
		return nil, errors.New("two factor: no sealer configured")
	}
	var out *TOTPEnrolment
	err := a.inTenantTx(ctx, tenantID, func(tx Tx, t *Tenant) error {
		u, err := tx.GetUser(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		_, err = tx.UpdateTwoFactor(ctx, tenantID, userID, func(tf *TwoFactor) error {
			if tf.Enabled() {
				return &RuleError{Field: "totp", Reason: "an authenticator is already set up; remove it first to set up another"}
			}
			var err error
			if out, err = totpEnrolment(t, u, nil); err != nil {
				return err
			}
			sealed, err := a.Sealer.Seal([]byte(out.Secret), totpContext(userID))
			if err != nil {
				return fmt.Errorf("seal totp secret: %w", err)
			}
			now := a.now()
			if tf.CreatedAt.IsZero() {
				tf.CreatedAt = now
			}
			tf.SecretSealed, tf.ConfirmedAt, tf.LastStep, tf.RecoveryHashes, tf.UpdatedAt = sealed, nil, 0, nil, now
			return nil
		})
		return err
	})
	return out, err
}

// totpEnrolment makes the key of an authenticator (a new random secret, or the given one)
// with its otpauth:// URI and QR code.
func totpEnrolment(t *Tenant, u *User, secret []byte) (*TOTPEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: t.Name, AccountName: u.UserName, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Secret: secret, Rand: rand.Reader})
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	png, err := qrcode.Encode(key.URL(), qrcode.Medium, 256)
	if err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	return &TOTPEnrolment{Secret: key.Secret(), URI: key.URL(), QRPNG: png}, nil
}

// matchTOTP returns the time step whose code equals code (within the skew) and is newer
// than last, comparing in constant time; 0 when none does.
func matchTOTP(secret, code string, now time.Time, last int64) (int64, error) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits.Length() {
		return 0, nil
	}
	step := now.Unix() / totpPeriod
	var found int64
	for s := step - totpSkew; s <= step+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totp.ValidateOpts{Period: totpPeriod,
			Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, fmt.Errorf("totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > last {
			found = s
		}
	}
	return found, nil
}

func recoveryHash(code string) string {
	code = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// newRecoveryCodes returns codes like "k7qm2-x9fd4" (50 bits each) and their hashes.
func newRecoveryCodes() ([]string, []string, error) {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	codes, hashes := make([]string, recoveryCodeCount), make([]string, recoveryCodeCount)
	for i := range codes {
		var sb strings.Builder
		for j := range 10 {
			if j == 5 {
				sb.WriteByte('-')
			}
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			if err != nil {
				return nil, nil, fmt.Errorf("recovery code: %w", err)
			}
			sb.WriteByte(alphabet[n.Int64()])
		}
		codes[i], hashes[i] = sb.String(), recoveryHash(sb.String())
	}
	return codes, hashes, nil
}

// checkSecondFactor verifies a TOTP code, or a recovery code (used up), against tf and
// records the accepted step. It reports false for a wrong code without changing tf.
func (a *Accounts) checkSecondFactor(tf *TwoFactor, code string) (bool, error) {
	secret, err := a.openSecret(tf)
	if err != nil {
		return false, err
	}
	step, err := matchTOTP(secret, code, a.now(), tf.LastStep)
	if err != nil {
		return false, err
	}
	if step > 0 {
		tf.LastStep, tf.UpdatedAt = step, a.now()
		return true, nil
	}
	if !tf.Enabled() {
		return false, nil
	}
	h := recoveryHash(code)
	for i, x := range tf.RecoveryHashes {
		if subtle.ConstantTimeCompare([]byte(x), []byte(h)) == 1 {
			tf.RecoveryHashes = append(tf.RecoveryHashes[:i:i], tf.RecoveryHashes[i+1:]...)
			tf.UpdatedAt = a.now()
			return true, nil
		}
	}
	return false, nil
}

// confirmTx confirms a pending enrolment with its first code and issues recovery codes.
func (a *Accounts) confirmTx(ctx context.Context, tx Tx, actor Actor, tenantID, userID, code string) ([]string, error) {
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	ok := false
	tf, err := tx.UpdateTwoFactor(ctx, tenantID, userID, func(tf *TwoFactor) error {
		if tf.CreatedAt.IsZero() {
			return &RuleError{Field: "totp", Reason: "no authenticator set-up is in progress; start one first"}
		}
		if tf.Enabled() {
			return &RuleError{Field: "totp", Reason: "the authenticator is already confirmed"}
		}
		if ok, err = a.checkSecondFactor(tf, code); err != nil || !ok {
			return err
		}
		now := a.now()
		tf.ConfirmedAt, tf.RecoveryHashes = &now, hashes
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Invalid("code", "is not the current code of the authenticator app; check the phone's clock and try the next code")
	}
	return codes, a.audit(ctx, tx, actor, tenantID, "user.2fa.enable", "user", userID, nil, map[string]any{"totp": true, "enabledAt": tf.ConfirmedAt})
}

// ConfirmTOTP finishes an enrolment with the app's current code and returns the recovery
// codes, shown once. A wrong code counts towards the account's lockout.
func (a *Accounts) ConfirmTOTP(ctx context.Context, actor Actor, tenantID, userID, code string) ([]string, error) {
	if err := a.refuseLocked(ctx, tenantID, userID); err != nil {
		return nil, err
	}
	var codes []string
	err := a.Store.InTx(ctx, func(tx Tx) error {
		var err error
		codes, err = a.confirmTx(ctx, tx, actor, tenantID, userID, code)
		return err
	})
	var ve *ValidationError
	if errors.As(err, &ve) && ve.Field == "code" {
		if ferr := a.countSecondFactorFailure(ctx, tenantID, userID); ferr != nil {
			return nil, ferr
		}
	}
	return codes, err
}

// refuseLocked refuses a locked account before any code is checked.
func (a *Accounts) refuseLocked(ctx context.Context, tenantID, userID string) error {
	s := a.Store
	acc, err := a.localAccount(ctx, s, tenantID, userID)
	if err != nil {
		return err
	}
	if acc.LockedUntil != nil && a.now().Before(*acc.LockedUntil) {
		return refuse(RefuseLockedOut, "Too many failed attempts. Try again later or ask your administrator to unlock your account.")
	}
	return nil
}

func (a *Accounts) countSecondFactorFailure(ctx context.Context, tenantID, userID string) error {
	return a.Store.InTx(ctx, func(tx Tx) error {
		_, err := tx.UpdateLocalAccount(ctx, tenantID, userID, func(acc *LocalAccount) error {
			a.countFailure(acc)
			return nil
		})
		return err
	})
}

// RemoveTOTP removes the user's own authenticator after a current code or a recovery
// code. A tenant that requires a second factor keeps it: the user sets up a new one
// instead (an admin may reset it with ResetTwoFactor).
func (a *Accounts) RemoveTOTP(ctx context.Context, actor Actor, tenantID, userID, code string) error {
	if err := a.refuseLocked(ctx, tenantID, userID); err != nil {
		return err
	}
	wrong := false
	err := a.inTenantTx(ctx, tenantID, func(tx Tx, t *Tenant) error {
		tf, err := tx.GetTwoFactor(ctx, tenantID, userID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if tf.Enabled() {
			if t.Policy.RequireTwoFactor {
				return &RuleError{Field: "totp", Reason: t.Name + " requires a second factor; ask an administrator to reset it if you lost your device"}
			}
			ok, err := a.checkSecondFactor(tf, code)
			if err != nil {
				return err
			}
			if !ok {
				wrong = true
				return Invalid("code", "is neither the current code of the authenticator app nor an unused recovery code")
			}
		}
		if err := tx.DeleteTwoFactor(ctx, tenantID, userID); err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, tenantID, "user.2fa.disable", "user", userID, map[string]bool{"totp": tf.Enabled()}, nil)
	})
	if wrong {
		if ferr := a.countSecondFactorFailure(ctx, tenantID, userID); ferr != nil {
			return ferr
		}
	}
	return err
}

// ResetTwoFactor is an admin's removal of a user's authenticator (a lost phone); the
// user's sessions end, and a tenant that requires a second factor asks for a new one at
// the next sign-in.
func (a *Accounts) ResetTwoFactor(ctx context.Context, actor Actor, tenantID, userID string) error {
	return a.Store.InTx(ctx, func(tx Tx) error {
		pw, err := a.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		if err := pw.mayManage(u); err != nil {
			return err
		}
		if err := tx.DeleteTwoFactor(ctx, tenantID, userID); err != nil {
			return err
		}
		if err := tx.EndUserSessions(ctx, tenantID, userID, a.now()); err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, tenantID, "user.2fa.reset", "user", userID, nil, nil)
	})
}

// secondFactorTicket resolves a sign-in ticket waiting for a second factor, without
// using it up.
func (a *Accounts) secondFactorTicket(ctx context.Context, s Store, tenantID, ticket string) (*User, error) {
	return a.ticketUser(ctx, s, StateSecondFactor, tenantID, ticket)
}

// EnrolForTicket starts the authenticator set-up of a user whose tenant requires a
// second factor, during sign-in (the password is proven by the ticket).
func (a *Accounts) EnrolForTicket(ctx context.Context, tenantID, ticket string) (*TOTPEnrolment, error) {
	s := a.Store
	u, err := a.secondFactorTicket(ctx, s, tenantID, ticket)
	if err != nil {
		return nil, err
	}
	tf, err := a.getTwoFactor(ctx, tenantID, u.ID)
	switch {
	case err != nil:
		return nil, err
	case tf.Enabled():
		return nil, ErrSessionEnded
	case tf != nil:
		// A set-up already under way keeps its secret: the code scanned a moment ago
		// (before a reload or a mistyped code) stays valid.
		secret, err := a.openSecret(tf)
		if err != nil {
			return nil, err
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		if err != nil {
			return nil, fmt.Errorf("two factor secret: %w", err)
		}
		t, err := s.GetTenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		return totpEnrolment(t, u, raw)
	}
	return a.BeginTOTP(ctx, tenantID, u.ID)
}

// SecondFactorResult is a sign-in finished by its second factor; RecoveryCodes are set
// (and shown once) when the factor was enrolled just now.
type SecondFactorResult struct {
	*LoginResult
	RecoveryCodes []string
}

// CompleteSecondFactor finishes a password sign-in with a TOTP or recovery code (or the
// first code of an enrolment the tenant requires). A wrong code counts towards the same
// lockout as a wrong password and leaves the ticket usable until it expires; a locked
// account is refused before any code is checked. A temporary password then still asks
// for a new one (*PasswordChangeRequiredError).
func (a *Accounts) CompleteSecondFactor(ctx context.Context, tenantID, ticket, code, ip, userAgent string) (*SecondFactorResult, error) {
	s := a.Store
	u, err := a.secondFactorTicket(ctx, s, tenantID, ticket)
	if err != nil {
		return nil, err
	}
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	acc, err := a.localAccount(ctx, s, tenantID, u.ID)
	if err != nil {
		return nil, err
	}
	ev := &LoginEvent{TenantID: tenantID, UserID: u.ID, Method: "password", Subject: u.UserName, IP: ip, UserAgent: userAgent}
	refused := func(r *LoginRefusedError, count bool) (*SecondFactorResult, error) {
		ev.Result, ev.Reason, ev.At = "refused", string(r.Reason), a.now()
		err := a.Store.InTx(ctx, func(tx Tx) error {
			if count {
				if _, err := tx.UpdateLocalAccount(ctx, tenantID, u.ID, func(acc *LocalAccount) error {
					a.countFailure(acc)
					return nil
				}); err != nil {
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
	now := a.now()
	if r := lockedOut(acc, now); r != nil {
		return refused(r, false)
	}
	tf, err := a.getTwoFactor(ctx, tenantID, u.ID)
	if err != nil {
		return nil, err
	}
	res := &SecondFactorResult{}
	ok := false
	var locked *LoginRefusedError
	err = a.Store.InTx(ctx, func(tx Tx) error {
		// The lock is looked at again in the transaction that checks the code and counts
		// a wrong one (the user row is locked first, as by every writer of the account):
		// concurrent guesses would otherwise all pass the check above before any of them
		// is counted. An attempt that finds the account locked gets the locked answer
		// whatever its code.
		if _, err := tx.UpdateLocalAccount(ctx, tenantID, u.ID, func(acc *LocalAccount) error {
			if locked = lockedOut(acc, a.now()); locked != nil {
				return errLockedMeanwhile
			}
			return nil
		}); err != nil {
			if errors.Is(err, errLockedMeanwhile) {
				return nil
			}
			return err
		}
		check := func() error {
			if !tf.Enabled() {
				if !t.Policy.RequireTwoFactor || tf == nil {
					return ErrSessionEnded
				}
				codes, err := a.confirmTx(ctx, tx, Actor{Kind: ActorUser, ID: u.ID, Name: u.UserName, IP: ip}, tenantID, u.ID, code)
				var ve *ValidationError
				if errors.As(err, &ve) && ve.Field == "code" {
					return nil
				}
				res.RecoveryCodes, ok = codes, err == nil
				return err
			}
			_, err := tx.UpdateTwoFactor(ctx, tenantID, u.ID, func(tf *TwoFactor) error {
				var err error
				ok, err = a.checkSecondFactor(tf, code)
				return err
			})
			return err
		}
		if err := check(); err != nil || ok {
			return err
		}
		_, err := tx.UpdateLocalAccount(ctx, tenantID, u.ID, func(acc *LocalAccount) error {
			a.countFailure(acc)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if locked != nil {
		return refused(locked, false)
	}
	if !ok {
		// Counted above, in the transaction that checked the code.
		return refused(refuse(RefuseBadSecondFactor, "The code is wrong. Enter the current code of your authenticator app, or one of your recovery codes."), false)
	}
	// Used up only now, so that a mistyped code leaves the ticket usable.
	if _, err := s.TakeState(ctx, StateSecondFactor, secretKey(ticket), now); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrSessionEnded
		}
		return nil, err
	}
	lr, err := a.afterFirstFactor(ctx, s, t, u, acc, ev)
	var pc *PasswordChangeRequiredError
	if errors.As(err, &pc) {
		pc.RecoveryCodes = res.RecoveryCodes
	}
	if err != nil {
		return nil, err
	}
	res.LoginResult = lr
	return res, nil
}
