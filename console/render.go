package console

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the highlighted navigation entry
	Tenant  *provisioning.Tenant
	Me      *provisioning.User
	Manage  bool // may manage users (sees the console, not only the profile)
	Setting bool // may manage settings
	Base    string
	CSRF    string
	CSS     string
	Notice  string
	Error   string
	// Errors are messages next to form fields, by field name ("_" for the form).
	Errors map[string]string
	// Form holds the values to show again after a refused post.
	Form url.Values
	Data any

	p *provisioning.Principal
}

// MayGrant tells the templates whether the signed-in user may grant the role.
func (v *view) MayGrant(r provisioning.Role) bool { return v.p != nil && v.p.MayGrant(r) }

// fieldView is one labelled input of a profile form.
type fieldView struct {
	Name, Label, Value, Error string
	ReadOnly                  bool
}

// field describes an input from "name:Label:idp" (idp: read-only when the identity
// provider manages the user).
func field(v *view, spec string, idp bool) fieldView {
	parts := strings.SplitN(spec, ":", 3)
	f := fieldView{Name: parts[0], Label: parts[1], Value: v.Val(parts[0]), Error: v.Err(parts[0])}
	f.ReadOnly = idp && len(parts) == 3 && parts[2] == "idp"
	return f
}

func (v *view) Val(name string) string {
	if v.Form == nil {
		return ""
	}
	return v.Form.Get(name)
}

func (v *view) Has(name, value string) bool {
	return v.Form != nil && slices.Contains(v.Form[name], value)
}

func (v *view) Err(name string) string { return v.Errors[name] }

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch x := t.(type) {
		case time.Time:
			if x.IsZero() {
				return "—"
			}
			return since(x)
		case *time.Time:
			if x == nil || x.IsZero() {
				return "never"
			}
			return since(*x)
		}
		return ""
	},
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"has": func(s []string, v string) bool {
		return slices.ContainsFunc(s, func(x string) bool { return strings.EqualFold(x, v) })
	},
	"perm": permLabel,
	"hasPerm": func(p []provisioning.Permission, x provisioning.Permission) bool {
		return slices.Contains(p, x)
	},
	"add":   func(a, b int) int { return a + b },
	"field": field,
	"amr": func(s string) string {
		switch s {
		case "pwd", "":
			return "password"
		case "saml", "oidc":
			return "single sign-on (" + strings.ToUpper(s) + ")"
		}
		return s
	},
	"list": func(s ...string) []string { return s },
	// ttlLabel writes a lifetime such as "3d" or "24h" for people: "3 days", "24 hours".
	"ttlLabel": func(v string) string {
		d, err := provisioning.ParseTTL(v)
		if err != nil {
			return v
		}
		if d%(24*time.Hour) == 0 && d > 24*time.Hour {
			return strconv.Itoa(int(d/(24*time.Hour))) + " days"
		}
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	},
	"pct":  func(a, b int) int { return pct(a, b) },
	"name": userName,
}

func pct(a, b int) int {
	if b <= 0 {
		return 100
	}
	if a >= b {
		return 100
	}
	return a * 100 / b
}

// userName is how a user is named in lists: display name, else given and family name,
// else the user name.
func userName(u *provisioning.User) string {
	if u == nil {
		return ""
	}
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName); n != "" {
		return n
	}
	return u.UserName
}

// permLabel is how a permission reads in the console: "view_all_tickets" → "View all
// tickets".
func permLabel(p provisioning.Permission) string {
	s := strings.ReplaceAll(string(p), "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parsePages parses the layout once with each page's template.
func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, e := range names {
		if e.Name() == "layout.html" || e.Name() == "partials.html" {
			continue
		}
		t := template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+e.Name()))
		out[strings.TrimSuffix(e.Name(), ".html")] = t
	}
	return out
}

// render writes a page with the console's headers. The page is rendered into a buffer
// first so that a template error is a clean 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, rq *request, status int, page string, v *view) {
	v.CSS = cssPath
	if rq != nil {
		v.Tenant = rq.acc.Tenant
		v.Me = rq.acc.User
		v.Manage = rq.p.Can(provisioning.PermManageUsers)
		v.Setting = rq.p.Can(provisioning.PermManageSettings)
		v.Base = rq.base
		v.CSRF = rq.csrf
		v.p = rq.p
	}
	t := h.pages[page]
	var buf bytes.Buffer
	if t == nil {
		h.Log.Error("console: no such page", "page", page)
		status, t = http.StatusInternalServerError, h.pages["message"]
		v = &view{Title: "Something went wrong", CSS: cssPath, Data: "Please try again in a moment."}
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.Log.Error("console: render", "page", page, "err", err)
		buf.Reset()
		status = http.StatusInternalServerError
		_ = h.pages["message"].ExecuteTemplate(&buf, "layout.html", &view{Title: "Something went wrong", CSS: cssPath, Data: "Please try again in a moment."})
	}
	httpx.HTMLHeaders(w, CSP)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a page with a title and one paragraph.
func (h *Handler) message(w http.ResponseWriter, rq *request, status int, title, msg string) {
	h.render(w, rq, status, "message", &view{Title: title, Data: msg})
}

// confirmData is the confirmation page of a destructive action: the same post again,
// with confirm=yes.
type confirmData struct {
	Message string
	Action  string
	Button  string
	Cancel  string
	Fields  [][2]string
	Items   []string
}

// confirmed reports whether the post carries confirm=yes; otherwise it renders the
// confirmation page, which repeats the post's fields.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, rq *request, title, msg, button, cancel string, items []string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	d := confirmData{Message: msg, Action: r.URL.Path, Button: button, Cancel: cancel, Items: items}
	for k, vs := range r.PostForm {
		if k == "csrf" || k == "confirm" {
			continue
		}
		for _, v := range vs {
			d.Fields = append(d.Fields, [2]string{k, v})
		}
	}
	slices.SortFunc(d.Fields, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	h.render(w, rq, http.StatusOK, "confirm", &view{Title: title, Data: d})
	return false
}

// notices are the fixed messages a redirect after a change may show (?done=…): the text
// never comes from the URL.
var notices = map[string]string{
	"invited":      "Invitation sent.",
	"resent":       "Invitation sent again with a new link.",
	"revoked":      "Invitation revoked.",
	"seated":       "Seats assigned.",
	"unseated":     "Seats freed.",
	"bulk":         "Change applied to the selected users.",
	"saved":        "Changes saved.",
	"deactivated":  "User deactivated: they can no longer sign in and their seat is free.",
	"reactivated":  "User reactivated.",
	"created":      "Created.",
	"deleted":      "Deleted.",
	"password":     "Your password was changed.",
	"cleared":      "The address may receive mail again.",
	"imported":     "Import applied.",
	"removed":      "Removed.",
	"unlocked":     "Account unlocked: the user can sign in again.",
	"signedout":    "Your other sessions are signed out.",
	"2faoff":       "Two-factor sign-in is off.",
	"2fareset":     "Second factor reset.",
	"later":        "Account created without an invitation: send it from this page when you are ready.",
	"tokenrevoked": "Token revoked: requests with it are refused from now on.",
	"hookoff":      "Endpoint disabled: no events are sent to it until you enable it again.",
	"hookon":       "Endpoint enabled: the events it missed while disabled and every new one are sent to it.",
	"replayed":     "Delivery queued again: it is sent within a few seconds.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }
