package sso

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// form guards a sign-in form POST: refused when the browser says it comes from another
// site (login CSRF), and throttled per client IP.
func (s *Service) form(next http.HandlerFunc) http.Handler {
	return s.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.attempts.Allow(s.ip(r)); !ok {
			w.Header().Set("Retry-After", httpx.RetryAfterSeconds(wait))
			s.Render(w, http.StatusTooManyRequests, Page{Title: "Too many attempts",
				Error: "Too many attempts from your network. Wait a moment and try again."})
			return
		}
		next(w, r)
	}))
}

func (s *Service) showLogin(w http.ResponseWriter, r *http.Request) {
	t, err := s.Tenant(r)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	rt, ok := s.ReturnTo(r.URL.Query().Get("return_to"))
	if !ok {
		s.refuseReturnTo(w)
		return
	}
	if ok, err := s.Accounts.PasswordLoginAllowed(r.Context(), t); err != nil {
		s.failPage(w, r, err)
		return
	} else if !ok {
		s.Render(w, http.StatusForbidden, Page{Title: "Sign in to " + t.Name, Message: t.Name + " signs in with single sign-on only."})
		return
	}
	s.Render(w, http.StatusOK, Page{Title: "Sign in to " + t.Name, Form: "login", Email: r.URL.Query().Get("email"), ReturnTo: rt})
}

func (s *Service) passwordLogin(w http.ResponseWriter, r *http.Request) {
	t, rt, ok := s.signInPost(w, r)
	if !ok {
		return
	}
	email := r.PostFormValue("email")
	res, err := s.Accounts.PasswordLogin(r.Context(), provisioning.PasswordLoginRequest{TenantID: t.ID, Email: email,
		Password: r.PostFormValue("password"), IP: s.ip(r), UserAgent: provisioning.Truncate(r.UserAgent(), 512)})
	s.finishLogin(w, r, t, res, err, rt, email)
}

func (s *Service) finishLogin(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, res *provisioning.LoginResult, err error, rt, email string) {
	var refused *provisioning.LoginRefusedError
	var change *provisioning.PasswordChangeRequiredError
	var second *provisioning.SecondFactorRequiredError
	switch {
	case errors.As(err, &second):
		s.renderSecondFactor(w, r, t, second.Ticket, second.Enrol, rt, "", http.StatusOK)
	case errors.As(err, &change):
		s.Render(w, http.StatusOK, Page{Title: "Choose a new password", Message: "Your password was temporary: choose your own to continue.",
			Form: "change", Ticket: change.Ticket, Codes: change.RecoveryCodes, ReturnTo: rt, Action: "/login/" + url.PathEscape(t.Slug) + "/change"})
	case errors.As(err, &refused):
		s.Render(w, http.StatusUnauthorized, Page{Title: "Sign in to " + t.Name, Error: refused.Message, Form: "login", Email: email, ReturnTo: rt})
	case err != nil:
		s.failPage(w, r, err)
	default:
		s.setSession(w, res)
		http.Redirect(w, r, rt, http.StatusSeeOther)
	}
}

func (s *Service) changePassword(w http.ResponseWriter, r *http.Request) {
	t, rt, ok := s.signInPost(w, r)
	if !ok {
		return
	}
	ticket := r.PostFormValue("ticket")
	again := Page{Title: "Choose a new password", Form: "change", Ticket: ticket, ReturnTo: rt, Action: "/login/" + url.PathEscape(t.Slug) + "/change"}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		again.Error = "The passwords do not match."
		s.Render(w, http.StatusBadRequest, again)
		return
	}
	res, err := s.Accounts.CompletePasswordChange(r.Context(), t.ID, ticket, pw, s.ip(r), provisioning.Truncate(r.UserAgent(), 512))
	var ve *provisioning.ValidationError
	switch {
	case errors.As(err, &ve):
		again.Error = ve.Error()
		s.Render(w, http.StatusBadRequest, again)
	case errors.Is(err, provisioning.ErrSessionEnded):
		s.Render(w, http.StatusGone, Page{Title: "Sign in again", Message: "This password change took too long or was already done. Sign in again.",
			Form: "login", ReturnTo: rt})
	default:
		s.finishLogin(w, r, t, res, err, rt, "")
	}
}

// signInPost reads a sign-in form POST: the tenant, the form (size-capped) and its
// return address. It answers the request itself and reports false when one of them is bad.
func (s *Service) signInPost(w http.ResponseWriter, r *http.Request) (*provisioning.Tenant, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	t, err := s.Tenant(r)
	if err != nil {
		s.failPage(w, r, err)
		return nil, "", false
	}
	if err := r.ParseForm(); err != nil {
		s.Render(w, http.StatusBadRequest, Page{Title: "Check your input", Message: "The form could not be read."})
		return nil, "", false
	}
	rt, ok := s.ReturnTo(r.PostFormValue("return_to"))
	if !ok {
		s.refuseReturnTo(w)
		return nil, "", false
	}
	return t, rt, true
}

// secondFactor: POST /login/{tenant}/2fa checks the code of a sign-in waiting for it.
func (s *Service) secondFactor(w http.ResponseWriter, r *http.Request) {
	t, rt, ok := s.signInPost(w, r)
	if !ok {
		return
	}
	ticket := r.PostFormValue("ticket")
	res, err := s.Accounts.CompleteSecondFactor(r.Context(), t.ID, ticket, r.PostFormValue("code"), s.ip(r), provisioning.Truncate(r.UserAgent(), 512))
	var refused *provisioning.LoginRefusedError
	switch {
	case errors.As(err, &refused) && refused.Reason == provisioning.RefuseBadSecondFactor:
		// A set-up keeps its secret, so the QR code is shown again as it was.
		s.renderSecondFactor(w, r, t, ticket, r.PostFormValue("enrol") == "1", rt, refused.Message, http.StatusUnauthorized)
	case errors.Is(err, provisioning.ErrSessionEnded):
		s.Render(w, http.StatusGone, Page{Title: "Sign in again", Message: "This sign-in took too long or was already finished. Sign in again.",
			Form: "login", ReturnTo: rt})
	case err != nil:
		s.finishLogin(w, r, t, nil, err, rt, "")
	case len(res.RecoveryCodes) > 0:
		s.setSession(w, res.LoginResult)
		s.Render(w, http.StatusOK, Page{Title: "Your recovery codes", Form: "recovery", Codes: res.RecoveryCodes, ReturnTo: rt})
	default:
		s.finishLogin(w, r, t, res.LoginResult, nil, rt, "")
	}
}

// renderSecondFactor asks for the code of the authenticator; with enrol it first sets one
// up (QR code and key), as a tenant that requires a second factor demands.
func (s *Service) renderSecondFactor(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, ticket string, enrol bool, rt, msg string, status int) {
	d := Page{Title: "Second factor", Form: "2fa", Tenant: t.Name, Ticket: ticket, ReturnTo: rt, Error: msg,
		Action: "/login/" + url.PathEscape(t.Slug) + "/2fa"}
	if enrol {
		en, err := s.Accounts.EnrolForTicket(r.Context(), t.ID, ticket)
		if errors.Is(err, provisioning.ErrSessionEnded) {
			s.Render(w, http.StatusGone, Page{Title: "Sign in again", Message: "This sign-in took too long or was already finished. Sign in again.",
				Form: "login", ReturnTo: rt})
			return
		}
		if err != nil {
			s.failPage(w, r, err)
			return
		}
		d.Title = "Set up your second factor"
		// The PNG is generated here from the secret: a data: URL is safe to embed.
		d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRPNG))
		d.Secret = en.Secret
	}
	s.Render(w, status, d)
}
