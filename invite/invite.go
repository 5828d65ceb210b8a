// Package invite owns the browser pages of invitations and local passwords:
// GET/POST /invite/{token} (confirm details, set a password or continue with SSO; clear
// pages for expired, revoked and used links) and GET/POST /login/{tenant} (password
// sign-in for tenants that allow it, with the forced change of a temporary password), and
// where a sign-in lands: GET / (the tenant's platform app, else GET /account, the user's
// own page).
//
// Handlers decode, call provisioning.Accounts and render: no SQL and no policy here. It
// imports provisioning and internal/httpx only; it must not import store, scim, sso or
// admin (the session cookie name is repeated for that reason).
package invite

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// SessionCookie is the Seatbridge session cookie (httpx.SessionCookie).
const SessionCookie = httpx.SessionCookie

// Handler serves the pages.
type Handler struct {
	Accounts *provisioning.Accounts
	Log      *slog.Logger
	// SecureCookies marks cookies Secure (Seatbridge served over https).
	SecureCookies bool
	// TrustForwarded takes the client IP from X-Forwarded-For (behind a proxy only).
	TrustForwarded bool
	// DefaultReturnTo is where a sign-in without return_to ends (default "/").
	DefaultReturnTo string
	// AttemptsPerSecond and AttemptsBurst throttle password and invitation POSTs per client
	// IP (0: no throttle). Account lockout stops guessing one account; this stops one
	// client from locking out many. The buckets are per replica.
	AttemptsPerSecond float64
	AttemptsBurst     int
	// Now is the throttle's clock (default time.Now).
	Now func() time.Time

	csrf     *http.CrossOriginProtection
	attempts *httpx.RateLimiter
}

// Mount registers the routes. POSTs are refused when the browser says they come from
// another site (Sec-Fetch-Site / Origin), which stops login CSRF.
func (h *Handler) Mount(mux *http.ServeMux) {
	h.csrf = http.NewCrossOriginProtection()
	if h.Log == nil {
		h.Log = slog.Default()
	}
	h.attempts = httpx.NewRateLimiter(h.AttemptsPerSecond, h.AttemptsBurst, h.Now)
	mux.HandleFunc("GET /invite/{token}", h.showInvite)
	mux.Handle("POST /invite/{token}", h.csrf.Handler(h.throttle(h.acceptInvite)))
	mux.HandleFunc("GET /login/{tenant}", h.showLogin)
	mux.Handle("POST /login/{tenant}", h.csrf.Handler(h.throttle(h.login)))
	mux.Handle("POST /login/{tenant}/change", h.csrf.Handler(h.throttle(h.change)))
	mux.Handle("POST /login/{tenant}/2fa", h.csrf.Handler(h.throttle(h.secondFactor)))
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("GET /account", h.account)
}

// throttle refuses a client IP that posts faster than the configured rate.
func (h *Handler) throttle(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := h.attempts.Allow(h.ip(r)); !ok {
			w.Header().Set("Retry-After", httpx.RetryAfterSeconds(wait))
			h.render(w, http.StatusTooManyRequests, pageData{Title: "Too many attempts",
				Error: "Too many attempts from your network. Wait a moment and try again."})
			return
		}
		next(w, r)
	})
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title><meta name="referrer" content="no-referrer"></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto">
<h1>{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>{{end}}
{{with .Error}}<p role="alert" style="color:#b00">{{.}}</p>{{end}}
{{if eq .Form "invite"}}
<form method="post">
<p>You are joining <strong>{{.Tenant}}</strong> as <strong>{{.Email}}</strong>.</p>
<label>Display name <input name="display_name" value="{{.DisplayName}}" maxlength="256"></label><br>
<label>Password <input type="password" name="password" autocomplete="new-password" required minlength="10"></label><br>
<label>Repeat password <input type="password" name="password2" autocomplete="new-password" required></label><br>
<button>Activate my account</button>
</form>
{{else if eq .Form "invite-sso"}}
<form method="post"><p>You are joining <strong>{{.Tenant}}</strong> as <strong>{{.Email}}</strong>. Your organisation signs in with single sign-on.</p>
<button>Continue with single sign-on</button></form>
{{else if eq .Form "login"}}
<form method="post">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<label>E-mail <input type="email" name="email" value="{{.Email}}" autocomplete="username" required></label><br>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label><br>
<button>Sign in</button>
</form>
{{else if eq .Form "change"}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="ticket" value="{{.Ticket}}"><input type="hidden" name="return_to" value="{{.ReturnTo}}">
{{with .Codes}}<p>Keep these recovery codes of your second factor somewhere safe; they are not shown again.</p>
<ul>{{range .}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<label>New password <input type="password" name="password" autocomplete="new-password" required minlength="10"></label><br>
<label>Repeat new password <input type="password" name="password2" autocomplete="new-password" required></label><br>
<button>Change password and sign in</button>
</form>
{{else if eq .Form "2fa"}}
{{if .QR}}<p>{{.Tenant}} requires a second factor. Scan this code with an authenticator app (or type the key), then enter the 6-digit code it shows.</p>
<p><img alt="QR code of your authenticator key" width="256" height="256" src="{{.QR}}"></p>
<p>Key: <code>{{.Secret}}</code></p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="ticket" value="{{.Ticket}}"><input type="hidden" name="return_to" value="{{.ReturnTo}}">
{{if .QR}}<input type="hidden" name="enrol" value="1">{{end}}
<label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="16" autofocus></label><br>
{{if not .QR}}<p>Lost your device? Enter one of your recovery codes instead.</p>{{end}}
<button>Verify and sign in</button>
</form>
{{else if eq .Form "recovery"}}
<p>Keep these recovery codes somewhere safe. Each signs you in once if you lose your device; they are not shown again.</p>
<ul>{{range .Codes}}<li><code>{{.}}</code></li>{{end}}</ul>
<p><a href="{{.ReturnTo}}">Continue</a></p>
{{else if eq .Form "account"}}
<dl><dt>Name</dt><dd>{{.DisplayName}}</dd><dt>E-mail</dt><dd>{{.Email}}</dd>
<dt>Organisation</dt><dd>{{.Tenant}}</dd><dt>Roles</dt><dd>{{.Roles}}</dd>
{{with .Language}}<dt>Language</dt><dd>{{.}}</dd>{{end}}</dl>
<p>Change your profile, password, second factor and sessions through <code>/api/v1/me</code>.</p>
{{end}}
</body></html>`))

type pageData struct {
	Title, Message, Error, Form          string
	Tenant, Email, DisplayName, ReturnTo string
	Ticket, Action                       string
	Roles, Language                      string
	// QR (a data: URL of a PNG) and Secret enrol an authenticator; Codes are recovery codes.
	QR     template.URL
	Secret string
	Codes  []string
}

// qrPageCSP is the page policy plus data: images, for the QR code of an authenticator.
var qrPageCSP = strings.Replace(httpx.PageCSP, "default-src 'none';", "default-src 'none'; img-src data:;", 1)

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	csp := ""
	if d.QR != "" {
		// The authenticator set-up shows its QR code as a data: image, and nothing else.
		csp = qrPageCSP
	}
	httpx.HTMLHeaders(w, csp)
	w.WriteHeader(status)
	if err := page.Execute(w, d); err != nil {
		h.Log.Error("render page", "err", err)
	}
}

// fail renders an error page; a 500 never shows the error itself.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ue *provisioning.InvitationUnusableError
	var ve *provisioning.ValidationError
	switch {
	case errors.As(err, &ue):
		h.render(w, http.StatusGone, pageData{Title: "Invitation no longer valid", Message: ue.Message})
	case errors.Is(err, provisioning.ErrNotFound):
		h.render(w, http.StatusNotFound, pageData{Title: "Link not valid",
			Message: "This link is not valid. If your administrator sent you a newer invitation, use the link in that e-mail."})
	case errors.As(err, &ve):
		h.render(w, http.StatusBadRequest, pageData{Title: "Check your input", Message: ve.Error()})
	case errors.Is(err, provisioning.ErrUnavailable):
		// The database is down or restarting: a 503 with Retry-After, as every door answers.
		h.Log.WarnContext(r.Context(), "invite page: database unavailable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		h.render(w, http.StatusServiceUnavailable, pageData{Title: "Temporarily unavailable", Message: "Please try again in a moment."})
	default:
		h.Log.ErrorContext(r.Context(), "invite page failed", "path", r.URL.Path, "err", err)
		h.render(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Please try again in a moment."})
	}
}

func (h *Handler) ip(r *http.Request) string { return httpx.ClientIP(r, h.TrustForwarded) }

func (h *Handler) showInvite(w http.ResponseWriter, r *http.Request) {
	v, err := h.Accounts.InvitationByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := pageData{Title: "Join " + v.Tenant.Name, Tenant: v.Tenant.Name, Email: v.Invitation.Email, DisplayName: v.User.DisplayName, Form: "invite"}
	if v.Mode == provisioning.AcceptSSO {
		d.Form = "invite-sso"
	}
	h.render(w, http.StatusOK, d)
}

func (h *Handler) acceptInvite(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, http.StatusBadRequest, pageData{Title: "Check your input", Message: "The form could not be read."})
		return
	}
	token := r.PathValue("token")
	v, err := h.Accounts.InvitationByToken(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pw := r.PostFormValue("password")
	if v.Mode == provisioning.AcceptPassword && pw != r.PostFormValue("password2") {
		h.render(w, http.StatusBadRequest, pageData{Title: "Join " + v.Tenant.Name, Error: "The passwords do not match.", Form: "invite",
			Tenant: v.Tenant.Name, Email: v.Invitation.Email, DisplayName: r.PostFormValue("display_name")})
		return
	}
	res, err := h.Accounts.AcceptInvitation(r.Context(), token, provisioning.AcceptRequest{
		DisplayName: r.PostFormValue("display_name"), Password: pw, IP: h.ip(r), UserAgent: trunc(r.UserAgent(), 512)})
	var ve *provisioning.ValidationError
	if errors.As(err, &ve) {
		h.render(w, http.StatusBadRequest, pageData{Title: "Join " + v.Tenant.Name, Error: ve.Error(), Form: "invite",
			Tenant: v.Tenant.Name, Email: v.Invitation.Email, DisplayName: r.PostFormValue("display_name")})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := url.Values{"email": {res.Invitation.Email}}
	if res.Mode == provisioning.AcceptSSO {
		q.Set("connection", res.ConnectionID)
		http.Redirect(w, r, "/sso/"+url.PathEscape(res.Tenant.Slug)+"/login?"+q.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login/"+url.PathEscape(res.Tenant.Slug)+"?"+q.Encode(), http.StatusSeeOther)
}

func (h *Handler) tenant(r *http.Request) (*provisioning.Tenant, error) {
	slug := r.PathValue("tenant")
	if slug == "" || len(slug) > 63 {
		return nil, provisioning.ErrNotFound
	}
	return h.Accounts.Store.GetTenantBySlug(r.Context(), slug)
}

// safeReturnTo accepts only a local path; anything else is refused, never "fixed".
func (h *Handler) safeReturnTo(raw string) (string, bool) {
	if raw == "" {
		if h.DefaultReturnTo != "" {
			return h.DefaultReturnTo, true
		}
		return "/", true
	}
	if len(raw) > 2048 || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "\\\r\n\t") ||
		strings.HasPrefix(strings.ToLower(raw), "/%2f") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return raw, true
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	t, err := h.tenant(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rt, ok := h.safeReturnTo(r.URL.Query().Get("return_to"))
	if !ok {
		h.render(w, http.StatusBadRequest, pageData{Title: "Sign-in not possible", Message: "The return address of this sign-in is not allowed."})
		return
	}
	if ok, err := h.Accounts.PasswordLoginAllowed(r.Context(), t); err != nil {
		h.fail(w, r, err)
		return
	} else if !ok {
		h.render(w, http.StatusForbidden, pageData{Title: "Sign in to " + t.Name, Message: t.Name + " signs in with single sign-on only."})
		return
	}
	h.render(w, http.StatusOK, pageData{Title: "Sign in to " + t.Name, Form: "login", Email: r.URL.Query().Get("email"), ReturnTo: rt})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	t, rt, ok := h.signInPost(w, r)
	if !ok {
		return
	}
	email := r.PostFormValue("email")
	res, err := h.Accounts.PasswordLogin(r.Context(), provisioning.PasswordLoginRequest{TenantID: t.ID, Email: email,
		Password: r.PostFormValue("password"), IP: h.ip(r), UserAgent: trunc(r.UserAgent(), 512)})
	h.finishLogin(w, r, t, res, err, rt, email)
}

func (h *Handler) finishLogin(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, res *provisioning.LoginResult, err error, rt, email string) {
	var refused *provisioning.LoginRefusedError
	var change *provisioning.PasswordChangeRequiredError
	var second *provisioning.SecondFactorRequiredError
	switch {
	case errors.As(err, &second):
		h.renderSecondFactor(w, r, t, second.Ticket, second.Enrol, rt, "", http.StatusOK)
	case errors.As(err, &change):
		h.render(w, http.StatusOK, pageData{Title: "Choose a new password", Message: "Your password was temporary: choose your own to continue.",
			Form: "change", Ticket: change.Ticket, Codes: change.RecoveryCodes, ReturnTo: rt, Action: "/login/" + url.PathEscape(t.Slug) + "/change"})
	case errors.As(err, &refused):
		h.render(w, http.StatusUnauthorized, pageData{Title: "Sign in to " + t.Name, Error: refused.Message, Form: "login", Email: email, ReturnTo: rt})
	case err != nil:
		h.fail(w, r, err)
	default:
		h.setSession(w, res)
		http.Redirect(w, r, rt, http.StatusSeeOther)
	}
}

func (h *Handler) setSession(w http.ResponseWriter, res *provisioning.LoginResult) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: res.Session.ID + "." + res.SessionSecret, Path: "/",
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode, Expires: res.Session.ExpiresAt})
}

func (h *Handler) change(w http.ResponseWriter, r *http.Request) {
	t, rt, ok := h.signInPost(w, r)
	if !ok {
		return
	}
	ticket := r.PostFormValue("ticket")
	again := pageData{Title: "Choose a new password", Form: "change", Ticket: ticket, ReturnTo: rt, Action: "/login/" + url.PathEscape(t.Slug) + "/change"}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		again.Error = "The passwords do not match."
		h.render(w, http.StatusBadRequest, again)
		return
	}
	res, err := h.Accounts.CompletePasswordChange(r.Context(), t.ID, ticket, pw, h.ip(r), trunc(r.UserAgent(), 512))
	var ve *provisioning.ValidationError
	switch {
	case errors.As(err, &ve):
		again.Error = ve.Error()
		h.render(w, http.StatusBadRequest, again)
	case errors.Is(err, provisioning.ErrSessionEnded):
		h.render(w, http.StatusGone, pageData{Title: "Sign in again", Message: "This password change took too long or was already done. Sign in again.",
			Form: "login", ReturnTo: rt})
	default:
		h.finishLogin(w, r, t, res, err, rt, "")
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
