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

// ownUser returns the signed-in user's id, or a 403 for a token.
func ownUser(p *provisioning.Principal) (string, error) {
	if p.Actor.Kind != provisioning.ActorUser || p.Actor.ID == "" {
		return "", apiErr(http.StatusForbidden, "forbidden", "an admin token has no account of its own; sign in as a user", "")
	}
	return p.Actor.ID, nil
}

// ownAccount returns the signed-in user's id and the Accounts service that serves their
// password and second factor (403 for a token, 501 without the service).
func (a *API) ownAccount(p *provisioning.Principal) (string, *provisioning.Accounts, error) {
	id, err := ownUser(p)
	if err != nil {
		return "", nil, err
	}
	acc, err := a.accounts()
	return id, acc, err
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

func (a *API) me(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	out := meView{
		Actor:       map[string]string{"kind": string(p.Actor.Kind), "id": p.Actor.ID, "name": p.Actor.Name},
		Tenant:      map[string]string{"id": p.Tenant.ID, "slug": p.Tenant.Slug, "name": p.Tenant.Name},
		Admin:       p.Admin,
		Permissions: nonNil(p.Permissions),
	}
	if p.Actor.Kind == provisioning.ActorUser {
		u, err := a.eng.GetUser(r.Context(), p.Tenant.ID, p.Actor.ID)
		if err != nil {
			return err
		}
		v := viewUser(u)
		out.User = &v
		if acc := a.opts.Accounts; acc != nil {
			if out.TwoFactor, err = acc.TwoFactorStatus(r.Context(), p.Tenant.ID, u.ID); err != nil {
				return err
			}
			if out.PasswordRestricted, err = acc.PasswordRestricted(r.Context(), p.Tenant.ID, u.ID); err != nil {
				return err
			}
		}
		w.Header().Set("ETag", `W/"`+itoa(u.Version)+`"`)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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
func (a *API) editMe(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	if _, err := ownUser(p); err != nil {
		return err
	}
	var in selfEditReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if _, err := a.eng.EditOwnProfile(r.Context(), p.Actor, p.Tenant.ID, provisioning.SelfEdit(in)); err != nil {
		return err
	}
	a.me(w, r, p)
	return nil
}

// changeMyPassword: POST /me/password {"currentPassword", "newPassword"}. A wrong current
// password counts towards the lockout; a password-restricted account gets 403.
func (a *API) changeMyPassword(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	id, acc, err := a.ownAccount(p)
	if err != nil {
		return err
	}
	var in struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if in.CurrentPassword == "" {
		return badf("currentPassword", "is required")
	}
	if in.NewPassword == "" {
		return badf("newPassword", "is required")
	}
	err = acc.ChangeOwnPassword(r.Context(), p.Tenant.ID, id, in.CurrentPassword, in.NewPassword, p.Actor.IP)
	if ve := (*provisioning.ValidationError)(nil); errors.As(err, &ve) && ve.Field == "password" {
		// The engine's field is the password; this request calls it newPassword.
		return badf("newPassword", "%s", ve.Reason)
	}
	if err != nil {
		return err
	}
	// Whoever knew the old password is signed out everywhere but here.
	_, err = a.eng.EndOtherSessions(r.Context(), p.Actor, p.Tenant.ID, p.SessionID)
	return noContent(w, err)
}

// endMyOtherSessions: DELETE /me/sessions signs out every other device.
func (a *API) endMyOtherSessions(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	if _, err := ownUser(p); err != nil {
		return err
	}
	n, err := a.eng.EndOtherSessions(r.Context(), p.Actor, p.Tenant.ID, p.SessionID)
	return reply(w, http.StatusOK, map[string]int{"ended": n}, err)
}

type sessionView struct {
	ID        string    `json:"id"`
	Method    string    `json:"method"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Current   bool      `json:"current"`
}

func (a *API) mySessions(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	id, err := ownUser(p)
	if err != nil {
		return err
	}
	ss, err := a.eng.OwnSessions(r.Context(), p.Tenant.ID, id)
	if err != nil {
		return err
	}
	out := make([]sessionView, len(ss))
	for i, s := range ss {
		out[i] = sessionView{ID: s.ID, Method: s.AMR, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Current: s.ID == p.SessionID}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

// endMySession: DELETE /me/sessions/{id} signs one of the user's sessions out (also the
// current one); another user's session is 404.
func (a *API) endMySession(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	if _, err := ownUser(p); err != nil {
		return err
	}
	return noContent(w, a.eng.EndOwnSession(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func (a *API) myTwoFactor(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	id, acc, err := a.ownAccount(p)
	if err != nil {
		return err
	}
	st, err := acc.TwoFactorStatus(r.Context(), p.Tenant.ID, id)
	return reply(w, http.StatusOK, st, err)
}

// beginTOTP: POST /me/2fa/totp starts an authenticator set-up: the secret, its otpauth://
// URI and a PNG QR code (base64), shown once. It protects nothing until confirmed.
func (a *API) beginTOTP(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	id, acc, err := a.ownAccount(p)
	if err != nil {
		return err
	}
	en, err := acc.BeginTOTP(r.Context(), p.Tenant.ID, id)
	return reply(w, http.StatusCreated, en, err)
}

type codeReq struct {
	Code string `json:"code"`
}

// confirmTOTP: POST /me/2fa/totp/confirm {"code"} enables the authenticator and returns
// the recovery codes, shown once.
func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	id, acc, err := a.ownAccount(p)
	if err != nil {
		return err
	}
	var in codeReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	codes, err := acc.ConfirmTOTP(r.Context(), p.Actor, p.Tenant.ID, id, in.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"recoveryCodes": codes})
	return nil
}

// removeTOTP: DELETE /me/2fa/totp {"code"} with a current or recovery code.
func (a *API) removeTOTP(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	id, acc, err := a.ownAccount(p)
	if err != nil {
		return err
	}
	var in codeReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	return noContent(w, acc.RemoveTOTP(r.Context(), p.Actor, p.Tenant.ID, id, in.Code))
}

// userTwoFactor: GET /users/{id}/2fa tells an admin whether a user has a second factor.
func (a *API) userTwoFactor(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	if _, err := a.eng.GetUser(r.Context(), p.Tenant.ID, r.PathValue("id")); err != nil {
		return err
	}
	st, err := acc.TwoFactorStatus(r.Context(), p.Tenant.ID, r.PathValue("id"))
	return reply(w, http.StatusOK, st, err)
}

// resetTwoFactor: DELETE /users/{id}/2fa removes a user's authenticator (lost phone).
func (a *API) resetTwoFactor(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	return noContent(w, acc.ResetTwoFactor(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
