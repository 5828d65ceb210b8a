package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// table is the API: method, path below Prefix, permission, handler.
func (a *API) table() []route {
	const users, settings = provisioning.PermManageUsers, provisioning.PermManageSettings
	return []route{
		{method: "GET", path: "/openapi.json", h: a.openAPI, public: true},
		{method: "GET", path: "/me", self: true, h: a.me},
		{method: "PATCH", path: "/me", self: true, h: a.editMe},
		{method: "POST", path: "/me/password", self: true, h: a.changeMyPassword},
		{method: "GET", path: "/me/sessions", self: true, h: a.mySessions},
		{method: "DELETE", path: "/me/sessions", self: true, h: a.endMyOtherSessions},
		{method: "DELETE", path: "/me/sessions/{id}", self: true, h: a.endMySession},
		{method: "GET", path: "/me/2fa", self: true, h: a.myTwoFactor},
		{method: "POST", path: "/me/2fa/totp", self: true, h: a.beginTOTP},
		{method: "POST", path: "/me/2fa/totp/confirm", self: true, h: a.confirmTOTP},
		{method: "DELETE", path: "/me/2fa/totp", self: true, h: a.removeTOTP},

		{method: "GET", path: "/users", perm: users, h: a.listUsers},
		{method: "POST", path: "/users", perm: users, h: a.createUser},
		{method: "GET", path: "/users/{id}", perm: users, h: a.getUser},
		{method: "PATCH", path: "/users/{id}", perm: users, h: a.editUser},
		{method: "DELETE", path: "/users/{id}", perm: users, h: a.removeUser},
		{method: "POST", path: "/users/{id}/deactivate", perm: users, h: a.deactivate},
		{method: "POST", path: "/users/{id}/reactivate", perm: users, h: a.reactivate},
		{method: "POST", path: "/users/{id}/invite", perm: users, h: with(a.accounts, a.inviteUser)},
		{method: "PUT", path: "/users/{id}/roles", perm: users, h: a.setUserRoles},
		{method: "PUT", path: "/users/{id}/teams", perm: users, h: a.setUserTeams},
		{method: "GET", path: "/users/{id}/logins", perm: users, h: a.userLogins},
		{method: "POST", path: "/users/import", perm: users, h: a.importCSV},
		{method: "POST", path: "/users/bulk", perm: users, h: a.bulk},
		{method: "POST", path: "/users/local", perm: users, h: with(a.accounts, a.createLocalUser)},
		{method: "POST", path: "/users/{id}/password/reset", perm: users, h: with(a.accounts, a.resetPassword)},
		{method: "POST", path: "/users/{id}/unlock", perm: users, h: with(a.accounts, a.unlockAccount)},
		{method: "PUT", path: "/users/{id}/password-restricted", perm: users, h: with(a.accounts, a.setPasswordRestricted)},
		{method: "GET", path: "/users/{id}/2fa", perm: users, h: with(a.accounts, a.userTwoFactor)},
		{method: "DELETE", path: "/users/{id}/2fa", perm: users, h: with(a.accounts, a.resetTwoFactor)},

		{method: "GET", path: "/invitations", perm: users, h: with(a.accounts, a.listInvitations)},
		{method: "POST", path: "/invitations", perm: users, h: with(a.accounts, a.createInvitation)},
		{method: "GET", path: "/invitations/{id}", perm: users, h: with(a.accounts, a.getInvitation)},
		{method: "POST", path: "/invitations/{id}/resend", perm: users, h: with(a.accounts, a.resendInvitation)},
		{method: "POST", path: "/invitations/{id}/revoke", perm: users, h: with(a.accounts, a.revokeInvitation)},
		{method: "GET", path: "/mail/suppressions", perm: users, h: with(a.accounts, a.listSuppressions)},
		{method: "DELETE", path: "/mail/suppressions/{email}", perm: users, h: with(a.accounts, a.clearSuppression)},

		{method: "GET", path: "/seats", perm: users, h: a.seatUsage},
		{method: "POST", path: "/seats/assign", perm: users, h: a.assignSeats},
		{method: "POST", path: "/seats/unassign", perm: users, h: a.unassignSeats},

		{method: "GET", path: "/permissions", perm: users, h: a.listPermissions},
		{method: "GET", path: "/roles", perm: users, h: a.listRoles},
		{method: "POST", path: "/roles", perm: users, h: a.createRole},
		{method: "GET", path: "/roles/{id}", perm: users, h: a.getRole},
		{method: "PATCH", path: "/roles/{id}", perm: users, h: a.updateRole},
		{method: "DELETE", path: "/roles/{id}", perm: users, h: a.deleteRole},

		{method: "GET", path: "/teams", perm: users, h: a.listTeams},
		{method: "POST", path: "/teams", perm: users, h: a.createTeam},
		{method: "GET", path: "/teams/{id}", perm: users, h: a.getTeam},
		{method: "PATCH", path: "/teams/{id}", perm: users, h: a.updateTeam},
		{method: "DELETE", path: "/teams/{id}", perm: users, h: a.deleteTeam},
		{method: "GET", path: "/teams/{id}/members", perm: users, h: a.teamMembers},
		{method: "POST", path: "/teams/{id}/members", perm: users, h: a.addTeamMembers},
		{method: "DELETE", path: "/teams/{id}/members/{userId}", perm: users, h: a.removeTeamMember},

		{method: "GET", path: "/policy", perm: users, h: a.getPolicy},
		{method: "PATCH", path: "/policy", perm: settings, h: a.updatePolicy},
		{method: "GET", path: "/audit", perm: settings, h: a.listAudit},

		{method: "GET", path: "/connections", perm: settings, h: a.listConnections},
		{method: "POST", path: "/connections", perm: settings, h: a.createConnection},
		{method: "GET", path: "/connections/{id}", perm: settings, h: a.getConnection},
		{method: "PATCH", path: "/connections/{id}", perm: settings, h: a.updateConnection},
		{method: "DELETE", path: "/connections/{id}", perm: settings, h: a.deleteConnection},
		{method: "POST", path: "/connections/{id}/disable", perm: settings, h: a.disableConnection},
		{method: "POST", path: "/connections/{id}/enable", perm: settings, h: a.enableConnection},
		{method: "PUT", path: "/connections/{id}/mapping", perm: settings, h: a.setConnectionMapping},
		{method: "POST", path: "/connections/{id}/mapping/preview", perm: settings, h: a.previewMapping},

		{method: "GET", path: "/scim-tokens", perm: settings, h: a.listSCIMTokens},
		{method: "POST", path: "/scim-tokens", perm: settings, h: a.createSCIMToken},
		{method: "DELETE", path: "/scim-tokens/{id}", perm: settings, h: a.revokeSCIMToken},

		{method: "GET", path: "/setup-links", perm: settings, h: a.listSetupLinks},
		{method: "POST", path: "/setup-links", perm: settings, h: a.createSetupLink},
		{method: "DELETE", path: "/setup-links/{id}", perm: settings, h: a.revokeSetupLink},
		{method: "GET", path: "/provisioning-log", perm: settings, h: a.provisioningLog},

		{method: "GET", path: "/events", perm: settings, h: a.listEvents},
		{method: "GET", path: "/events/types", perm: settings, h: a.eventTypes},
		{method: "GET", path: "/webhooks", perm: settings, h: with(a.webhooks, a.listWebhooks)},
		{method: "POST", path: "/webhooks", perm: settings, h: with(a.webhooks, a.createWebhook)},
		{method: "GET", path: "/webhooks/{id}", perm: settings, h: with(a.webhooks, a.getWebhook)},
		{method: "PATCH", path: "/webhooks/{id}", perm: settings, h: with(a.webhooks, a.updateWebhook)},
		{method: "DELETE", path: "/webhooks/{id}", perm: settings, h: with(a.webhooks, a.deleteWebhook)},
		{method: "POST", path: "/webhooks/{id}/rotate-secret", perm: settings, h: with(a.webhooks, a.rotateWebhookSecret)},
		{method: "GET", path: "/webhooks/{id}/deliveries", perm: settings, h: with(a.webhooks, a.listDeliveries)},
		{method: "GET", path: "/webhooks/{id}/deliveries/{deliveryId}/attempts", perm: settings, h: with(a.webhooks, a.listAttempts)},
		{method: "POST", path: "/webhooks/{id}/deliveries/{deliveryId}/replay", perm: settings, h: with(a.webhooks, a.replayDelivery)},
	}
}

// userView is a user as the admin console shows it.
type userView struct {
	ID                string                  `json:"id"`
	UserName          string                  `json:"userName"`
	Email             string                  `json:"email,omitempty"`
	GivenName         string                  `json:"givenName,omitempty"`
	FamilyName        string                  `json:"familyName,omitempty"`
	DisplayName       string                  `json:"displayName,omitempty"`
	ExternalID        string                  `json:"externalId,omitempty"`
	PreferredLanguage string                  `json:"preferredLanguage,omitempty"`
	BusinessUnit      string                  `json:"businessUnit,omitempty"`
	WorkPhone         string                  `json:"workPhone,omitempty"`
	MobilePhone       string                  `json:"mobilePhone,omitempty"`
	Status            provisioning.UserStatus `json:"status"`
	Source            provisioning.Source     `json:"source"`
	ManagedByIdP      bool                    `json:"managedByIdp"`
	Seat              bool                    `json:"seat"`
	Roles             []string                `json:"roles"`
	Teams             []string                `json:"teams"`
	Access            []provisioning.Grant    `json:"access,omitempty"`
	Version           int64                   `json:"version"`
	CreatedAt         time.Time               `json:"createdAt"`
	UpdatedAt         time.Time               `json:"updatedAt"`
	LastLoginAt       *time.Time              `json:"lastLoginAt,omitempty"`
}

func viewUser(u *provisioning.User) userView {
	v := userView{ID: u.ID, UserName: u.UserName, Email: u.PrimaryEmail(), GivenName: u.Name.GivenName, FamilyName: u.Name.FamilyName,
		DisplayName: u.DisplayName, ExternalID: u.ExternalID, PreferredLanguage: u.PreferredLanguage, BusinessUnit: u.BusinessUnit,
		Status: u.Status, Source: u.Source, ManagedByIdP: u.IdPManaged(), Seat: u.Seat, Roles: nonNil(u.Roles), Teams: nonNil(u.Teams),
		Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt}
	for _, p := range u.PhoneNumbers {
		switch p.Type {
		case "work":
			v.WorkPhone = p.Value
		case "mobile":
			v.MobilePhone = p.Value
		}
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type userList struct {
	Users  []userView `json:"users"`
	Total  int        `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Next   string     `json:"next,omitempty"`
}

// sortFields maps the overview's sort keys to filter fields.
var sortFields = map[string]string{
	"userName": "userName", "displayName": "displayName", "givenName": "name.givenName", "familyName": "name.familyName",
	"createdAt": "meta.created", "updatedAt": "meta.lastModified", "status": "status", "source": "source",
}

// userQuery turns the overview's query parameters into a neutral query.
func userQuery(r *http.Request) (provisioning.UserQuery, error) {
	q := r.URL.Query()
	uq := provisioning.UserQuery{Search: strings.TrimSpace(q.Get("q")), WithAccess: true, Limit: 50}
	if len(uq.Search) > 200 {
		return uq, badf("q", "is longer than 200 characters")
	}
	var fs []provisioning.Filter
	add := func(f provisioning.Filter) { fs = append(fs, f) }
	if v := q.Get("status"); v != "" {
		switch provisioning.UserStatus(v) {
		case provisioning.StatusActive, provisioning.StatusInvited, provisioning.StatusDeactivated:
		default:
			return uq, badf("status", "must be active, invited or deactivated")
		}
		add(provisioning.Compare{Field: "status", Op: provisioning.OpEq, Value: v, CaseExact: true})
	}
	if v := q.Get("source"); v != "" {
		switch provisioning.Source(v) {
		case provisioning.SourceAdmin, provisioning.SourceInvite, provisioning.SourceCSV, provisioning.SourceJIT, provisioning.SourceSCIM:
		default:
			return uq, badf("source", "must be admin, invite, csv, jit or scim")
		}
		add(provisioning.Compare{Field: "source", Op: provisioning.OpEq, Value: v, CaseExact: true})
	}
	for _, b := range []struct{ param, field string }{{"seat", "seat"}, {"managedByIdp", "managedByIdp"}} {
		if v := q.Get(b.param); v != "" {
			x, err := strconv.ParseBool(v)
			if err != nil {
				return uq, badf(b.param, "must be true or false")
			}
			add(provisioning.Compare{Field: b.field, Op: provisioning.OpEq, Value: x})
		}
	}
	if v := q.Get("role"); v != "" {
		add(provisioning.Compare{Field: "role", Op: provisioning.OpEq, Value: v})
	}
	if v := q.Get("team"); v != "" {
		add(provisioning.Compare{Field: "team", Op: provisioning.OpEq, Value: v})
	}
	uq.Filter = provisioning.AllOf(fs...)
	if v := q.Get("sort"); v != "" {
		f, ok := sortFields[v]
		if !ok {
			return uq, badf("sort", "must be one of userName, displayName, givenName, familyName, createdAt, updatedAt, status, source")
		}
		uq.Sort.Field = f
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		uq.Sort.Descending = true
	default:
		return uq, badf("order", "must be asc or desc")
	}
	var err error
	if uq.Limit, err = intParam(q, "limit", uq.Limit, 1, 200, "must be a number from 1 to 200"); err != nil {
		return uq, err
	}
	if uq.Offset, err = intParam(q, "offset", 0, 0, 1_000_000, "must be a number from 0"); err != nil {
		return uq, err
	}
	if v := q.Get("cursor"); v != "" {
		if len(v) > 1024 {
			return uq, badf("cursor", "is not a cursor of this API")
		}
		uq.After = v
	}
	return uq, nil
}

func (a *API) writeUserPage(w http.ResponseWriter, r *http.Request, uq provisioning.UserQuery, page *provisioning.UserPage, err error) error {
	if err != nil {
		if uq.After != "" && errors.Is(err, provisioning.ErrBadCursor) {
			return badf("cursor", "is not a cursor of this API")
		}
		return err
	}
	out := userList{Users: make([]userView, len(page.Users)), Total: page.Total, Limit: uq.Limit, Offset: uq.Offset, Next: page.Next}
	for i := range page.Users {
		out.Users[i] = viewUser(&page.Users[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listUsers is the users overview: GET /users?q=&status=&seat=&role=&team=&source=&…
func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	uq, err := userQuery(r)
	if err != nil {
		return err
	}
	page, err := a.eng.ListUsers(r.Context(), p.Tenant.ID, uq)
	return a.writeUserPage(w, r, uq, page, err)
}

type createUserReq struct {
	UserName          string   `json:"userName"`
	Email             string   `json:"email"`
	GivenName         string   `json:"givenName"`
	FamilyName        string   `json:"familyName"`
	DisplayName       string   `json:"displayName"`
	ExternalID        string   `json:"externalId"`
	PreferredLanguage string   `json:"preferredLanguage"`
	BusinessUnit      string   `json:"businessUnit"`
	WorkPhone         string   `json:"workPhone"`
	MobilePhone       string   `json:"mobilePhone"`
	Roles             []string `json:"roles"`
	Teams             []string `json:"teams"`
	Seat              bool     `json:"seat"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in createUserReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.eng.CreateAdminUser(r.Context(), p.Actor, p.Tenant.ID, provisioning.NewUser(in))
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	return a.writeUser(w, r, p, http.StatusCreated, u)
}

// writeUser answers with the user and the source of each role and team.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, status int, u *provisioning.User) error {
	v := viewUser(u)
	grants, err := a.eng.UserGrants(r.Context(), p.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	v.Access = nonNil(grants)
	w.Header().Set("ETag", `W/"`+strconv.FormatInt(u.Version, 10)+`"`)
	writeJSON(w, status, v)
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	u, err := a.eng.GetUser(r.Context(), p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, p, http.StatusOK, u)
}

type editUserReq struct {
	Email             *string `json:"email"`
	GivenName         *string `json:"givenName"`
	FamilyName        *string `json:"familyName"`
	DisplayName       *string `json:"displayName"`
	ExternalID        *string `json:"externalId"`
	PreferredLanguage *string `json:"preferredLanguage"`
	BusinessUnit      *string `json:"businessUnit"`
	WorkPhone         *string `json:"workPhone"`
	MobilePhone       *string `json:"mobilePhone"`
	Password          *string `json:"password"`
}

// ifMatch reads an optional If-Match version (W/"3", "3" or 3).
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return provisioning.AnyVersion, nil
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil || n <= 0 {
		return 0, badf("If-Match", "must be a version returned in an ETag")
	}
	return n, nil
}

func (a *API) editUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	ver, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in editUserReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.eng.EditUser(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), ver, provisioning.UserEdit(in))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, p, http.StatusOK, u)
}

func (a *API) removeUser(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	return noContent(w, a.eng.RemoveUser(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	u, err := a.eng.DeactivateUser(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, p, http.StatusOK, u)
}

// reactivate: POST /users/{id}/reactivate with an optional {"seat": false} (no seat) or
// {"seat": true}; without it the seat held at deactivation is given back, or 409
// seat_limit when none is free.
func (a *API) reactivate(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in struct {
		Seat *bool `json:"seat"`
	}
	if r.ContentLength != 0 {
		if err := a.decode(w, r, &in); err != nil {
			return err
		}
	}
	u, err := a.eng.ReactivateUser(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), provisioning.ReactivateOptions{Seat: in.Seat})
	if err != nil {
		return err
	}
	return a.writeUser(w, r, p, http.StatusOK, u)
}

type rolesReq struct {
	Roles  []string `json:"roles"`
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// setUserRoles: {"roles": [...]} replaces the admin-granted roles; {"add": [...],
// "remove": [...]} adjusts them.
func (a *API) setUserRoles(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in rolesReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if in.Roles == nil && in.Add == nil && in.Remove == nil {
		return badf("roles", "is required (or add / remove)")
	}
	u, err := a.eng.ChangeUserRoles(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"),
		provisioning.RoleChange{Set: in.Roles, Add: in.Add, Remove: in.Remove})
	if err != nil {
		return err
	}
	return a.writeUser(w, r, p, http.StatusOK, u)
}

type teamsReq struct {
	Teams []string `json:"teams"`
}

func (a *API) setUserTeams(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in teamsReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if in.Teams == nil {
		return badf("teams", "is required (an empty list removes every team)")
	}
	u, err := a.eng.SetUserTeams(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), in.Teams)
	if err != nil {
		return err
	}
	return a.writeUser(w, r, p, http.StatusOK, u)
}

func pageParams(r *http.Request, def int) (limit int, before int64, err error) {
	q := r.URL.Query()
	if limit, err = intParam(q, "limit", def, 1, 500, "must be a number from 1 to 500"); err != nil {
		return 0, 0, err
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, badf("before", "must be an event id")
		}
		before = n
	}
	return limit, before, nil
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badf(name, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
	}
	return t, nil
}

type loginHistory struct {
	*provisioning.LoginSummary
	Events []provisioning.LoginEvent `json:"events"`
	Next   string                    `json:"next,omitempty"`
}

func (a *API) userLogins(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	limit, before, err := pageParams(r, 50)
	if err != nil {
		return err
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	h, err := a.eng.LoginHistory(r.Context(), p.Tenant.ID, r.PathValue("id"),
		provisioning.LoginQuery{Result: r.URL.Query().Get("result"), Since: since, BeforeID: before, Limit: limit})
	if err != nil {
		return err
	}
	out := loginHistory{LoginSummary: h, Events: nonNil(h.Events)}
	if len(h.Events) == limit {
		out.Next = strconv.FormatInt(h.Events[len(h.Events)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
