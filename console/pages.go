package console

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

type pickData struct {
	Roles     []provisioning.Role
	Grantable []provisioning.Role
	Teams     []provisioning.Team
	Seats     *provisioning.SeatUsage
}

// picks loads what the invite and agent forms offer: the roles the caller may grant,
// the teams, the seat count.
func (h *Handler) picks(r *http.Request, rq *request) (*pickData, error) {
	ctx := r.Context()
	d := &pickData{}
	var err error
	if d.Roles, err = h.eng.ListRoles(ctx, rq.p.Tenant.ID); err != nil {
		return nil, err
	}
	d.Grantable = grantable(rq.p, d.Roles)
	if d.Teams, err = h.eng.ListTeams(ctx, rq.p.Tenant.ID); err != nil {
		return nil, err
	}
	if d.Seats, err = h.eng.SeatUsage(ctx, rq.p.Tenant.ID); err != nil {
		return nil, err
	}
	return d, nil
}

func (h *Handler) formPage(w http.ResponseWriter, r *http.Request, rq *request, status int, page, title string, form url.Values, errs map[string]string) {
	d, err := h.picks(r, rq)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	v := &view{Title: title, Nav: "users", Data: d, Form: form, Errors: errs}
	if len(errs) > 0 {
		v.Error = "Nothing was saved: check the marked fields."
		if m := errs["_"]; m != "" {
			v.Error = m
		}
	}
	h.render(w, rq, status, page, v)
}

func (h *Handler) invite(w http.ResponseWriter, r *http.Request, rq *request) {
	h.formPage(w, r, rq, http.StatusOK, "invite", "Invite a user", url.Values{"seat": {"on"}, "sendNow": {"on"}}, nil)
}

func (h *Handler) invitePost(w http.ResponseWriter, r *http.Request, rq *request) {
	f := r.PostForm
	req := provisioning.InvitationRequest{Email: strings.TrimSpace(f.Get("email")), DisplayName: strings.TrimSpace(f.Get("displayName")),
		GivenName: strings.TrimSpace(f.Get("givenName")), FamilyName: strings.TrimSpace(f.Get("familyName")),
		Roles: nonEmpty(f["role"]), Teams: nonEmpty(f["team"]), Seat: f.Get("seat") == "on", ExpiresIn: f.Get("expiresIn")}
	errs := map[string]string{}
	if req.Email == "" {
		errs["email"] = "Enter the e-mail address to send the invitation to."
	}
	if len(errs) == 0 && f.Get("sendNow") != "on" {
		// Invite later: the account exists now, the invitation goes from its page.
		u, err := h.eng.CreateAdminUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, provisioning.NewUser{Email: req.Email,
			DisplayName: req.DisplayName, GivenName: req.GivenName, FamilyName: req.FamilyName, Roles: req.Roles, Teams: req.Teams, Seat: req.Seat})
		if err == nil {
			http.Redirect(w, r, rq.base+"/users/"+url.PathEscape(u.ID)+"?done=later", http.StatusSeeOther)
			return
		}
		var ok bool
		if errs, ok = h.formErrors(w, r, rq, err, "email", "displayName", "givenName", "familyName", "roles", "teams", "seat"); !ok {
			return
		}
	} else if len(errs) == 0 {
		_, err := h.Accounts.CreateInvitation(r.Context(), rq.p.Actor, rq.p.Tenant.ID, req)
		if err == nil {
			http.Redirect(w, r, rq.base+"/invitations?done=invited", http.StatusSeeOther)
			return
		}
		var ok bool
		if errs, ok = h.formErrors(w, r, rq, err, "email", "displayName", "givenName", "familyName", "roles", "teams", "seat", "expiresIn"); !ok {
			return
		}
	}
	h.formPage(w, r, rq, http.StatusBadRequest, "invite", "Invite a user", f, errs)
}

func (h *Handler) invitations(w http.ResponseWriter, r *http.Request, rq *request) {
	state := provisioning.InvitationState(r.URL.Query().Get("state"))
	list, err := h.Accounts.ListInvitations(r.Context(), rq.p.Tenant.ID, state)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	now := h.eng.Now
	if now == nil {
		now = time.Now
	}
	type row struct {
		provisioning.Invitation
		Now provisioning.InvitationState
	}
	rows := make([]row, len(list))
	for i, inv := range list {
		rows[i] = row{inv, inv.StateAt(now())}
	}
	h.render(w, rq, http.StatusOK, "invitations", &view{Title: "Invitations", Nav: "invitations", Notice: notice(r),
		Form: url.Values{"state": {string(state)}}, Data: rows})
}

// sendInvitation invites an account created without an invitation ("invite later").
func (h *Handler) sendInvitation(w http.ResponseWriter, r *http.Request, rq *request) {
	_, err := h.Accounts.InviteUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, r.PathValue("id"), nil, nil, false)
	h.afterChange(w, r, rq, err, rq.base+"/invitations?done=invited")
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request, rq *request) {
	_, err := h.Accounts.ResendInvitation(r.Context(), rq.p.Actor, rq.p.Tenant.ID, r.PathValue("id"))
	h.afterChange(w, r, rq, err, rq.base+"/invitations?done=resent")
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, rq *request) {
	inv, err := h.Accounts.GetInvitation(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if !h.confirmed(w, r, rq, "Revoke this invitation?", "The link sent to "+inv.Email+" stops working. This cannot be undone: to add them later, invite them again.",
		"Yes, revoke", rq.base+"/invitations", nil) {
		return
	}
	_, err = h.Accounts.RevokeInvitation(r.Context(), rq.p.Actor, rq.p.Tenant.ID, inv.ID)
	h.afterChange(w, r, rq, err, rq.base+"/invitations?done=revoked")
}

func (h *Handler) agent(w http.ResponseWriter, r *http.Request, rq *request) {
	h.formPage(w, r, rq, http.StatusOK, "agent", "Add agent", url.Values{"seat": {"on"}, "forceChange": {"on"}}, nil)
}

// agentPost creates a user with a temporary password, shown once on the answer page and
// never stored in clear.
func (h *Handler) agentPost(w http.ResponseWriter, r *http.Request, rq *request) {
	f := r.PostForm
	req := provisioning.LocalUserRequest{Email: strings.TrimSpace(f.Get("email")), DisplayName: strings.TrimSpace(f.Get("displayName")),
		Language: strings.TrimSpace(f.Get("language")), BusinessUnit: strings.TrimSpace(f.Get("businessUnit")),
		Roles: nonEmpty(f["role"]), Teams: nonEmpty(f["team"]), Seat: f.Get("seat") == "on",
		ForceChange: f.Get("forceChange") == "on", SendMail: f.Get("sendMail") == "on"}
	if v := strings.TrimSpace(f.Get("workPhone")); v != "" {
		req.PhoneNumbers = append(req.PhoneNumbers, provisioning.MultiValue{Type: "work", Value: v})
	}
	if v := strings.TrimSpace(f.Get("mobilePhone")); v != "" {
		req.PhoneNumbers = append(req.PhoneNumbers, provisioning.MultiValue{Type: "mobile", Value: v})
	}
	errs := map[string]string{}
	if req.Email == "" {
		errs["email"] = "Enter the agent's e-mail address: it is their user name."
	}
	if req.DisplayName == "" {
		errs["displayName"] = "Enter the name shown in chats."
	}
	if len(errs) == 0 {
		u, pw, err := h.Accounts.CreateLocalUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, req)
		if err == nil {
			h.render(w, rq, http.StatusCreated, "secret", &view{Title: "Agent added", Nav: "users", Data: secretData{
				Intro:  userName(u) + " (" + u.UserName + ") can now sign in with this temporary password.",
				Secret: pw, Label: "Temporary password",
				Note: "It is shown only now: copy it and pass it on securely." + map[bool]string{true: " They must choose their own password at first sign-in.", false: ""}[req.ForceChange],
				Next: rq.base + "/users/" + url.PathEscape(u.ID), NextLabel: "Open the agent's profile"}})
			return
		}
		var ok bool
		if errs, ok = h.formErrors(w, r, rq, err, "email", "displayName", "language", "businessUnit", "phoneNumbers", "roles", "teams", "seat", "forceChange"); !ok {
			return
		}
	}
	h.formPage(w, r, rq, http.StatusBadRequest, "agent", "Add agent", f, errs)
}

// secretData is a page showing a secret once (a temporary password, a new token).
type secretData struct {
	Intro, Label, Secret, Note, Next, NextLabel string
}

func (h *Handler) importForm(w http.ResponseWriter, r *http.Request, rq *request) {
	h.render(w, rq, http.StatusOK, "import", &view{Title: "Import users from CSV", Nav: "users"})
}

// importPost reviews an uploaded file (a dry run showing every row) or, when the review
// page posts the same content back with apply=yes, applies it: all rows or none.
func (h *Handler) importPost(w http.ResponseWriter, r *http.Request, rq *request) {
	var content []byte
	if file, _, err := r.FormFile("file"); err == nil {
		content, err = io.ReadAll(io.LimitReader(file, maxImportBytes))
		_ = file.Close()
		if err != nil {
			h.fail(w, r, rq, err)
			return
		}
	} else if !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart) {
		h.fail(w, r, rq, err)
		return
	} else {
		content = []byte(r.PostFormValue("csv"))
	}
	if len(bytes.TrimSpace(content)) == 0 {
		h.render(w, rq, http.StatusBadRequest, "import", &view{Title: "Import users from CSV", Nav: "users", Errors: map[string]string{"file": "Choose a CSV file with a header row."}})
		return
	}
	apply := r.PostFormValue("apply") == "yes"
	invite := r.PostFormValue("invite") == "on"
	rep, err := h.Accounts.ImportCSV(r.Context(), rq.p.Actor, rq.p.Tenant.ID, bytes.NewReader(content), !apply, invite)
	status := http.StatusOK
	switch {
	case errors.Is(err, provisioning.ErrImportRejected):
		status = http.StatusUnprocessableEntity
	case err != nil:
		errs, ok := h.formErrors(w, r, rq, err, "file")
		if !ok {
			return
		}
		if errs["file"] == "" {
			errs["file"] = errs["_"]
		}
		h.render(w, rq, http.StatusBadRequest, "import", &view{Title: "Import users from CSV", Nav: "users", Errors: errs})
		return
	}
	if apply && rep.Applied {
		http.Redirect(w, r, rq.base+"/users?source=csv&done=imported", http.StatusSeeOther)
		return
	}
	h.render(w, rq, status, "review", &view{Title: "Review the import", Nav: "users", Data: struct {
		Report *provisioning.ImportReport
		CSV    string
		Invite bool
	}{rep, string(content), invite}})
}

func (h *Handler) rolesPage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	roles, err := h.eng.ListRoles(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	v := &view{Title: "Roles and permissions", Nav: "roles", Notice: notice(r), Form: form, Errors: errs,
		Data: struct {
			Roles []provisioning.Role
			All   []provisioning.Permission
		}{roles, h.eng.Permissions()}}
	if len(errs) > 0 {
		v.Error = "The role was not saved: check the marked fields."
	}
	h.render(w, rq, status, "roles", v)
}

func roleInput(f url.Values) provisioning.RoleInput {
	name, desc := strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("description"))
	perms := []provisioning.Permission{}
	for _, p := range f["perm"] {
		perms = append(perms, provisioning.Permission(p))
	}
	return provisioning.RoleInput{Name: &name, Description: &desc, Permissions: &perms}
}

func (h *Handler) createRole(w http.ResponseWriter, r *http.Request, rq *request) {
	_, err := h.eng.CreateRole(r.Context(), rq.p.Actor, rq.p.Tenant.ID, roleInput(r.PostForm))
	h.afterForm(w, r, rq, err, rq.base+"/roles?done=created", h.rolesPage, "name", "description", "permissions")
}

func (h *Handler) rolePage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	role, err := h.eng.GetRole(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if form == nil {
		form = url.Values{"name": {role.Name}, "description": {role.Description}}
		for _, p := range role.Permissions {
			form.Add("perm", string(p))
		}
	}
	h.render(w, rq, status, "role", &view{Title: "Role " + role.Name, Nav: "roles", Notice: notice(r), Form: form, Errors: errs,
		Data: struct {
			Role *provisioning.Role
			All  []provisioning.Permission
		}{role, h.eng.Permissions()}})
}

func (h *Handler) updateRole(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	_, err := h.eng.UpdateRole(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, roleInput(r.PostForm))
	h.afterForm(w, r, rq, err, rq.base+"/roles/"+url.PathEscape(id)+"?done=saved", h.rolePage, "name", "description", "permissions")
}

func (h *Handler) deleteRole(w http.ResponseWriter, r *http.Request, rq *request) {
	role, err := h.eng.GetRole(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if !h.confirmed(w, r, rq, "Delete role "+role.Name+"?", "The role disappears for good.", "Delete role", rq.base+"/roles/"+url.PathEscape(role.ID), nil) {
		return
	}
	h.afterChange(w, r, rq, h.eng.DeleteRole(r.Context(), rq.p.Actor, rq.p.Tenant.ID, role.ID), rq.base+"/roles?done=deleted")
}

func (h *Handler) teamsPage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	teams, err := h.eng.ListTeams(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	v := &view{Title: "Teams", Nav: "teams", Notice: notice(r), Form: form, Errors: errs, Data: teams}
	if len(errs) > 0 {
		v.Error = "The team was not saved: check the marked fields."
	}
	h.render(w, rq, status, "teams", v)
}

func teamInput(f url.Values) provisioning.TeamInput {
	name, desc := strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("description"))
	return provisioning.TeamInput{Name: &name, Description: &desc}
}

func (h *Handler) createTeam(w http.ResponseWriter, r *http.Request, rq *request) {
	t, err := h.eng.CreateTeam(r.Context(), rq.p.Actor, rq.p.Tenant.ID, teamInput(r.PostForm), nil)
	if err != nil {
		h.refused(w, r, rq, err, h.teamsPage, "name", "description")
		return
	}
	http.Redirect(w, r, rq.base+"/teams/"+url.PathEscape(t.ID)+"?done=created", http.StatusSeeOther)
}

func (h *Handler) teamPage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	ctx := r.Context()
	t, err := h.eng.GetTeam(ctx, rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	members, err := h.eng.ListTeamMembers(ctx, rq.p.Tenant.ID, t.ID, provisioning.UserQuery{Limit: 200})
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if form == nil {
		form = url.Values{"name": {t.Name}, "description": {t.Description}}
	}
	h.render(w, rq, status, "team", &view{Title: "Team " + t.Name, Nav: "teams", Notice: notice(r), Form: form, Errors: errs,
		Data: struct {
			Team    *provisioning.Team
			Members *provisioning.UserPage
		}{t, members}})
}

func (h *Handler) updateTeam(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	_, err := h.eng.UpdateTeam(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, teamInput(r.PostForm))
	h.afterForm(w, r, rq, err, rq.base+"/teams/"+url.PathEscape(id)+"?done=saved", h.teamPage, "name", "description")
}

func (h *Handler) deleteTeam(w http.ResponseWriter, r *http.Request, rq *request) {
	t, err := h.eng.GetTeam(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if !h.confirmed(w, r, rq, "Delete team "+t.Name+"?", "Its "+strconv.Itoa(t.MemberCount)+" members stay users of the organisation; only the team goes.", "Delete team", rq.base+"/teams/"+url.PathEscape(t.ID), nil) {
		return
	}
	h.afterChange(w, r, rq, h.eng.DeleteTeam(r.Context(), rq.p.Actor, rq.p.Tenant.ID, t.ID), rq.base+"/teams?done=deleted")
}

// addTeamMembers adds users by user name or e-mail, one per line.
func (h *Handler) addTeamMembers(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var ids []string
	errs := map[string]string{}
	for _, name := range strings.FieldsFunc(r.PostFormValue("members"), func(c rune) bool { return c == '\n' || c == ',' || c == '\r' }) {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		up, err := h.eng.ListUsers(ctx, rq.p.Tenant.ID, provisioning.UserQuery{Limit: 2,
			Filter: provisioning.Compare{Field: "userName", Op: provisioning.OpEq, Value: name}})
		if err != nil {
			h.fail(w, r, rq, err)
			return
		}
		if len(up.Users) != 1 {
			errs["members"] = "No user named " + strconv.Quote(name) + "."
			break
		}
		ids = append(ids, up.Users[0].ID)
	}
	if len(ids) == 0 && len(errs) == 0 {
		errs["members"] = "Enter at least one user name."
	}
	if len(errs) == 0 {
		_, err := h.eng.AddTeamMembers(ctx, rq.p.Actor, rq.p.Tenant.ID, id, ids)
		h.afterChange(w, r, rq, err, rq.base+"/teams/"+url.PathEscape(id)+"?done=saved")
		return
	}
	h.teamPage(w, r, rq, http.StatusBadRequest, nil, errs)
}

func (h *Handler) removeTeamMember(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	h.afterChange(w, r, rq, h.eng.RemoveTeamMember(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, r.PathValue("uid")), rq.base+"/teams/"+url.PathEscape(id)+"?done=removed")
}

func (h *Handler) seats(w http.ResponseWriter, r *http.Request, rq *request) {
	s, err := h.eng.SeatUsage(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusOK, "seats", &view{Title: "Seats", Nav: "seats", Data: s})
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	aq := provisioning.AuditQuery{Action: strings.TrimSpace(q.Get("action")), TargetID: strings.TrimSpace(q.Get("target")),
		ActorID: strings.TrimSpace(q.Get("actor")), Limit: 50}
	errs := map[string]string{}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs["before"] = "Not an event number."
		}
		aq.BeforeID = n
	}
	for _, f := range []struct {
		name string
		to   *time.Time
		end  bool
	}{{"from", &aq.Since, false}, {"to", &aq.Until, true}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		d, err := time.Parse("2006-01-02", v)
		if err != nil {
			errs[f.name] = "Use a date such as 2026-01-31."
			continue
		}
		if f.end {
			d = d.Add(24 * time.Hour) // through the end of that day (UTC)
		}
		*f.to = d
	}
	if len(errs) > 0 {
		h.render(w, rq, http.StatusBadRequest, "audit", &view{Title: "Audit log", Nav: "audit", Form: q, Errors: errs,
			Data: struct {
				Events []provisioning.AuditEvent
				Next   string
			}{}})
		return
	}
	evs, err := h.eng.ListAudit(r.Context(), rq.p.Tenant.ID, aq)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	next := ""
	if len(evs) == aq.Limit {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("before", strconv.FormatInt(evs[len(evs)-1].ID, 10))
		next = rq.base + "/audit?" + v.Encode()
	}
	h.render(w, rq, http.StatusOK, "audit", &view{Title: "Audit log", Nav: "audit", Form: q, Errors: errs, Data: struct {
		Events []provisioning.AuditEvent
		Next   string
	}{evs, next}})
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	ctx := r.Context()
	t, err := h.eng.GetTenant(ctx, rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	roles, err := h.eng.ListRoles(ctx, rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	sup, err := h.Accounts.ListSuppressions(ctx, rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if form == nil {
		form = url.Values{"seatLimit": {strconv.Itoa(t.SeatLimit)}, "allowedDomains": {strings.Join(t.Policy.AllowedDomains, "\n")},
			"blockedDomains": {strings.Join(t.Policy.BlockedDomains, "\n")}, "defaultRole": {t.Policy.DefaultRole},
			"name": {t.Name}, "invitationTTL": {ttl(t)}, "appUrl": {t.Policy.AppURL}}
		for k, on := range map[string]bool{"blockFreeMail": t.Policy.BlockFreeMail, "allowPasswordLogin": t.Policy.AllowPasswordLogin,
			"requireTwoFactor": t.Policy.RequireTwoFactor} {
			if on {
				form.Set(k, "on")
			}
		}
	}
	v := &view{Title: "Settings", Nav: "settings", Notice: notice(r), Form: form, Errors: errs, Data: struct {
		Tenant       *provisioning.Tenant
		Roles        []provisioning.Role
		Suppressions []provisioning.Suppression
		TTL          string
	}{t, grantable(rq.p, roles), sup, ttl(t)}}
	if len(errs) > 0 {
		v.Error = "Nothing was saved: check the marked fields."
	}
	h.render(w, rq, status, "settings", v)
}

func ttl(t *provisioning.Tenant) string {
	d := time.Duration(t.Policy.InvitationTTL)
	if d <= 0 {
		d = provisioning.DefaultInvitationTTL
	}
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return d.String()
}

func lines(s string) []string {
	return append([]string{}, strings.FieldsFunc(s, func(c rune) bool { return c == '\n' || c == ',' || c == '\r' || c == ' ' })...)
}

func (h *Handler) settingsPost(w http.ResponseWriter, r *http.Request, rq *request) {
	f := r.PostForm
	n, err := strconv.Atoi(strings.TrimSpace(f.Get("seatLimit")))
	if err != nil {
		h.settingsPage(w, r, rq, http.StatusBadRequest, f, map[string]string{"seatLimit": "Enter a whole number."})
		return
	}
	allowed, blocked := lines(f.Get("allowedDomains")), lines(f.Get("blockedDomains"))
	block, pwLogin, twoFA := f.Get("blockFreeMail") == "on", f.Get("allowPasswordLogin") == "on", f.Get("requireTwoFactor") == "on"
	role, name := strings.TrimSpace(f.Get("defaultRole")), strings.TrimSpace(f.Get("name"))
	inviteTTL, appURL := strings.TrimSpace(f.Get("invitationTTL")), strings.TrimSpace(f.Get("appUrl"))
	_, err = h.eng.UpdatePolicy(r.Context(), rq.p.Actor, rq.p.Tenant.ID, provisioning.PolicyInput{Name: &name, SeatLimit: &n,
		AllowedDomains: &allowed, BlockedDomains: &blocked, BlockFreeMail: &block, DefaultRole: &role,
		AllowPasswordLogin: &pwLogin, InvitationTTL: &inviteTTL, RequireTwoFactor: &twoFA, AppURL: &appURL})
	if err != nil {
		errs, ok := h.formErrors(w, r, rq, err, "name", "seatLimit", "allowedDomains", "blockedDomains", "defaultRole", "invitationTTL", "appUrl",
			"allowPasswordLogin", "requireTwoFactor")
		if !ok {
			return
		}
		h.settingsPage(w, r, rq, http.StatusBadRequest, f, errs)
		return
	}
	http.Redirect(w, r, rq.base+"/settings?done=saved", http.StatusSeeOther)
}

func (h *Handler) clearSuppression(w http.ResponseWriter, r *http.Request, rq *request) {
	email := r.PostFormValue("email")
	if !h.confirmed(w, r, rq, "Allow mail to "+email+" again?", "Its mail server refused mail before. Clear the block only once the address works.", "Clear block", rq.base+"/settings", nil) {
		return
	}
	h.afterChange(w, r, rq, h.Accounts.ClearSuppression(r.Context(), rq.p.Actor, rq.p.Tenant.ID, email), rq.base+"/settings?done=cleared")
}

func (h *Handler) tokens(w http.ResponseWriter, r *http.Request, rq *request) {
	list, err := h.eng.Store.ListTokens(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	var scim []provisioning.APIToken
	for _, t := range list {
		if t.Kind == provisioning.TokenSCIM {
			scim = append(scim, t)
		}
	}
	h.render(w, rq, http.StatusOK, "tokens", &view{Title: "SCIM tokens", Nav: "tokens", Notice: notice(r), Data: scim})
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, rq *request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if len(name) > 100 {
		h.message(w, rq, http.StatusBadRequest, "Check your input", "Use at most 100 characters for the token's name.")
		return
	}
	secret, t, err := h.eng.CreateToken(r.Context(), rq.p.Actor, rq.p.Tenant.ID, provisioning.TokenSCIM, name)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusCreated, "secret", &view{Title: "SCIM token created", Nav: "tokens", Data: secretData{
		Intro: "Paste this token into your identity provider's SCIM provisioning settings (" + t.Name + ").", Label: "Bearer token",
		Secret: secret, Note: "It is shown only now; Seatbridge keeps only a hash. If you lose it, create a new one and revoke this one.",
		Next: rq.base + "/tokens", NextLabel: "Back to SCIM tokens"}})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, rq *request) {
	if !h.confirmed(w, r, rq, "Revoke this token?", "Provisioning with it stops at once; this cannot be undone.", "Revoke token", rq.base+"/tokens", nil) {
		return
	}
	h.afterChange(w, r, rq, h.eng.RevokeToken(r.Context(), rq.p.Actor, rq.p.Tenant.ID, r.PathValue("id")), rq.base+"/tokens?done=tokenrevoked")
}
