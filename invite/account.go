package invite

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
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

// renderSecondFactor asks for the code of the authenticator; with enrol it first sets one
// up (QR code and key), as a tenant that requires a second factor demands.
func (h *Handler) renderSecondFactor(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, ticket string, enrol bool, rt, msg string, status int) {
	d := pageData{Title: "Second factor", Form: "2fa", Tenant: t.Name, Ticket: ticket, ReturnTo: rt, Error: msg,
		Action: "/login/" + url.PathEscape(t.Slug) + "/2fa"}
	if enrol {
		en, err := h.Accounts.EnrolForTicket(r.Context(), t.ID, ticket)
		if errors.Is(err, provisioning.ErrSessionEnded) {
			h.render(w, http.StatusGone, pageData{Title: "Sign in again", Message: "This sign-in took too long or was already finished. Sign in again.",
				Form: "login", ReturnTo: rt})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Title = "Set up your second factor"
		// The PNG is generated here from the secret: a data: URL is safe to embed.
		d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRPNG))
		d.Secret = en.Secret
	}
	h.render(w, status, d)
}

// signInPost reads a sign-in form POST: the tenant, the form (size-capped) and its
// return address. It answers the request itself and reports false when one of them is bad.
func (h *Handler) signInPost(w http.ResponseWriter, r *http.Request) (*provisioning.Tenant, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	t, err := h.tenant(r)
	if err != nil {
		h.fail(w, r, err)
		return nil, "", false
	}
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, pageData{Title: "Check your input", Message: "The form could not be read."})
		return nil, "", false
	}
	rt, ok := h.safeReturnTo(r.PostFormValue("return_to"))
	if !ok {
		h.render(w, http.StatusBadRequest, pageData{Title: "Sign-in not possible", Message: "The return address of this sign-in is not allowed."})
		return nil, "", false
	}
	return t, rt, true
}

// secondFactor: POST /login/{tenant}/2fa checks the code of a sign-in waiting for it.
func (h *Handler) secondFactor(w http.ResponseWriter, r *http.Request) {
	t, rt, ok := h.signInPost(w, r)
	if !ok {
		return
	}
	ticket := r.PostFormValue("ticket")
	res, err := h.Accounts.CompleteSecondFactor(r.Context(), t.ID, ticket, r.PostFormValue("code"), h.ip(r), trunc(r.UserAgent(), 512))
	var refused *provisioning.LoginRefusedError
	switch {
	case errors.As(err, &refused) && refused.Reason == provisioning.RefuseBadSecondFactor:
		// A set-up keeps its secret, so the QR code is shown again as it was.
		h.renderSecondFactor(w, r, t, ticket, r.PostFormValue("enrol") == "1", rt, refused.Message, http.StatusUnauthorized)
	case errors.Is(err, provisioning.ErrSessionEnded):
		h.render(w, http.StatusGone, pageData{Title: "Sign in again", Message: "This sign-in took too long or was already finished. Sign in again.",
			Form: "login", ReturnTo: rt})
	case err != nil:
		h.finishLogin(w, r, t, nil, err, rt, "")
	case len(res.RecoveryCodes) > 0:
		h.setSession(w, res.LoginResult)
		h.render(w, http.StatusOK, pageData{Title: "Your recovery codes", Form: "recovery", Codes: res.RecoveryCodes, ReturnTo: rt})
	default:
		h.finishLogin(w, r, t, res.LoginResult, nil, rt, "")
	}
}
