package sso

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages is the one page shell of every sign-in page (templates/shell.html) with the forms
// it can hold (templates/forms.html).
var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Page is what a sign-in page shows. Form picks the page's own part of forms.html ("" for
// a message only).
type Page struct {
	Title, Message, Error, Reason, Form  string
	Tenant, Email, DisplayName, ReturnTo string
	Ticket, Action                       string
	Roles, Language                      string
	// QR (a data: URL of a PNG) and Secret enrol an authenticator; Codes are recovery codes.
	QR     template.URL
	Secret string
	Codes  []string
	// Fields are hidden form fields (the re-posted SAML form, a carried-over authorize
	// request); Nonce allows the re-post page's one script.
	Fields url.Values
	Nonce  string
}

// PageCSP is the Content-Security-Policy of the sign-in pages (httpx.PageCSP): nothing but
// the page itself, forms posting only to Seatbridge.
const PageCSP = httpx.PageCSP

// qrPageCSP is the page policy plus data: images, for the QR code of an authenticator.
var qrPageCSP = strings.Replace(PageCSP, "default-src 'none';", "default-src 'none'; img-src data:;", 1)

// Render writes p in the page shell with the security headers of every Seatbridge page.
func (s *Service) Render(w http.ResponseWriter, status int, p Page) {
	csp := PageCSP
	switch {
	case p.Nonce != "":
		// The re-post page's auto-submit is its only script.
		csp = strings.Replace(PageCSP, "default-src 'none';", "default-src 'none'; script-src 'nonce-"+p.Nonce+"';", 1)
	case p.QR != "":
		// The authenticator set-up shows its QR code as a data: image, and nothing else.
		csp = qrPageCSP
	}
	httpx.HTMLHeaders(w, csp)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "shell", p); err != nil {
		s.Log.Error("sso: render page", "err", err)
	}
}

// Fail logs err (never shown) and renders a generic page. A database that is unavailable
// is a 503 with Retry-After whatever the step, never "unknown organisation" or a 500.
func (s *Service) Fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if errors.Is(err, provisioning.ErrUnavailable) {
		status, msg = http.StatusServiceUnavailable, "Sign-in is temporarily unavailable. Please try again in a moment."
		w.Header().Set("Retry-After", "5")
	}
	if err != nil {
		lvl := slog.LevelWarn
		if status >= 500 {
			lvl = slog.LevelError
		}
		s.Log.Log(r.Context(), lvl, "sso: "+msg, "status", status, "err", err, "path", r.URL.Path)
	}
	s.Render(w, status, Page{Title: "Sign-in failed", Message: msg})
}

// failPage maps the engine's error vocabulary to a page of the password and invitation
// pages, once; a 500 never shows the error itself.
func (s *Service) failPage(w http.ResponseWriter, r *http.Request, err error) {
	var ue *provisioning.InvitationUnusableError
	var ve *provisioning.ValidationError
	switch {
	case errors.As(err, &ue):
		s.Render(w, http.StatusGone, Page{Title: "Invitation no longer valid", Message: ue.Message})
	case errors.Is(err, provisioning.ErrNotFound):
		s.Render(w, http.StatusNotFound, Page{Title: "Link not valid",
			Message: "This link is not valid. If your administrator sent you a newer invitation, use the link in that e-mail."})
	case errors.As(err, &ve):
		s.Render(w, http.StatusBadRequest, Page{Title: "Check your input", Message: ve.Error()})
	case errors.Is(err, provisioning.ErrUnavailable):
		// The database is down or restarting: a 503 with Retry-After, as every door answers.
		s.Log.WarnContext(r.Context(), "sign-in page: database unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		s.Render(w, http.StatusServiceUnavailable, Page{Title: "Temporarily unavailable", Message: "Please try again in a moment."})
	default:
		s.Log.ErrorContext(r.Context(), "sign-in page failed", "path", r.URL.Path, "err", err)
		s.Render(w, http.StatusInternalServerError, Page{Title: "Something went wrong", Message: "Please try again in a moment."})
	}
}

// RepostField is the form field that marks a form re-posted by renderRepost, so that a
// re-posted form is never re-posted again.
const RepostField = "sb_repost"

// renderRepost answers a cross-site form POST with a page that posts the same fields to
// action again, this time from Seatbridge's own origin, so that the browser sends the
// SameSite=Lax binding cookie it withheld from the cross-site POST (see bindCrossSite).
// The fields are escaped by html/template; the only script is the auto-submit, allowed
// by a per-response CSP nonce.
func (s *Service) renderRepost(w http.ResponseWriter, action string, fields url.Values) {
	nonce, err := RandomToken(18)
	if err != nil {
		http.Error(w, "Sign-in is unavailable right now.", http.StatusInternalServerError)
		return
	}
	f := url.Values{}
	for k, vs := range fields {
		if k != RepostField {
			f[k] = vs
		}
	}
	f.Set(RepostField, "1")
	s.Render(w, http.StatusOK, Page{Title: "Signing in", Form: "repost", Action: action, Fields: f, Nonce: nonce})
}
