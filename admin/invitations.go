package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file is the admin API of invitations, local password accounts and the mail
// suppression list. Every rule lives in provisioning.Accounts; handlers decode, call and
// encode.

// accounts returns the Accounts service, or a 501 when the server runs without one.
func (a *API) accounts() (*provisioning.Accounts, error) {
	return configured(a.opts.Accounts, "not_configured", "invitations and local accounts are not configured on this server")
}

// invitationStateError answers a resend or revoke the invitation's state refuses: 410 when
// the invitation was revoked (that is final), 409 otherwise (accepted, or the person has
// already signed in). The engine reports these as a validation error of field "state";
// other errors pass through.
func invitationStateError(r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts, id string, err error) error {
	var ve *provisioning.ValidationError
	if !errors.As(err, &ve) || ve.Field != "state" {
		return err
	}
	status, code := http.StatusConflict, "conflict"
	if inv, gerr := acc.GetInvitation(r.Context(), p.Tenant.ID, id); gerr == nil && inv.State == provisioning.InviteRevoked {
		status, code = http.StatusGone, "invitation_revoked"
	}
	return apiErr(status, code, ve.Reason, "state")
}

// invitationView is an invitation on the wire (lists never null).
func invitationView(inv *provisioning.Invitation) *provisioning.Invitation {
	inv.Roles, inv.Teams = nonNil(inv.Roles), nonNil(inv.Teams)
	return inv
}

type invitationReq struct {
	Email       string   `json:"email"`
	DisplayName string   `json:"displayName"`
	GivenName   string   `json:"givenName"`
	FamilyName  string   `json:"familyName"`
	Roles       []string `json:"roles"`
	Teams       []string `json:"teams"`
	Seat        bool     `json:"seat"`
	ExpiresIn   string   `json:"expiresIn"`
}

// createInvitation invites someone by e-mail; the mail is queued in the same transaction.
func (a *API) createInvitation(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	var in invitationReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	inv, err := acc.CreateInvitation(r.Context(), p.Actor, p.Tenant.ID, provisioning.InvitationRequest(in))
	if err != nil {
		return err
	}
	return created(w, "/invitations/"+inv.ID, invitationView(inv))
}

// listInvitations: GET /invitations?state=pending|accepted|revoked|expired, newest first.
func (a *API) listInvitations(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	list, err := acc.ListInvitations(r.Context(), p.Tenant.ID, provisioning.InvitationState(r.URL.Query().Get("state")))
	if err != nil {
		return err
	}
	out := make([]*provisioning.Invitation, len(list))
	for i := range list {
		out[i] = invitationView(&list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"invitations": out})
	return nil
}

func (a *API) getInvitation(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	inv, err := acc.GetInvitation(r.Context(), p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, invitationView(inv))
	return nil
}

// resendInvitation issues a new token (the old link dies) and queues a new mail.
func (a *API) resendInvitation(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	id := r.PathValue("id")
	inv, err := acc.ResendInvitation(r.Context(), p.Actor, p.Tenant.ID, id)
	if err != nil {
		return invitationStateError(r, p, acc, id, err)
	}
	writeJSON(w, http.StatusOK, invitationView(inv))
	return nil
}

// revokeInvitation withdraws an invitation for good and removes the invited user.
func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	id := r.PathValue("id")
	inv, err := acc.RevokeInvitation(r.Context(), p.Actor, p.Tenant.ID, id)
	if err != nil {
		return invitationStateError(r, p, acc, id, err)
	}
	writeJSON(w, http.StatusOK, invitationView(inv))
	return nil
}

func (a *API) listSuppressions(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	list, err := acc.ListSuppressions(r.Context(), p.Tenant.ID)
	if err != nil {
		return err
	}
	if list == nil {
		list = []provisioning.Suppression{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"suppressions": list})
	return nil
}

// clearSuppression lets mail go to the address again.
func (a *API) clearSuppression(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	email := strings.TrimSpace(r.PathValue("email"))
	if email == "" || len(email) > 254 {
		return badf("email", "must be an e-mail address")
	}
	return noContent(w, acc.ClearSuppression(r.Context(), p.Actor, p.Tenant.ID, email))
}

// localUserReq is the "Add agent" form: the profile fields of POST /users plus the
// password options. Without a password a temporary one is generated.
type localUserReq struct {
	Email              string   `json:"email"`
	DisplayName        string   `json:"displayName"`
	GivenName          string   `json:"givenName"`
	FamilyName         string   `json:"familyName"`
	PreferredLanguage  string   `json:"preferredLanguage"`
	BusinessUnit       string   `json:"businessUnit"`
	WorkPhone          string   `json:"workPhone"`
	MobilePhone        string   `json:"mobilePhone"`
	Roles              []string `json:"roles"`
	Teams              []string `json:"teams"`
	Seat               bool     `json:"seat"`
	Password           string   `json:"password"`
	SendMail           bool     `json:"sendMail"`
	ForceChange        bool     `json:"forceChange"`
	PasswordRestricted bool     `json:"passwordRestricted"`
}

// localUserResp is the created user and, when Seatbridge generated it, the temporary
// password: shown this once and never stored in clear.
type localUserResp struct {
	userView
	TemporaryPassword string `json:"temporaryPassword,omitempty"`
}

// createLocalUser creates a user who signs in with a password ("Add agent").
func (a *API) createLocalUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	var in localUserReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	var phones []provisioning.MultiValue
	if v := strings.TrimSpace(in.WorkPhone); v != "" {
		phones = append(phones, provisioning.MultiValue{Value: v, Type: "work"})
	}
	if v := strings.TrimSpace(in.MobilePhone); v != "" {
		phones = append(phones, provisioning.MultiValue{Value: v, Type: "mobile"})
	}
	u, pw, err := acc.CreateLocalUser(r.Context(), p.Actor, p.Tenant.ID, provisioning.LocalUserRequest{
		Email: in.Email, DisplayName: in.DisplayName, GivenName: in.GivenName, FamilyName: in.FamilyName,
		Language: in.PreferredLanguage, BusinessUnit: in.BusinessUnit, PhoneNumbers: phones, Roles: in.Roles, Teams: in.Teams,
		Seat: in.Seat, Password: in.Password, ForceChange: in.ForceChange, SendMail: in.SendMail, Restricted: in.PasswordRestricted})
	if err != nil {
		return err
	}
	out := localUserResp{userView: viewUser(u)}
	if in.Password == "" {
		out.TemporaryPassword = pw
	}
	grants, err := a.eng.UserGrants(r.Context(), p.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	out.Access = nonNil(grants)
	return created(w, "/users/"+u.ID, out)
}

// mayManage runs the engine's "only an Admin changes another Admin" before a credential
// change (ErrNotFound for no such user).
func (a *API) mayManage(r *http.Request, p *provisioning.Principal, userID string) error {
	return a.eng.MayManageUser(r.Context(), p.Actor, p.Tenant.ID, userID)
}

type resetPasswordReq struct {
	Password    string `json:"password"`
	ForceChange bool   `json:"forceChange"`
	SendMail    bool   `json:"sendMail"`
}

// resetPassword sets a new password (given or generated), clears any lockout and ends the
// user's sessions. The body is optional: without one a temporary password is generated.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	var in resetPasswordReq
	if r.ContentLength != 0 {
		if err := a.decode(w, r, &in); err != nil {
			return err
		}
	}
	id := r.PathValue("id")
	if err := a.mayManage(r, p, id); err != nil {
		return err
	}
	pw, err := acc.ResetPassword(r.Context(), p.Actor, p.Tenant.ID, id, provisioning.ResetPasswordRequest(in))
	if err != nil {
		return err
	}
	out := map[string]any{"id": id, "forceChange": in.ForceChange, "mailQueued": in.SendMail}
	if in.Password == "" {
		out["temporaryPassword"] = pw
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// unlockAccount clears a password lockout.
func (a *API) unlockAccount(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	id := r.PathValue("id")
	if err := a.mayManage(r, p, id); err != nil {
		return err
	}
	return noContent(w, acc.UnlockAccount(r.Context(), p.Actor, p.Tenant.ID, id))
}

// setPasswordRestricted: PUT {"passwordRestricted": true|false}.
func (a *API) setPasswordRestricted(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	var in struct {
		PasswordRestricted *bool `json:"passwordRestricted"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if in.PasswordRestricted == nil {
		return badf("passwordRestricted", "is required (true or false)")
	}
	id := r.PathValue("id")
	if err := a.mayManage(r, p, id); err != nil {
		return err
	}
	if err := acc.SetPasswordRestricted(r.Context(), p.Actor, p.Tenant.ID, id, *in.PasswordRestricted); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "passwordRestricted": *in.PasswordRestricted})
	return nil
}

// inviteUser: POST /users/{id}/invite sends an invitation to an account created without
// one that never signed in ("invite later"). The body is optional: {"roles": [...],
// "teams": [...], "seat": true} grants more on the way.
func (a *API) inviteUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, acc *provisioning.Accounts) error {
	var in struct {
		Roles []string `json:"roles"`
		Teams []string `json:"teams"`
		Seat  bool     `json:"seat"`
	}
	if r.ContentLength != 0 {
		if err := a.decode(w, r, &in); err != nil {
			return err
		}
	}
	inv, err := acc.InviteUser(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), in.Roles, in.Teams, in.Seat)
	if err != nil {
		return err
	}
	return created(w, "/invitations/"+inv.ID, invitationView(inv))
}
