package sso

import (
	"net/http"
	"strings"
)

// home is where a sign-in without a return address lands ("/"): the tenant's platform
// app when it set one, else the user's own account page; without a session a page that
// says how to sign in. Never a bare 404.
func (s *Service) home(w http.ResponseWriter, r *http.Request) {
	acc, err := s.session(r)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	if acc == nil {
		s.Render(w, http.StatusOK, Page{Title: "Seatbridge",
			Message: "You are not signed in. Use the sign-in link of your organisation (/login/<organisation>) or the link in your invitation e-mail."})
		return
	}
	if u := acc.Tenant.Policy.AppURL; u != "" {
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// account shows the signed-in user's own page; the self-service API is /api/v1/me.
func (s *Service) account(w http.ResponseWriter, r *http.Request) {
	acc, err := s.session(r)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	if acc == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	u := acc.User
	name := u.DisplayName
	if name == "" {
		name = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	roles := "none"
	if len(acc.Roles) > 0 {
		roles = strings.Join(acc.Roles, ", ")
	}
	s.Render(w, http.StatusOK, Page{Title: "Your account at " + acc.Tenant.Name, Form: "account",
		DisplayName: name, Email: u.PrimaryEmail(), Tenant: acc.Tenant.Name, Roles: roles, Language: u.PreferredLanguage})
}
