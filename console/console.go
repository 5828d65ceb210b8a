// Package console is Seatbridge's admin web console under /admin/{tenant}/: server-rendered
// html/template pages with their one stylesheet embedded in the binary, no script at all,
// every action a plain form post.
//
// It is a door like admin: handlers decode a form, call the provisioning engine and render.
// Authorization is the admin API's: a route table with one permission each, checked with
// provisioning.Principal.Can, and the engine's own checks (who may grant which role, who may
// change an Admin) on every change. Signing in is the invite and sso doors' job: an
// unauthenticated visit is sent to the tenant's sign-in page and comes back afterwards. A
// signed-in user without manage_users sees only their own profile.
//
// State changes are refused unless the browser says they come from this origin
// (http.CrossOriginProtection) and carry a token derived from the session cookie.
// It imports provisioning and internal/httpx only: never store, scim, sso, admin or invite.
package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// Prefix is where the console is mounted; a tenant's console is Prefix + slug + "/".
const Prefix = "/admin/"

// CSP allows the console's own stylesheet and nothing else: no script, no inline style.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var staticFS embed.FS

// Handler serves the console.
type Handler struct {
	Accounts *provisioning.Accounts
	Log      *slog.Logger
	// SecureCookies marks the cookies it clears Secure (Seatbridge served over https).
	SecureCookies bool
	// TrustForwarded takes the client IP from X-Forwarded-For (behind a proxy only).
	TrustForwarded bool
	// MaxFormBytes limits form posts (default 64 KiB); a CSV upload gets 1 MiB.
	MaxFormBytes int64
	// BaseURL is the public URL the set-up wizard shows in the values an IdP needs.
	BaseURL string
	// Connections checks and seals the connections the set-up wizard makes (the SSO
	// door's preparer); FetchPrivate lets its metadata URLs reach private addresses.
	Connections  provisioning.ConnectionPreparer
	FetchPrivate bool
	// Webhooks serves the webhook screens (the admin API's service); without it they
	// say the server runs without webhooks.
	Webhooks *provisioning.Webhooks

	csrf  *http.CrossOriginProtection
	pages map[string]*template.Template
	eng   *provisioning.Engine
}

// route is one page or action and the permission it needs ("" = any signed-in user of
// the tenant).
// shown serves a form page as first shown: 200, nothing posted, nothing marked.
func shown(page formRenderer) func(w http.ResponseWriter, r *http.Request, rq *request) {
	return func(w http.ResponseWriter, r *http.Request, rq *request) { page(w, r, rq, http.StatusOK, nil, nil) }
}

type route struct {
	method string
	path   string // below /admin/{tenant}
	perm   provisioning.Permission
	h      func(w http.ResponseWriter, r *http.Request, rq *request)
}

func (h *Handler) table() []route {
	const users, settings = provisioning.PermManageUsers, provisioning.PermManageSettings
	return []route{
		{"GET", "/{$}", "", h.home},
		{"GET", "/me", "", shown(h.mePage)},
		{"POST", "/me/password", "", h.changeOwnPassword},
		{"POST", "/me/profile", "", h.editOwnProfile},
		{"POST", "/me/sessions/end-others", "", h.endOtherSessions},
		{"POST", "/me/2fa/begin", "", h.beginTOTP},
		{"POST", "/me/2fa/confirm", "", h.confirmTOTP},
		{"POST", "/me/2fa/remove", "", h.removeTOTP},
		{"POST", "/signout", "", h.signOut},

		{"GET", "/users", users, h.users},
		{"POST", "/users/bulk", users, h.bulk},
		{"GET", "/users/add", users, h.addUsers},
		{"POST", "/users/add", users, h.addUsersPost},
		{"GET", "/users/{id}", users, h.user},
		{"POST", "/users/{id}/profile", users, h.userProfile},
		{"POST", "/users/{id}/roles", users, h.userRoles},
		{"POST", "/users/{id}/teams", users, h.userTeams},
		{"POST", "/users/{id}/seat", users, h.userSeat},
		{"POST", "/users/{id}/status", users, h.userStatus},
		{"POST", "/users/{id}/password", users, h.userPassword},
		{"POST", "/users/{id}/invite", users, h.sendInvitation},
		{"POST", "/users/{id}/2fa/reset", users, h.resetTwoFactor},

		{"GET", "/invite", users, h.invite},
		{"POST", "/invite", users, h.invitePost},
		{"GET", "/invitations", users, h.invitations},
		{"POST", "/invitations/{id}/resend", users, h.resend},
		{"POST", "/invitations/{id}/revoke", users, h.revoke},

		{"GET", "/agents/new", users, h.agent},
		{"POST", "/agents/new", users, h.agentPost},
		{"GET", "/import", users, h.importForm},
		{"POST", "/import", users, h.importPost},

		{"GET", "/roles", users, shown(h.rolesPage)},
		{"POST", "/roles", users, h.createRole},
		{"GET", "/roles/{id}", users, shown(h.rolePage)},
		{"POST", "/roles/{id}", users, h.updateRole},
		{"POST", "/roles/{id}/delete", users, h.deleteRole},
		{"GET", "/teams", users, shown(h.teamsPage)},
		{"POST", "/teams", users, h.createTeam},
		{"GET", "/teams/{id}", users, shown(h.teamPage)},
		{"POST", "/teams/{id}", users, h.updateTeam},
		{"POST", "/teams/{id}/delete", users, h.deleteTeam},
		{"POST", "/teams/{id}/members", users, h.addTeamMembers},
		{"POST", "/teams/{id}/members/{uid}/remove", users, h.removeTeamMember},
		{"GET", "/seats", users, h.seats},

		{"GET", "/audit", settings, h.audit},
		{"GET", "/settings", settings, shown(h.settingsPage)},
		{"POST", "/settings", settings, h.settingsPost},
		{"POST", "/settings/suppressions/clear", settings, h.clearSuppression},
		{"GET", "/tokens", settings, h.tokens},
		{"POST", "/tokens", settings, h.createToken},
		{"POST", "/tokens/{id}/revoke", settings, h.revokeToken},
		{"GET", "/sso", settings, h.ssoPage},
		{"POST", "/sso/links", settings, h.createSetupLink},
		{"POST", "/sso/links/{id}/revoke", settings, h.revokeSetupLink},
		{"GET", "/sso/connections/{id}", settings, h.connection},
		{"POST", "/sso/connections/{id}", settings, h.updateConnection},
		{"POST", "/sso/connections/{id}/state", settings, h.connectionState},
		{"POST", "/sso/connections/{id}/delete", settings, h.deleteConnection},
		{"POST", "/sso/connections/{id}/mapping", settings, h.connectionMapping},
		{"POST", "/sso/connections/{id}/idp", settings, h.connectionIdP},
		{"GET", "/provisioning-log", settings, h.provisioningLog},
		{"GET", "/webhooks", settings, h.webhooks},
		{"GET", "/webhooks/new", settings, h.newWebhook},
		{"POST", "/webhooks/new", settings, h.createWebhook},
		{"GET", "/webhooks/{id}", settings, shown(h.webhookPage)},
		{"POST", "/webhooks/{id}", settings, h.updateWebhook},
		{"POST", "/webhooks/{id}/state", settings, h.webhookState},
		{"POST", "/webhooks/{id}/rotate", settings, h.rotateWebhook},
		{"POST", "/webhooks/{id}/delete", settings, h.deleteWebhook},
		{"POST", "/webhooks/{id}/deliveries/{did}/replay", settings, h.replayDelivery},
	}
}

// Mount registers the console's routes and its stylesheet.
func (h *Handler) Mount(mux *http.ServeMux) {
	if h.Log == nil {
		h.Log = slog.Default()
	}
	if h.MaxFormBytes <= 0 {
		h.MaxFormBytes = 64 << 10
	}
	h.eng = h.Accounts.Engine
	h.csrf = http.NewCrossOriginProtection()
	h.pages = parsePages()
	css, _ := fs.ReadFile(staticFS, "static/console.css")
	sum := sha256.Sum256(css)
	cssPath = Prefix + "static/console." + hex.EncodeToString(sum[:6]) + ".css"
	mux.HandleFunc("GET "+cssPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(css)
	})
	for _, rt := range h.table() {
		mux.Handle(rt.method+" "+Prefix+"{tenant}"+rt.path, h.wrap(rt))
	}
	h.mountSetup(mux)
	// A console URL without the trailing slash, and unknown pages below it.
	mux.HandleFunc("GET "+Prefix+"{tenant}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+url.PathEscape(r.PathValue("tenant"))+"/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+Prefix+"{tenant}/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, nil, http.StatusNotFound, "Page not found", "There is no such page in the console.")
	})
}

// maxImportBytes caps a CSV upload (and its review page posting it back).
const maxImportBytes = 1 << 20

// cssPath carries a content hash so the stylesheet can be cached for good.
var cssPath = Prefix + "static/console.css"

// request is what a handler gets: the signed-in user, the principal the engine checks,
// and the values every page shows.
type request struct {
	acc  *provisioning.Access
	p    *provisioning.Principal
	base string // "/admin/{slug}"
	csrf string
}

func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := httpx.RequestID(r)
		w.Header().Set(httpx.RequestIDHeader, reqID)
		slug := r.PathValue("tenant")
		acc, err := h.session(r, slug)
		if err != nil {
			if !errors.Is(err, errSignIn) {
				h.Log.ErrorContext(r.Context(), "console: session", "err", err, "request_id", reqID)
				h.message(w, nil, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
				return
			}
			h.toSignIn(w, r, slug)
			return
		}
		httpx.SetTenant(r.Context(), acc.Tenant.ID)
		p := provisioning.SessionPrincipal(acc)
		p.Actor.IP = httpx.ClientIP(r, h.TrustForwarded)
		p.Actor.RequestID = reqID
		rq := &request{acc: acc, p: p, base: Prefix + url.PathEscape(acc.Tenant.Slug), csrf: csrfToken(r)}
		if r.Method == http.MethodPost {
			if err := h.csrf.Check(r); err != nil {
				h.message(w, rq, http.StatusForbidden, "Request refused", "This form was sent from another site. Nothing was changed.")
				return
			}
			limit := h.MaxFormBytes
			if strings.HasSuffix(r.URL.Path, "/import") {
				limit = maxImportBytes
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				err = r.ParseMultipartForm(limit)
			} else {
				err = r.ParseForm()
			}
			if err != nil {
				h.message(w, rq, http.StatusBadRequest, "Check your input", "The form could not be read (too large or malformed).")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(rq.csrf)) != 1 {
				h.message(w, rq, http.StatusForbidden, "Request refused", "This form is out of date or was not sent from the console. Reload the page and try again. Nothing was changed.")
				return
			}
		}
		if rt.perm != "" && !p.Can(rt.perm) {
			if !p.Can(provisioning.PermManageUsers) && r.Method == http.MethodGet {
				http.Redirect(w, r, rq.base+"/me", http.StatusSeeOther)
				return
			}
			h.message(w, rq, http.StatusForbidden, "Not allowed", fmt.Sprintf("This needs the %s permission, which your roles do not grant.", rt.perm))
			return
		}
		rt.h(w, r, rq)
	})
}

// errSignIn means the visitor must sign in (again) to this tenant.
var errSignIn = errors.New("sign-in required")

// session resolves the session cookie to the signed-in user's access, checked on every
// request. A session of another tenant does not open this one.
func (h *Handler) session(r *http.Request, slug string) (*provisioning.Access, error) {
	id, secret, ok := httpx.ReadSession(r)
	if !ok {
		return nil, errSignIn
	}
	acc, err := h.eng.SessionAccess(r.Context(), id, secret)
	if errors.Is(err, provisioning.ErrSessionEnded) || errors.Is(err, provisioning.ErrNotFound) {
		return nil, errSignIn
	}
	if err != nil {
		return nil, err
	}
	if acc.Tenant.Slug != slug {
		return nil, errSignIn
	}
	return acc, nil
}

// toSignIn sends the browser to the tenant's sign-in page (password when the engine says
// the tenant signs in with passwords, else single sign-on), which returns here afterwards. A POST returns to the page's
// GET form, never replays.
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request, slug string) {
	t, err := h.eng.Store.GetTenantBySlug(r.Context(), slug)
	if err != nil {
		if !errors.Is(err, provisioning.ErrNotFound) {
			h.Log.ErrorContext(r.Context(), "console: tenant", "err", err)
		}
		h.message(w, nil, http.StatusNotFound, "Not found", "There is no organisation at this address.")
		return
	}
	back := r.URL.Path
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		back += "?" + r.URL.RawQuery
	}
	if r.Method != http.MethodGet {
		back = Prefix + url.PathEscape(t.Slug) + "/"
	}
	// The engine's rule: a tenant without an SSO connection always signs in with passwords.
	pw, err := h.Accounts.PasswordLoginAllowed(r.Context(), t)
	if err != nil {
		h.Log.ErrorContext(r.Context(), "console: sign-in method", "err", err)
		h.message(w, nil, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	q := url.Values{"return_to": {back}}
	target := "/sso/" + url.PathEscape(t.Slug) + "/login?" + q.Encode()
	if pw {
		target = "/login/" + url.PathEscape(t.Slug) + "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// csrfToken is derived from the session cookie, which scripts of other sites can neither
// read (HttpOnly) nor send along with a form they make (SameSite and the origin check).
func csrfToken(r *http.Request) string {
	id, secret, ok := httpx.ReadSession(r)
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte("seatbridge console form\x00" + id + "." + secret))
	return hex.EncodeToString(sum[:16])
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request, rq *request) {
	if rq.p.Can(provisioning.PermManageUsers) {
		http.Redirect(w, r, rq.base+"/users", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, rq.base+"/me", http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := h.eng.EndSession(r.Context(), rq.acc.Session.ID); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	httpx.ClearSession(w, h.SecureCookies)
	http.Redirect(w, r, rq.base+"/", http.StatusSeeOther)
}

// fail maps the engine's error vocabulary to a page, once. A 500 never shows the error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var (
		ve *provisioning.ValidationError
		re *provisioning.RuleError
		se *provisioning.SeatLimitError
		fe *provisioning.ForbiddenError
		ce *provisioning.ConflictError
	)
	switch {
	case errors.As(err, &se):
		h.message(w, rq, http.StatusConflict, "Not enough seats", fmt.Sprintf("%d requested, %d of %d free. Free some seats or raise the limit in Settings.", se.Requested, se.Free, se.Limit))
	case errors.As(err, &fe):
		h.message(w, rq, http.StatusForbidden, "Not allowed", fe.Reason+".")
	case errors.Is(err, provisioning.ErrForbidden):
		h.message(w, rq, http.StatusForbidden, "Not allowed", "You may not do this.")
	case errors.As(err, &re):
		h.message(w, rq, http.StatusConflict, "Not possible", re.Reason+".")
	case errors.As(err, &ce):
		h.message(w, rq, http.StatusConflict, "Already taken", fmt.Sprintf("%s %q is already in use.", ce.Field, ce.Value))
	case errors.As(err, &ve):
		h.message(w, rq, http.StatusBadRequest, "Check your input", ve.Error())
	case errors.Is(err, provisioning.ErrNotFound):
		h.message(w, rq, http.StatusNotFound, "Not found", "It may have been removed in the meantime.")
	case errors.Is(err, provisioning.ErrVersionMismatch):
		h.message(w, rq, http.StatusConflict, "Changed meanwhile", "Someone changed this while you were editing. Reload and try again.")
	default:
		h.Log.ErrorContext(r.Context(), "console: request failed", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", w.Header().Get(httpx.RequestIDHeader))
		h.message(w, rq, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
	}
}

// afterChange answers a change: the error page when it failed, else a redirect (303) to
// next, which shows its outcome.
func (h *Handler) afterChange(w http.ResponseWriter, r *http.Request, rq *request, err error, next string) {
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// afterForm answers a form post: a redirect (303) to next when the change was made, else
// what refused answers.
func (h *Handler) afterForm(w http.ResponseWriter, r *http.Request, rq *request, err error, next string, again formRenderer, fields ...string) {
	if err != nil {
		h.refused(w, r, rq, err, again, fields...)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// formRenderer renders a form page again with what was posted and the marked fields.
type formRenderer func(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string)

// refused answers a form post the engine refused: the form again (400) with the marked
// fields, or the error page when err is not about one of fields.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, rq *request, err error, again formRenderer, fields ...string) {
	if errs, ok := h.formErrors(w, r, rq, err, fields...); ok {
		again(w, r, rq, http.StatusBadRequest, r.PostForm, errs)
	}
}

// formErrors is fieldErrors for a handler: when err is not about one of fields it answers
// the error page and reports false (nothing more to write).
func (h *Handler) formErrors(w http.ResponseWriter, r *http.Request, rq *request, err error, fields ...string) (map[string]string, bool) {
	errs, ok := fieldErrors(err, fields...)
	if !ok {
		h.fail(w, r, rq, err)
	}
	return errs, ok
}

// fieldErrors turns an engine error into errors next to the form's fields when it names
// one the form has; it reports false for other errors.
func fieldErrors(err error, fields ...string) (map[string]string, bool) {
	var (
		ve *provisioning.ValidationError
		ce *provisioning.ConflictError
		re *provisioning.RuleError
	)
	var field, msg string
	switch {
	case errors.As(err, &ve):
		field, msg = ve.Field, ve.Reason
	case errors.As(err, &ce):
		field, msg = ce.Field, "is already in use"
	case errors.As(err, &re):
		field, msg = re.Field, re.Reason
	default:
		return nil, false
	}
	base, _, _ := strings.Cut(field, "[")
	for _, f := range fields {
		if strings.EqualFold(f, base) {
			return map[string]string{f: msg}, true
		}
	}
	if len(fields) > 0 {
		return map[string]string{"_": field + ": " + msg}, true
	}
	return nil, false
}

// since formats a time for tables ("3 Nov 2026 14:05").
func since(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04") }
