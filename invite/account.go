package invite

import (
	"errors"
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// session resolves the session cookie; nil when there is none or it ended.
func (h *Handler) session(r *http.Request) (*provisioning.Access, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, nil
	}
	id, secret, ok := strings.Cut(c.Value, ".")
	if !ok {
		return nil, nil
	}
	acc, err := h.Accounts.SessionAccess(r.Context(), id, secret)
	if errors.Is(err, provisioning.ErrSessionEnded) || errors.Is(err, provisioning.ErrNotFound) {
		return nil, nil
	}
	return acc, err
}

// home is where a sign-in without a return address lands ("/"): the tenant's platform
// app when it set one, else the user's own account page; without a session a page that
// says how to sign in. Never a bare 404.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	acc, err := h.session(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if acc == nil {
		h.render(w, http.StatusOK, pageData{Title: "Seatbridge",
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
func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	acc, err := h.session(r)
	if err != nil {
		h.fail(w, r, err)
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
	h.render(w, http.StatusOK, pageData{Title: "Your account at " + acc.Tenant.Name, Form: "account",
		DisplayName: name, Email: u.PrimaryEmail(), Tenant: acc.Tenant.Name, Roles: roles, Language: u.PreferredLanguage})
}
