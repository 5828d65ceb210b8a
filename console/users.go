package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// PageSize is the users list's page length.
const PageSize = 25

// sorts are the users list's sort choices: a key (a leading "-" sorts descending) and
// the filter field it sorts by.
var sorts = []struct{ Key, Label, Field string }{
	{"name", "Name A–Z", "displayName"},
	{"-name", "Name Z–A", "displayName"},
	{"email", "User name", "userName"},
	{"-lastLogin", "Recent sign-in", "lastLoginAt"},
	{"lastLogin", "Oldest sign-in", "lastLoginAt"},
	{"-created", "Newest", "meta.created"},
	{"created", "Oldest", "meta.created"},
	{"status", "Status", "status"},
}

type usersData struct {
	Users      []provisioning.User
	Total      int
	Page       int
	Pages      int
	Prev, Next string
	Roles      []provisioning.Role
	Teams      []provisioning.Team
	Seats      *provisioning.SeatUsage
	Sorts      any
	Filtered   bool
	Grantable  []provisioning.Role
	// Back is this page, where a bulk action returns.
	Back string
}

// userQuery reads the users list's filters; bad values are errors next to the filter.
func userQuery(q url.Values) (provisioning.UserQuery, int, map[string]string) {
	uq := provisioning.UserQuery{Search: strings.TrimSpace(q.Get("q")), WithAccess: true, Limit: PageSize}
	errs := map[string]string{}
	if len(uq.Search) > 200 {
		errs["q"] = "Use at most 200 characters."
		uq.Search = ""
	}
	var fs []provisioning.Filter
	if v := q.Get("status"); v != "" {
		switch provisioning.UserStatus(v) {
		case provisioning.StatusActive, provisioning.StatusInvited, provisioning.StatusDeactivated:
			fs = append(fs, provisioning.Compare{Field: "status", Op: provisioning.OpEq, Value: v, CaseExact: true})
		default:
			errs["status"] = "Unknown status."
		}
	}
	if v := q.Get("source"); v != "" {
		switch provisioning.Source(v) {
		case provisioning.SourceAdmin, provisioning.SourceInvite, provisioning.SourceCSV, provisioning.SourceJIT, provisioning.SourceSCIM:
			fs = append(fs, provisioning.Compare{Field: "source", Op: provisioning.OpEq, Value: v, CaseExact: true})
		default:
			errs["source"] = "Unknown source."
		}
	}
	switch q.Get("seat") {
	case "":
	case "yes":
		fs = append(fs, provisioning.Compare{Field: "seat", Op: provisioning.OpEq, Value: true})
	case "no":
		fs = append(fs, provisioning.Compare{Field: "seat", Op: provisioning.OpEq, Value: false})
	default:
		errs["seat"] = "Choose yes or no."
	}
	if v := q.Get("role"); v != "" {
		fs = append(fs, provisioning.Compare{Field: "role", Op: provisioning.OpEq, Value: v})
	}
	if v := q.Get("team"); v != "" {
		fs = append(fs, provisioning.Compare{Field: "team", Op: provisioning.OpEq, Value: v})
	}
	uq.Filter = provisioning.AllOf(fs...)
	if v := q.Get("sort"); v != "" {
		found := false
		for _, s := range sorts {
			if s.Key == v {
				uq.Sort.Field, uq.Sort.Descending, found = s.Field, strings.HasPrefix(v, "-"), true
			}
		}
		if !found {
			errs["sort"] = "Unknown sort."
		}
	}
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			errs["page"] = "Not a page number."
		} else {
			page = n
		}
	}
	uq.Offset = (page - 1) * PageSize
	// Next links carry the store's keyset cursor, so paging forward through a large tenant
	// never makes the database skip rows; page numbers alone (a typed URL, Previous) use the
	// offset.
	if v := q.Get("cursor"); v != "" {
		if len(v) > 1024 {
			errs["page"] = "Not a page of this list."
		} else {
			uq.After = v
		}
	}
	return uq, page, errs
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	q := r.URL.Query()
	uq, page, errs := userQuery(q)
	d := &usersData{Page: page, Sorts: sorts, Back: r.URL.Path}
	if bq := withoutDone(q); len(bq) > 0 {
		d.Back += "?" + bq.Encode()
	}
	for _, k := range []string{"q", "status", "seat", "role", "team", "source"} {
		if q.Get(k) != "" {
			d.Filtered = true
		}
	}
	var err error
	if d.Roles, err = h.eng.ListRoles(ctx, rq.p.Tenant.ID); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if d.Teams, err = h.eng.ListTeams(ctx, rq.p.Tenant.ID); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	// The tenant's seat counters come with the session; the count of users waiting for
	// a seat scans the tenant and is left to the Seats and Add users pages.
	t := rq.acc.Tenant
	d.Seats = &provisioning.SeatUsage{Limit: t.SeatLimit, Used: t.SeatsUsed, Free: t.SeatsFree()}
	d.Grantable = grantable(rq.p, d.Roles)
	up, err := h.eng.ListUsers(ctx, rq.p.Tenant.ID, uq)
	if errors.Is(err, provisioning.ErrBadCursor) {
		h.message(w, rq, http.StatusBadRequest, "Page link not valid", "This page link is not valid any more: start again from the first page of the list.")
		return
	}
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	d.Users, d.Total = up.Users, up.Total
	d.Pages = (d.Total + PageSize - 1) / PageSize
	link := func(p int, cursor string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Del("cursor")
		v.Del("done")
		v.Set("page", strconv.Itoa(p))
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		return rq.base + "/users?" + v.Encode()
	}
	if page > 1 {
		d.Prev = link(page-1, "")
	}
	if page < d.Pages {
		d.Next = link(page+1, up.Next)
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	h.render(w, rq, status, "users", &view{Title: "Users", Nav: "users", Notice: notice(r), Errors: errs, Form: q, Data: d})
}

// grantable are the roles the principal may grant, by the engine's rule.
func grantable(p *provisioning.Principal, roles []provisioning.Role) []provisioning.Role {
	var out []provisioning.Role
	for _, r := range roles {
		if p.MayGrant(r) {
			out = append(out, r)
		}
	}
	return out
}

// bulk applies one action to the selected users: seats, roles, teams, deactivation. It
// is one engine call, so all of the users change or none.
func (h *Handler) bulk(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	ids := r.PostForm["ids"]
	back := rq.base + "/users"
	if ret := r.PostFormValue("back"); strings.HasPrefix(ret, rq.base+"/users") && !strings.ContainsAny(ret, "\\\r\n") {
		back = ret
	}
	action := r.PostFormValue("action")
	if r.PostFormValue("scope") == "matching" {
		// Every user the list's filters match (not only the ticked ones), read again now.
		var err error
		if ids, err = h.matching(r, rq, back); err != nil {
			h.fail(w, r, rq, err)
			return
		}
		if len(ids) > 0 && !h.confirmed(w, r, rq, "Change every matching user?", fmt.Sprintf("“%s” applies to all %d users the list's filters match, not only the ticked ones.", actionLabels[action], len(ids)), "Apply to all", back, nil) {
			return
		}
	}
	if len(ids) == 0 {
		h.message(w, rq, http.StatusBadRequest, "No users selected", "Tick the users to change in the list first.")
		return
	}
	roles, teams := nonEmpty(r.PostForm["role"]), nonEmpty(r.PostForm["team"])
	var err error
	done := "bulk"
	switch action {
	case "assign_seat":
		_, err = h.eng.AssignSeats(ctx, rq.p.Actor, rq.p.Tenant.ID, ids, roles)
		done = "seated"
	case "unassign_seat":
		if !h.confirmed(w, r, rq, "Free seats?", fmt.Sprintf("%d selected users lose their seat and are signed out.", len(ids)), "Free seats", back, nil) {
			return
		}
		_, err = h.eng.UnassignSeats(ctx, rq.p.Actor, rq.p.Tenant.ID, ids)
		done = "unseated"
	case "add_roles", "remove_roles", "set_roles":
		if len(roles) == 0 && action != "set_roles" {
			h.message(w, rq, http.StatusBadRequest, "Choose a role", "Pick the role to add or remove next to the action.")
			return
		}
		_, err = h.eng.Bulk(ctx, rq.p.Actor, rq.p.Tenant.ID, provisioning.BulkChange{Action: provisioning.BulkAction(action), UserIDs: ids, Roles: roles})
	case "add_teams", "remove_teams":
		if len(teams) == 0 {
			h.message(w, rq, http.StatusBadRequest, "Choose a team", "Pick the team to add or remove next to the action.")
			return
		}
		_, err = h.eng.Bulk(ctx, rq.p.Actor, rq.p.Tenant.ID, provisioning.BulkChange{Action: provisioning.BulkAction(action), UserIDs: ids, Teams: teams})
	case "deactivate":
		if !h.confirmed(w, r, rq, "Deactivate users?", fmt.Sprintf("%d selected users will no longer be able to sign in; their seats are freed and their history is kept.", len(ids)), "Deactivate", back, nil) {
			return
		}
		_, err = h.eng.Bulk(ctx, rq.p.Actor, rq.p.Tenant.ID, provisioning.BulkChange{Action: provisioning.BulkDeactivate, UserIDs: ids})
	case "reactivate":
		_, err = h.eng.Bulk(ctx, rq.p.Actor, rq.p.Tenant.ID, provisioning.BulkChange{Action: provisioning.BulkReactivate, UserIDs: ids})
	default:
		h.message(w, rq, http.StatusBadRequest, "Choose an action", "Pick what to do with the selected users.")
		return
	}
	h.afterChange(w, r, rq, err, withDone(back, done))
}

// actionLabels name the bulk actions in confirmations.
var actionLabels = map[string]string{"assign_seat": "Assign a seat", "unassign_seat": "Free their seats", "add_roles": "Add role",
	"remove_roles": "Remove role", "set_roles": "Set role", "add_teams": "Add to team", "remove_teams": "Remove from team",
	"deactivate": "Deactivate", "reactivate": "Reactivate"}

// matching returns the ids of every user the list at back (its filters) shows, at most
// provisioning.MaxBatch: a larger selection is refused, never cut.
func (h *Handler) matching(r *http.Request, rq *request, back string) ([]string, error) {
	u, err := url.Parse(back)
	if err != nil {
		return nil, provisioning.Invalid("back", "is not a list of this console")
	}
	uq, _, errs := userQuery(u.Query())
	if len(errs) > 0 {
		return nil, provisioning.Invalid("back", "the list's filters are not valid")
	}
	uq.Offset, uq.After, uq.Limit, uq.WithAccess = 0, "", provisioning.MaxBatch, false
	page, err := h.eng.ListUsers(r.Context(), rq.p.Tenant.ID, uq)
	if err != nil {
		return nil, err
	}
	if page.Total > provisioning.MaxBatch {
		return nil, provisioning.Invalid("scope", "%d users match: narrow the filters to at most %d", page.Total, provisioning.MaxBatch)
	}
	ids := make([]string, len(page.Users))
	for i, u := range page.Users {
		ids[i] = u.ID
	}
	return ids, nil
}

func withoutDone(q url.Values) url.Values {
	v := url.Values{}
	for k, vs := range q {
		if k != "done" {
			v[k] = vs
		}
	}
	return v
}

func withDone(u, done string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "done=" + done
}

func nonEmpty(s []string) []string {
	var out []string
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// addUsers is "Add users": the platform users without a seat, to seat many at once.
func (h *Handler) addUsers(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	up, err := h.eng.ListUsers(ctx, rq.p.Tenant.ID, provisioning.UserQuery{Search: q, Limit: 200,
		Filter: provisioning.And{Left: provisioning.Compare{Field: "seat", Op: provisioning.OpEq, Value: false},
			Right: provisioning.Compare{Field: "status", Op: provisioning.OpNe, Value: string(provisioning.StatusDeactivated), CaseExact: true}}})
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	seats, err := h.eng.SeatUsage(ctx, rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusOK, "addusers", &view{Title: "Add users", Nav: "users", Form: url.Values{"q": {q}},
		Data: struct {
			Users []provisioning.User
			Total int
			Seats *provisioning.SeatUsage
		}{up.Users, up.Total, seats}})
}

func (h *Handler) addUsersPost(w http.ResponseWriter, r *http.Request, rq *request) {
	ids := r.PostForm["ids"]
	if len(ids) == 0 {
		h.message(w, rq, http.StatusBadRequest, "No users selected", "Tick the users who should get a seat.")
		return
	}
	_, err := h.eng.AssignSeats(r.Context(), rq.p.Actor, rq.p.Tenant.ID, ids, nil)
	h.afterChange(w, r, rq, err, rq.base+"/users?seat=yes&done=seated")
}

type userData struct {
	User       *provisioning.User
	Grants     []provisioning.Grant
	Roles      []provisioning.Role
	Grantable  []provisioning.Role
	Teams      []provisioning.Team
	Logins     *provisioning.LoginSummary
	Audit      []provisioning.AuditEvent
	AdminRoles []string
	AdminTeams []string
	IdP        bool
	Self       bool
	// Invitation is the user's pending (or expired) invitation, to resend or revoke here.
	Invitation *provisioning.Invitation
	Sessions   []provisioning.Session
	Identities []provisioning.Identity
	TwoF       *provisioning.TwoFactorStatus
}

func (h *Handler) loadUser(ctx context.Context, rq *request, id string, withAudit bool) (*userData, error) {
	u, err := h.eng.GetUser(ctx, rq.p.Tenant.ID, id)
	if err != nil {
		return nil, err
	}
	d := &userData{User: u, IdP: u.IdPManaged(), Self: u.ID == rq.acc.User.ID}
	if d.Grants, err = h.eng.UserGrants(ctx, rq.p.Tenant.ID, id); err != nil {
		return nil, err
	}
	for _, g := range d.Grants {
		if g.Source != provisioning.SourceAdminGrant {
			continue
		}
		if g.Kind == "role" {
			d.AdminRoles = append(d.AdminRoles, g.Name)
		} else {
			d.AdminTeams = append(d.AdminTeams, g.Name)
		}
	}
	if d.Roles, err = h.eng.ListRoles(ctx, rq.p.Tenant.ID); err != nil {
		return nil, err
	}
	d.Grantable = grantable(rq.p, d.Roles)
	if d.Teams, err = h.eng.ListTeams(ctx, rq.p.Tenant.ID); err != nil {
		return nil, err
	}
	if d.Logins, err = h.eng.LoginHistory(ctx, rq.p.Tenant.ID, id, provisioning.LoginQuery{Limit: 20}); err != nil {
		return nil, err
	}
	if d.Sessions, err = h.eng.OwnSessions(ctx, rq.p.Tenant.ID, id); err != nil {
		return nil, err
	}
	if d.Identities, err = h.eng.UserIdentities(ctx, rq.p.Tenant.ID, id); err != nil {
		return nil, err
	}
	if u.PasswordHash != "" {
		if d.TwoF, err = h.Accounts.TwoFactorStatus(ctx, rq.p.Tenant.ID, id); err != nil {
			return nil, err
		}
	}
	if u.Status == provisioning.StatusInvited {
		// Pending invitations are few: the list is short even in a large tenant.
		invs, err := h.Accounts.ListInvitations(ctx, rq.p.Tenant.ID, "")
		if err != nil {
			return nil, err
		}
		for i := range invs {
			if invs[i].UserID == u.ID && (invs[i].State == provisioning.InvitePending || invs[i].State == provisioning.InviteExpired) {
				d.Invitation = &invs[i]
			}
		}
	}
	if withAudit && rq.p.Can(provisioning.PermManageSettings) {
		if d.Audit, err = h.eng.ListAudit(ctx, rq.p.Tenant.ID, provisioning.AuditQuery{TargetID: id, Limit: 20}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := h.loadUser(r.Context(), rq, r.PathValue("id"), true)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusOK, "user", &view{Title: userName(d.User), Nav: "users", Notice: notice(r), Data: d, Form: profileForm(d.User)})
}

func profileForm(u *provisioning.User) url.Values {
	v := url.Values{"email": {u.PrimaryEmail()}, "givenName": {u.Name.GivenName}, "familyName": {u.Name.FamilyName},
		"displayName": {u.DisplayName}, "externalId": {u.ExternalID}, "preferredLanguage": {u.PreferredLanguage},
		"businessUnit": {u.BusinessUnit}, "version": {strconv.FormatInt(u.Version, 10)}}
	for _, p := range u.PhoneNumbers {
		switch p.Type {
		case "work":
			v.Set("workPhone", p.Value)
		case "mobile":
			v.Set("mobilePhone", p.Value)
		}
	}
	return v
}

var profileFields = []string{"email", "givenName", "familyName", "displayName", "externalId", "preferredLanguage", "businessUnit", "workPhone", "mobilePhone"}

// userProfile saves the profile form. Fields the identity provider manages are not sent
// by the form (they are shown read-only) and the engine refuses them anyway.
func (h *Handler) userProfile(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	ver, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || ver < 1 {
		ver = provisioning.AnyVersion
	}
	var in provisioning.UserEdit
	ptr := map[string]**string{"email": &in.Email, "givenName": &in.GivenName, "familyName": &in.FamilyName, "displayName": &in.DisplayName,
		"externalId": &in.ExternalID, "preferredLanguage": &in.PreferredLanguage, "businessUnit": &in.BusinessUnit,
		"workPhone": &in.WorkPhone, "mobilePhone": &in.MobilePhone}
	for _, f := range profileFields {
		if vs, ok := r.PostForm[f]; ok {
			v := strings.TrimSpace(vs[0])
			*ptr[f] = &v
		}
	}
	_, err = h.eng.EditUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, ver, in)
	if err != nil {
		errs, ok := h.formErrors(w, r, rq, err, profileFields...)
		if !ok {
			return
		}
		d, lerr := h.loadUser(r.Context(), rq, id, true)
		if lerr != nil {
			h.fail(w, r, rq, lerr)
			return
		}
		h.render(w, rq, http.StatusBadRequest, "user", &view{Title: userName(d.User), Nav: "users", Data: d, Form: r.PostForm, Errors: errs,
			Error: "The profile was not saved: check the marked fields."})
		return
	}
	http.Redirect(w, r, rq.base+"/users/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
}

// userRoles sets the admin-granted roles to the ticked ones. Roles the caller may not
// grant are not offered; the engine refuses them anyway.
func (h *Handler) userRoles(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	roles := nonEmpty(r.PostForm["role"])
	if roles == nil {
		roles = []string{}
	}
	_, err := h.eng.ChangeUserRoles(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.RoleChange{Set: roles})
	h.afterChange(w, r, rq, err, rq.base+"/users/"+url.PathEscape(id)+"?done=saved")
}

func (h *Handler) userTeams(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	teams := nonEmpty(r.PostForm["team"])
	if teams == nil {
		teams = []string{}
	}
	_, err := h.eng.SetUserTeams(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, teams)
	h.afterChange(w, r, rq, err, rq.base+"/users/"+url.PathEscape(id)+"?done=saved")
}

func (h *Handler) userSeat(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := rq.base + "/users/" + url.PathEscape(id)
	var err error
	done := "seated"
	switch r.PostFormValue("seat") {
	case "assign":
		_, err = h.eng.AssignSeats(r.Context(), rq.p.Actor, rq.p.Tenant.ID, []string{id}, nil)
	case "free":
		if !h.confirmed(w, r, rq, "Free this seat?", "The user loses the seat and is signed out; their profile and history stay.", "Free seat", back, nil) {
			return
		}
		_, err = h.eng.UnassignSeats(r.Context(), rq.p.Actor, rq.p.Tenant.ID, []string{id})
		done = "unseated"
	default:
		h.message(w, rq, http.StatusBadRequest, "Check your input", "Choose assign or free.")
		return
	}
	h.afterChange(w, r, rq, err, back+"?done="+done)
}

func (h *Handler) userStatus(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := rq.base + "/users/" + url.PathEscape(id)
	var err error
	done := ""
	switch r.PostFormValue("status") {
	case "deactivate":
		if !h.confirmed(w, r, rq, "Deactivate this user?", "They can no longer sign in, their sessions end and their seat is freed. Their history is kept and you can reactivate them later.", "Deactivate", back, nil) {
			return
		}
		_, err = h.eng.DeactivateUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id)
		done = "deactivated"
	case "reactivate":
		_, err = h.eng.ReactivateUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.ReactivateOptions{})
		done = "reactivated"
	case "remove":
		if !h.confirmed(w, r, rq, "Remove this user from the organisation?", "This is irreversible: the user, their roles, teams and seat go; the audit history stays. To add them again you will need to invite them from scratch.", "Yes, remove this user", back, nil) {
			return
		}
		h.afterChange(w, r, rq, h.eng.RemoveUser(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id), rq.base+"/users?done=removed")
		return
	default:
		h.message(w, rq, http.StatusBadRequest, "Check your input", "Choose deactivate, reactivate or remove.")
		return
	}
	h.afterChange(w, r, rq, err, back+"?done="+done)
}

// userPassword resets a local password (a temporary one, shown once) or clears a
// lockout.
func (h *Handler) userPassword(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := rq.base + "/users/" + url.PathEscape(id)
	switch r.PostFormValue("do") {
	case "reset":
		if !h.confirmed(w, r, rq, "Reset this password?", "The current password stops working, the user's sessions end, and a temporary password is shown once on the next page.", "Reset password", back, nil) {
			return
		}
		pw, err := h.Accounts.ResetPassword(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.ResetPasswordRequest{
			ForceChange: r.PostFormValue("forceChange") == "on", SendMail: r.PostFormValue("sendMail") == "on"})
		if err != nil {
			h.fail(w, r, rq, err)
			return
		}
		h.render(w, rq, http.StatusOK, "secret", &view{Title: "Password reset", Nav: "users", Data: secretData{
			Intro: "The user can now sign in with this temporary password.", Label: "Temporary password", Secret: pw,
			Note: "It is shown only now: copy it and pass it on securely.", Next: back, NextLabel: "Back to the user"}})
	case "unlock":
		h.afterChange(w, r, rq, h.Accounts.UnlockAccount(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id), back+"?done=unlocked")
	default:
		h.message(w, rq, http.StatusBadRequest, "Check your input", "Choose reset or unlock.")
	}
}

// meData is the own profile page.
type meData struct {
	User     *provisioning.User
	Roles    []string
	Teams    []string
	Logins   *provisioning.LoginSummary
	Sessions []provisioning.Session
	Current  string
	Local    bool
	IdP      bool
	TwoF     *provisioning.TwoFactorStatus
}

// mePage is the signed-in user's own profile: the only page of a user without manage_users.
func (h *Handler) mePage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	ctx := r.Context()
	u, err := h.eng.GetUser(ctx, rq.p.Tenant.ID, rq.acc.User.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	d := &meData{User: u, Roles: rq.acc.Roles, Teams: rq.acc.Teams, Current: rq.acc.Session.ID, Local: u.PasswordHash != "", IdP: u.IdPManaged()}
	if d.Logins, err = h.eng.LoginHistory(ctx, rq.p.Tenant.ID, u.ID, provisioning.LoginQuery{Limit: 10}); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if d.Sessions, err = h.eng.OwnSessions(ctx, rq.p.Tenant.ID, u.ID); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if d.Local {
		if d.TwoF, err = h.Accounts.TwoFactorStatus(ctx, rq.p.Tenant.ID, u.ID); err != nil {
			h.fail(w, r, rq, err)
			return
		}
	}
	if form == nil {
		form = profileForm(u)
	}
	v := &view{Title: "My profile", Nav: "me", Notice: notice(r), Form: form, Errors: errs, Data: d}
	if len(errs) > 0 {
		v.Error = "Nothing was saved: check the marked fields."
	}
	h.render(w, rq, status, "me", v)
}

// editOwnProfile saves the fields a user may change about themselves; the engine keeps
// the identity provider's fields read-only.
func (h *Handler) editOwnProfile(w http.ResponseWriter, r *http.Request, rq *request) {
	var in provisioning.SelfEdit
	ptr := map[string]**string{"givenName": &in.GivenName, "familyName": &in.FamilyName, "displayName": &in.DisplayName,
		"externalId": &in.ExternalID, "preferredLanguage": &in.PreferredLanguage}
	for name, p := range ptr {
		if vs, ok := r.PostForm[name]; ok {
			v := strings.TrimSpace(vs[0])
			*p = &v
		}
	}
	_, err := h.eng.EditOwnProfile(r.Context(), rq.p.Actor, rq.p.Tenant.ID, in)
	h.afterForm(w, r, rq, err, rq.base+"/me?done=saved", h.mePage, "givenName", "familyName", "displayName", "externalId", "preferredLanguage")
}

// endOtherSessions signs the user out everywhere but here.
func (h *Handler) endOtherSessions(w http.ResponseWriter, r *http.Request, rq *request) {
	_, err := h.eng.EndOtherSessions(r.Context(), rq.p.Actor, rq.p.Tenant.ID, rq.acc.Session.ID)
	h.afterChange(w, r, rq, err, rq.base+"/me?done=signedout")
}

func (h *Handler) changeOwnPassword(w http.ResponseWriter, r *http.Request, rq *request) {
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		h.message(w, rq, http.StatusBadRequest, "Check your input", "The new passwords do not match.")
		return
	}
	err := h.Accounts.ChangeOwnPassword(r.Context(), rq.p.Tenant.ID, rq.acc.User.ID, r.PostFormValue("current"), r.PostFormValue("password"), rq.p.Actor.IP)
	h.afterChange(w, r, rq, err, rq.base+"/me?done=password")
}
