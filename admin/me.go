package admin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file is self-service under /me: any signed-in user (no permission needed) reads
// their profile, edits their names, external ID (unless an identity provider manages
// them) and language, changes their password with the current one, lists and ends their
// sessions, and sets up a TOTP second factor. Admin tokens have no account of their own:
// they get the caller view of GET /me and 403 elsewhere.

// ownUser returns the signed-in user's id, or answers 403 for a token.
func ownUser(w http.ResponseWriter, p *provisioning.Principal) (string, bool) {
	if p.Actor.Kind != provisioning.ActorUser || p.Actor.ID == "" {
		writeError(w, http.StatusForbidden, "forbidden", "an admin token has no account of its own; sign in as a user", "")
		return "", false
	}
	return p.Actor.ID, true
}

type meView struct {
	Actor       map[string]string             `json:"actor"`
	Tenant      map[string]string             `json:"tenant"`
	Admin       bool                          `json:"admin"`
	Permissions []provisioning.Permission     `json:"permissions"`
	User        *userView                     `json:"user,omitempty"`
	TwoFactor   *provisioning.TwoFactorStatus `json:"twoFactor,omitempty"`
	// PasswordRestricted: this account may not change its own password.
	PasswordRestricted bool `json:"passwordRestricted"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	out := meView{
		Actor:       map[string]string{"kind": string(p.Actor.Kind), "id": p.Actor.ID, "name": p.Actor.Name},
		Tenant:      map[string]string{"id": p.Tenant.ID, "slug": p.Tenant.Slug, "name": p.Tenant.Name},
		Admin:       p.Admin,
		Permissions: nonNil(p.Permissions),
	}
	if p.Actor.Kind == provisioning.ActorUser {
		u, err := a.eng.GetUser(r.Context(), p.Tenant.ID, p.Actor.ID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		v := viewUser(u)
		out.User = &v
		if acc := a.opts.Accounts; acc != nil {
			if out.TwoFactor, err = acc.TwoFactorStatus(r.Context(), p.Tenant.ID, u.ID); err != nil {
				a.fail(w, r, err)
				return
			}
			if out.PasswordRestricted, err = acc.PasswordRestricted(r.Context(), p.Tenant.ID, u.ID); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		w.Header().Set("ETag", `W/"`+itoa(u.Version)+`"`)
	}
	writeJSON(w, http.StatusOK, out)
}

type selfEditReq struct {
	GivenName         *string `json:"givenName"`
	FamilyName        *string `json:"familyName"`
	DisplayName       *string `json:"displayName"`
	ExternalID        *string `json:"externalId"`
	PreferredLanguage *string `json:"preferredLanguage"`
}

// editMe: PATCH /me changes the signed-in user's own profile. The e-mail address is not
// editable here (an admin changes it), as seed "Platform User" says.
func (a *API) editMe(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	if _, ok := ownUser(w, p); !ok {
		return
	}
	var in selfEditReq
	if err := a.decode(w, r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.eng.EditOwnProfile(r.Context(), p.Actor, p.Tenant.ID, provisioning.SelfEdit(in)); err != nil {
		a.fail(w, r, err)
		return
	}
	a.me(w, r, p)
}

// changeMyPassword: POST /me/password {"currentPassword", "newPassword"}. A wrong current
// password counts towards the lockout; a password-restricted account gets 403.
func (a *API) changeMyPassword(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	id, ok := ownUser(w, p)
	if !ok {
		return
	}
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	var in struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	if err := a.decode(w, r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if in.CurrentPassword == "" {
		a.fail(w, r, badf("currentPassword", "is required"))
		return
	}
	if in.NewPassword == "" {
		a.fail(w, r, badf("newPassword", "is required"))
		return
	}
	err := acc.ChangeOwnPassword(r.Context(), p.Tenant.ID, id, in.CurrentPassword, in.NewPassword, p.Actor.IP)
	var ve *provisioning.ValidationError
	var le *provisioning.LoginRefusedError
	switch {
	case errors.As(err, &ve) && ve.Field == "password":
		writeError(w, http.StatusBadRequest, "invalid", ve.Reason, "newPassword")
	case errors.As(err, &le):
		writeError(w, http.StatusTooManyRequests, string(le.Reason), le.Message, "")
	case err != nil:
		a.failAccounts(w, r, err)
	default:
		// Whoever knew the old password is signed out everywhere but here.
		if _, err := a.eng.EndOtherSessions(r.Context(), p.Actor, p.Tenant.ID, p.SessionID); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// endMyOtherSessions: DELETE /me/sessions signs out every other device.
func (a *API) endMyOtherSessions(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	if _, ok := ownUser(w, p); !ok {
		return
	}
	n, err := a.eng.EndOtherSessions(r.Context(), p.Actor, p.Tenant.ID, p.SessionID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"ended": n})
}

type sessionView struct {
	ID        string    `json:"id"`
	Method    string    `json:"method"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Current   bool      `json:"current"`
}

func (a *API) mySessions(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	id, ok := ownUser(w, p)
	if !ok {
		return
	}
	ss, err := a.eng.OwnSessions(r.Context(), p.Tenant.ID, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]sessionView, len(ss))
	for i, s := range ss {
		out[i] = sessionView{ID: s.ID, Method: s.AMR, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Current: s.ID == p.SessionID}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// endMySession: DELETE /me/sessions/{id} signs one of the user's sessions out (also the
// current one); another user's session is 404.
func (a *API) endMySession(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	if _, ok := ownUser(w, p); !ok {
		return
	}
	if err := a.eng.EndOwnSession(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) myTwoFactor(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	id, ok := ownUser(w, p)
	if !ok {
		return
	}
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	st, err := acc.TwoFactorStatus(r.Context(), p.Tenant.ID, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// beginTOTP: POST /me/2fa/totp starts an authenticator set-up: the secret, its otpauth://
// URI and a PNG QR code (base64), shown once. It protects nothing until confirmed.
func (a *API) beginTOTP(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	id, ok := ownUser(w, p)
	if !ok {
		return
	}
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	en, err := acc.BeginTOTP(r.Context(), p.Tenant.ID, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, en)
}

type codeReq struct {
	Code string `json:"code"`
}

// confirmTOTP: POST /me/2fa/totp/confirm {"code"} enables the authenticator and returns
// the recovery codes, shown once.
func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	id, ok := ownUser(w, p)
	if !ok {
		return
	}
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	var in codeReq
	if err := a.decode(w, r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	codes, err := acc.ConfirmTOTP(r.Context(), p.Actor, p.Tenant.ID, id, in.Code)
	if a.failLocked(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recoveryCodes": codes})
}

// removeTOTP: DELETE /me/2fa/totp {"code"} with a current or recovery code.
func (a *API) removeTOTP(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	id, ok := ownUser(w, p)
	if !ok {
		return
	}
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	var in codeReq
	if err := a.decode(w, r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if a.failLocked(w, r, acc.RemoveTOTP(r.Context(), p.Actor, p.Tenant.ID, id, in.Code)) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// failLocked answers err (a lockout is 429); it reports whether there was one.
func (a *API) failLocked(w http.ResponseWriter, r *http.Request, err error) bool {
	var le *provisioning.LoginRefusedError
	switch {
	case err == nil:
		return false
	case errors.As(err, &le):
		writeError(w, http.StatusTooManyRequests, string(le.Reason), le.Message, "")
	default:
		a.fail(w, r, err)
	}
	return true
}

// userTwoFactor: GET /users/{id}/2fa tells an admin whether a user has a second factor.
func (a *API) userTwoFactor(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	if _, err := a.eng.GetUser(r.Context(), p.Tenant.ID, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	st, err := acc.TwoFactorStatus(r.Context(), p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// resetTwoFactor: DELETE /users/{id}/2fa removes a user's authenticator (lost phone).
func (a *API) resetTwoFactor(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	acc := a.accounts(w)
	if acc == nil {
		return
	}
	if err := acc.ResetTwoFactor(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
