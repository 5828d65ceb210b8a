package console_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/seatbridge/seatbridge/console"
	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// client is a browser-less visitor with one session cookie.
type client struct {
	t      testing.TB
	e      *env
	cookie string
}

func (e *env) session(email, password string) *client {
	e.t.Helper()
	res, err := e.acc.PasswordLogin(context.Background(), provisioning.PasswordLoginRequest{TenantID: e.tenant.ID, Email: email, Password: password, IP: "127.0.0.1"})
	if err != nil {
		e.t.Fatalf("sign in %s: %v", email, err)
	}
	return &client{t: e.t, e: e, cookie: res.Session.ID + "." + res.SessionSecret}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, body io.Reader, contentType string, hdr map[string]string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpx.SessionCookie, Value: c.cookie})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// sessionUserID is the id of the user a client is signed in as.
func (e *env) sessionUserID(c *client) string {
	e.t.Helper()
	id, secret, _ := strings.Cut(c.cookie, ".")
	acc, err := e.eng.SessionAccess(context.Background(), id, secret)
	if err != nil {
		e.t.Fatal(err)
	}
	return acc.User.ID
}

func (c *client) get(path string) response { c.t.Helper(); return c.do("GET", path, nil, "", nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// token reads the form token from a console page.
func (c *client) token() string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(c.get("/admin/acme/me").body)
	if m == nil {
		c.t.Fatal("no form token on the profile page")
	}
	return m[1]
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	return c.do("POST", path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil)
}

func TestConsoleHTTP(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bg := context.Background()
		anon := &client{t: t, e: e}

		// Unauthenticated: to the tenant's sign-in page, and back afterwards.
		r := anon.get("/admin/acme/users?status=active")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login/acme?return_to="+url.QueryEscape("/admin/acme/users?status=active") {
			t.Fatalf("anonymous visit: %d %s", r.status, r.header.Get("Location"))
		}
		if r := anon.get("/admin/nobody/users"); r.status != http.StatusNotFound {
			t.Fatalf("unknown tenant: %d", r.status)
		}
		other, err := e.eng.CreateTenant(bg, cli, "globex", "Globex", 5)
		if err != nil {
			t.Fatal(err)
		}
		// Without an SSO connection a tenant signs in with passwords; with one, through it.
		if r := anon.get("/admin/globex/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login/globex?return_to=") {
			t.Fatalf("tenant without SSO: %d %s", r.status, r.header.Get("Location"))
		}
		if _, err := e.eng.CreateConnection(bg, cli, other.ID, &provisioning.Connection{Type: provisioning.ConnOIDC, Mode: provisioning.ModeJIT,
			OIDC: &provisioning.OIDCSettings{Issuer: "https://idp.example.com", ClientID: "c"}}); err != nil {
			t.Fatal(err)
		}
		if r := anon.get("/admin/globex/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/sso/globex/login?return_to=") {
			t.Fatalf("SSO-only tenant: %d %s", r.status, r.header.Get("Location"))
		}
		// A session of acme does not open globex.
		admin := e.session("ada@acme.test", adminPassword)
		if r := admin.get("/admin/globex/users"); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/sso/globex/login") {
			t.Fatalf("acme's session on globex: %d %s", r.status, r.header.Get("Location"))
		}
		_ = other

		// Headers and escaping.
		evil := `<script>alert("x")</script>`
		if _, err := e.eng.CreateAdminUser(bg, cli, e.tenant.ID, provisioning.NewUser{Email: "mallory@acme.test", DisplayName: evil, ExternalID: "EMP-0042"}); err != nil {
			t.Fatal(err)
		}
		r = admin.get("/admin/acme/users")
		if r.status != 200 || r.header.Get("Content-Security-Policy") != console.CSP || r.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("users page: %d %v", r.status, r.header)
		}
		if strings.Contains(r.body, evil) || !strings.Contains(r.body, "&lt;script&gt;") {
			t.Fatal("a display name reached the page unescaped")
		}
		if strings.Contains(r.body, "<script") || strings.Contains(r.body, " style=") {
			t.Fatal("the page has a script or an inline style, which the CSP forbids")
		}
		css := regexp.MustCompile(`href="(/admin/static/console\.[0-9a-f]+\.css)"`).FindStringSubmatch(r.body)
		if css == nil {
			t.Fatal("no stylesheet link")
		}
		if r := anon.get(css[1]); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
			t.Fatalf("stylesheet: %d %s", r.status, r.header.Get("Content-Type"))
		}
		// Search by external ID, sort by last sign-in (both dialects).
		if r := admin.get("/admin/acme/users?q=EMP-0042"); !strings.Contains(r.body, "mallory@acme.test") || strings.Contains(r.body, "ada@acme.test</div>") {
			t.Fatal("search by external ID")
		}
		r = admin.get("/admin/acme/users?sort=-lastLogin")
		if r.status != 200 || strings.Index(r.body, "ada@acme.test") > strings.Index(r.body, "mallory@acme.test") {
			t.Fatalf("sort by last sign-in: %d", r.status)
		}
		if r := admin.get("/admin/acme/users?status=gone&page=x"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Unknown status.") {
			t.Fatalf("bad filter: %d", r.status)
		}

		// State changes need the form token and a same-origin browser.
		victim := e.localUser("vic@acme.test", "Vic Victim", "victim password", provisioning.RoleAgent)
		tok := admin.token()
		form := url.Values{"ids": {victim.ID}, "action": {"deactivate"}, "confirm": {"yes"}}
		if r := admin.post("/admin/acme/users/bulk", form); r.status != http.StatusForbidden {
			t.Fatalf("post without token: %d", r.status)
		}
		form.Set("csrf", tok)
		r = admin.do("POST", "/admin/acme/users/bulk", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", map[string]string{"Sec-Fetch-Site": "cross-site"})
		if r.status != http.StatusForbidden {
			t.Fatalf("cross-site post with a token: %d", r.status)
		}
		// A destructive action asks first.
		form.Del("confirm")
		r = admin.post("/admin/acme/users/bulk", form)
		if r.status != 200 || !strings.Contains(r.body, "Deactivate users?") || !strings.Contains(r.body, `name="confirm" value="yes"`) {
			t.Fatalf("deactivate without confirmation: %d", r.status)
		}
		if u, _ := e.eng.GetUser(bg, e.tenant.ID, victim.ID); u.Status == provisioning.StatusDeactivated {
			t.Fatal("deactivated before the confirmation")
		}
		form.Set("confirm", "yes")
		if r := admin.post("/admin/acme/users/bulk", form); r.status != http.StatusSeeOther {
			t.Fatalf("confirmed deactivation: %d %s", r.status, r.body)
		}
		if u, _ := e.eng.GetUser(bg, e.tenant.ID, victim.ID); u.Status != provisioning.StatusDeactivated || u.Seat {
			t.Fatalf("after deactivation: %s seat %v", u.Status, u.Seat)
		}

		// A user without manage_users: their profile only.
		agent := e.session(e.localUser("andy@acme.test", "Andy Agent", "agent password 123", provisioning.RoleAgent).UserName, "agent password 123")
		if r := agent.get("/admin/acme/users"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/acme/me" {
			t.Fatalf("agent on users: %d %s", r.status, r.header.Get("Location"))
		}
		if r := agent.post("/admin/acme/users/bulk", url.Values{"csrf": {agent.token()}, "ids": {victim.ID}, "action": {"reactivate"}}); r.status != http.StatusForbidden {
			t.Fatalf("agent bulk post: %d", r.status)
		}
		// Self-service: own profile, field errors, other sessions signed out.
		atok := agent.token()
		if r := agent.post("/admin/acme/me/profile", url.Values{"csrf": {atok}, "displayName": {"Andy A."}, "preferredLanguage": {"not a tag!"}}); r.status != http.StatusBadRequest ||
			!strings.Contains(r.body, `id="e-preferredLanguage"`) {
			t.Fatalf("own profile with a bad language: %d", r.status)
		}
		if r := agent.post("/admin/acme/me/profile", url.Values{"csrf": {atok}, "displayName": {"Andy A."}, "preferredLanguage": {"de-ch"}}); r.status != http.StatusSeeOther {
			t.Fatalf("own profile: %d %s", r.status, r.body)
		}
		second := e.session("andy@acme.test", "agent password 123")
		if r := agent.get("/admin/acme/me"); !strings.Contains(r.body, "Andy A.") || !strings.Contains(r.body, "de-CH") || !strings.Contains(r.body, "Sign out everywhere else") {
			t.Fatal("own profile after the change")
		}
		if r := agent.post("/admin/acme/me/sessions/end-others", url.Values{"csrf": {atok}}); r.status != http.StatusSeeOther {
			t.Fatalf("end other sessions: %d", r.status)
		}
		if r := second.get("/admin/acme/me"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login/acme") {
			t.Fatalf("the other session after sign-out everywhere else: %d", r.status)
		}
		if r := agent.get("/admin/acme/me"); r.status != 200 {
			t.Fatalf("this session after sign-out everywhere else: %d", r.status)
		}

		// Two-factor sign-in: set up with the QR page, recovery codes once; an admin resets it.
		r = agent.post("/admin/acme/me/2fa/begin", url.Values{"csrf": {atok}})
		totpSecret := regexp.MustCompile(`<code class="key">([A-Z2-7]+)</code>`).FindStringSubmatch(r.body)
		if r.status != 200 || totpSecret == nil || !strings.Contains(r.body, `src="data:image/png;base64,`) {
			t.Fatalf("2FA set-up page: %d", r.status)
		}
		if r := agent.post("/admin/acme/me/2fa/confirm", url.Values{"csrf": {atok}, "code": {"000000"}, "secret": {totpSecret[1]}}); r.status == 200 {
			t.Fatal("a wrong code turned 2FA on")
		}
		code, err := totp.GenerateCode(totpSecret[1], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r := agent.post("/admin/acme/me/2fa/confirm", url.Values{"csrf": {atok}, "code": {code}, "secret": {totpSecret[1]}}); r.status != 200 || !strings.Contains(r.body, "recovery codes") {
			t.Fatalf("2FA confirm: %d %s", r.status, r.body)
		}
		andyID := e.sessionUserID(agent)
		if r := admin.get("/admin/acme/users/" + andyID); !strings.Contains(r.body, "Reset second factor") {
			t.Fatal("no reset of the second factor on the user page")
		}
		if r := admin.post("/admin/acme/users/"+andyID+"/2fa/reset", url.Values{"csrf": {admin.token()}, "confirm": {"yes"}}); r.status != http.StatusSeeOther {
			t.Fatalf("reset 2FA: %d %s", r.status, r.body)
		}
		if st, _ := e.acc.TwoFactorStatus(bg, e.tenant.ID, andyID); st.TOTP {
			t.Fatal("2FA still on after the reset")
		}

		// Settings pages need manage_settings.
		if r := agent.get("/admin/acme/tokens"); r.status != http.StatusSeeOther {
			t.Fatalf("agent on tokens: %d", r.status)
		}

		// Secrets are shown once.
		r = admin.post("/admin/acme/tokens", url.Values{"csrf": {tok}, "name": {"Okta"}})
		secret := regexp.MustCompile(`sbt_[A-Za-z0-9_-]+`).FindString(r.body)
		if r.status != http.StatusCreated || secret == "" {
			t.Fatalf("create token: %d", r.status)
		}
		if _, _, err := e.eng.AuthenticateToken(bg, secret, provisioning.TokenSCIM); err != nil {
			t.Fatalf("the shown token does not authenticate: %v", err)
		}
		if r := admin.get("/admin/acme/tokens"); strings.Contains(r.body, secret) || !strings.Contains(r.body, "Okta") {
			t.Fatal("the token list shows the secret again, or not the token")
		}
		r = admin.post("/admin/acme/agents/new", url.Values{"csrf": {tok}, "email": {"olga@acme.test"}, "displayName": {"Olga Operator"},
			"role": {"Agent"}, "seat": {"on"}, "forceChange": {"on"}})
		if r.status != http.StatusCreated || !strings.Contains(r.body, "Temporary password") {
			t.Fatalf("add agent: %d", r.status)
		}
		r = admin.post("/admin/acme/agents/new", url.Values{"csrf": {tok}, "email": {"olga@acme.test"}, "displayName": {""}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-dn"`) {
			t.Fatalf("add agent without a name: %d", r.status)
		}

		// CSV import: review, then apply.
		csv := "email,givenName,familyName,roles\nrow.one@acme.test,Row,One,Agent\nrow.two@acme.test,Row,Two,Agent\n"
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf", tok)
		fw, _ := mw.CreateFormFile("file", "users.csv")
		_, _ = fw.Write([]byte(csv))
		_ = mw.Close()
		r = admin.do("POST", "/admin/acme/import", &buf, mw.FormDataContentType(), nil)
		if r.status != 200 || !strings.Contains(r.body, "row.two@acme.test") || !strings.Contains(r.body, "Apply import (2 users)") {
			t.Fatalf("import review: %d", r.status)
		}
		if p, _ := e.eng.ListUsers(bg, e.tenant.ID, provisioning.UserQuery{Search: "row."}); p.Total != 0 {
			t.Fatal("the review applied the import")
		}
		r = admin.post("/admin/acme/import", url.Values{"csrf": {tok}, "apply": {"yes"}, "csv": {csv}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("import apply: %d %s", r.status, r.body)
		}
		if p, _ := e.eng.ListUsers(bg, e.tenant.ID, provisioning.UserQuery{Search: "row."}); p.Total != 2 {
			t.Fatalf("after the import: %d users", p.Total)
		}
		bad := "email,roles\nnot-an-address,Agent\n"
		if r := admin.post("/admin/acme/import", url.Values{"csrf": {tok}, "csv": {bad}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "row-error") {
			t.Fatalf("import with a bad row: %d", r.status)
		}

		// Paging: Next carries the keyset cursor; a forged cursor is refused clearly.
		for i := range 30 {
			if _, err := e.eng.CreateAdminUser(bg, cli, e.tenant.ID, provisioning.NewUser{Email: fmt.Sprintf("filler%02d@acme.test", i)}); err != nil {
				t.Fatal(err)
			}
		}
		r = admin.get("/admin/acme/users?sort=email")
		next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(r.body)
		if next == nil || !strings.Contains(next[1], "cursor=") {
			t.Fatalf("no Next link with a cursor on page 1")
		}
		r = admin.get(html.UnescapeString(next[1]))
		if r.status != 200 || !strings.Contains(r.body, "Page 2 of 2") || strings.Contains(r.body, "filler00@acme.test") || !strings.Contains(r.body, "vic@acme.test") {
			t.Fatalf("page 2 by cursor: %d", r.status)
		}
		if r := admin.get("/admin/acme/users?page=2&cursor=forged"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Page link not valid") {
			t.Fatalf("forged cursor: %d", r.status)
		}

		// An invited user's page offers resend and revoke; removal asks first.
		inv, err := e.acc.CreateInvitation(bg, cli, e.tenant.ID, provisioning.InvitationRequest{Email: "ivy@acme.test", DisplayName: "Ivy Invited"})
		if err != nil {
			t.Fatal(err)
		}
		if r := admin.get("/admin/acme/users/" + inv.UserID); !strings.Contains(r.body, "Resend invitation") || !strings.Contains(r.body, "/invitations/"+inv.ID+"/revoke") {
			t.Fatal("the invited user's page offers no resend / revoke")
		}
		rm := url.Values{"csrf": {tok}, "status": {"remove"}}
		if r := admin.post("/admin/acme/users/"+inv.UserID+"/status", rm); r.status != 200 || !strings.Contains(r.body, "Yes, remove this user") {
			t.Fatalf("remove without confirmation: %d", r.status)
		}
		rm.Set("confirm", "yes")
		if r := admin.post("/admin/acme/users/"+inv.UserID+"/status", rm); r.status != http.StatusSeeOther {
			t.Fatalf("confirmed removal: %d %s", r.status, r.body)
		}
		if _, err := e.eng.GetUser(bg, e.tenant.ID, inv.UserID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Fatalf("after removal: %v", err)
		}

		// Roles: a missing name is an error next to the field; create, edit, delete (confirmed).
		if r := admin.post("/admin/acme/roles", url.Values{"csrf": {tok}, "name": {""}, "perm": {"view_analytics"}}); r.status != http.StatusBadRequest ||
			!strings.Contains(r.body, `id="e-name"`) || !strings.Contains(r.body, `value="view_analytics" checked`) {
			t.Fatalf("role without a name: %d", r.status)
		}
		r = admin.post("/admin/acme/roles", url.Values{"csrf": {tok}, "name": {"Analyst"}, "perm": {"view_analytics", "export_data"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("create role: %d %s", r.status, r.body)
		}
		roles, _ := e.eng.ListRoles(bg, e.tenant.ID)
		var analyst provisioning.Role
		for _, x := range roles {
			if x.Name == "Analyst" {
				analyst = x
			}
		}
		if len(analyst.Permissions) != 2 {
			t.Fatalf("created role: %+v", analyst)
		}
		if r := admin.post("/admin/acme/roles/"+analyst.ID+"/delete", url.Values{"csrf": {tok}}); r.status != 200 || !strings.Contains(r.body, "Delete role Analyst?") {
			t.Fatalf("delete role without confirmation: %d", r.status)
		}
		if r := admin.post("/admin/acme/roles/"+analyst.ID+"/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}}); r.status != http.StatusSeeOther {
			t.Fatalf("delete role: %d", r.status)
		}
		builtin := roles[0]
		if r := admin.get("/admin/acme/roles/" + builtin.ID); !strings.Contains(r.body, "cannot be changed") || strings.Contains(r.body, "Save role") {
			t.Fatal("a built-in role is editable")
		}
		// Teams: create, add a member by user name, remove them.
		r = admin.post("/admin/acme/teams", url.Values{"csrf": {tok}, "name": {"Support Tier 1"}, "description": {"First line"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("create team: %d", r.status)
		}
		teamURL := strings.SplitN(r.header.Get("Location"), "?", 2)[0]
		if r := admin.post(teamURL+"/members", url.Values{"csrf": {tok}, "members": {"nobody@acme.test"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-members"`) {
			t.Fatalf("add unknown member: %d", r.status)
		}
		if r := admin.post(teamURL+"/members", url.Values{"csrf": {tok}, "members": {"andy@acme.test\nolga@acme.test"}}); r.status != http.StatusSeeOther {
			t.Fatalf("add members: %d %s", r.status, r.body)
		}
		if r := admin.get(teamURL); !strings.Contains(r.body, "andy@acme.test") || !strings.Contains(r.body, "2 members") {
			t.Fatal("team page after adding members")
		}

		// Password reset of a local account: confirmed, shown once, and it works.
		andy, _ := e.eng.ListUsers(bg, e.tenant.ID, provisioning.UserQuery{Limit: 1, Filter: provisioning.Compare{Field: "userName", Op: provisioning.OpEq, Value: "andy@acme.test"}})
		andyURL := "/admin/acme/users/" + andy.Users[0].ID
		if r := admin.get(andyURL); !strings.Contains(r.body, "Reset password") {
			t.Fatal("no password card for a local account")
		}
		pwForm := url.Values{"csrf": {tok}, "do": {"reset"}}
		if r := admin.post(andyURL+"/password", pwForm); r.status != 200 || !strings.Contains(r.body, "Reset this password?") {
			t.Fatalf("reset without confirmation: %d", r.status)
		}
		pwForm.Set("confirm", "yes")
		r = admin.post(andyURL+"/password", pwForm)
		temp := regexp.MustCompile(`id="secret" class="secret" readonly value="([^"]+)"`).FindStringSubmatch(r.body)
		if r.status != 200 || temp == nil {
			t.Fatalf("reset: %d", r.status)
		}
		if _, err := e.acc.PasswordLogin(bg, provisioning.PasswordLoginRequest{TenantID: e.tenant.ID, Email: "andy@acme.test", Password: html.UnescapeString(temp[1])}); err != nil {
			t.Fatalf("sign in with the shown temporary password: %v", err)
		}
		if r := admin.post(andyURL+"/password", url.Values{"csrf": {tok}, "do": {"unlock"}}); r.status != http.StatusSeeOther {
			t.Fatalf("unlock: %d %s", r.status, r.body)
		}

		// The audit log filters by action and dates.
		if r := admin.get("/admin/acme/audit?action=role.create"); r.status != 200 || !strings.Contains(r.body, "<code>role.create</code>") || strings.Contains(r.body, "<code>team.create</code>") {
			t.Fatalf("audit filtered by action: %d", r.status)
		}
		if r := admin.get("/admin/acme/audit?from=2000-01-01&to=2000-01-02"); r.status != 200 || !strings.Contains(r.body, "No events") {
			t.Fatalf("audit filtered by dates: %d", r.status)
		}
		if r := admin.get("/admin/acme/audit?from=yesterday"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-from"`) {
			t.Fatalf("audit with a bad date: %d", r.status)
		}

		if r := admin.get("/admin/acme/no-such-page"); r.status != http.StatusNotFound || !strings.Contains(r.body, "Page not found") {
			t.Fatalf("unknown console page: %d", r.status)
		}

		// "All matching users": every user the filters match, after a confirmation.
		scope := url.Values{"csrf": {tok}, "action": {"add_roles"}, "role": {"Viewer"}, "scope": {"matching"}, "back": {"/admin/acme/users?q=filler1"}}
		if r := admin.post("/admin/acme/users/bulk", scope); r.status != 200 || !strings.Contains(r.body, "all 10 users") {
			t.Fatalf("bulk on matching users without confirmation: %d", r.status)
		}
		scope.Set("confirm", "yes")
		if r := admin.post("/admin/acme/users/bulk", scope); r.status != http.StatusSeeOther {
			t.Fatalf("bulk on matching users: %d %s", r.status, r.body)
		}
		if p, _ := e.eng.ListUsers(bg, e.tenant.ID, provisioning.UserQuery{Limit: 0, Filter: provisioning.Compare{Field: "role", Op: provisioning.OpEq, Value: "Viewer"}}); p.Total != 10 {
			t.Fatalf("Viewers after the bulk change on matching users: %d", p.Total)
		}

		// Invite later: the account first, the invitation from its page.
		r = admin.post("/admin/acme/invite", url.Values{"csrf": {tok}, "email": {"later@acme.test"}, "displayName": {"Lea Later"}, "role": {"Agent"}})
		if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=later") {
			t.Fatalf("invite later: %d %s", r.status, r.header.Get("Location"))
		}
		laterURL := strings.SplitN(r.header.Get("Location"), "?", 2)[0]
		if invs, _ := e.acc.ListInvitations(bg, e.tenant.ID, provisioning.InvitePending); slices.ContainsFunc(invs, func(i provisioning.Invitation) bool { return i.Email == "later@acme.test" }) {
			t.Fatal("invite later sent an invitation")
		}
		if r := admin.get(laterURL); !strings.Contains(r.body, "Send invitation") {
			t.Fatal("the account created for later has no Send invitation button")
		}
		if r := admin.post(laterURL+"/invite", url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther {
			t.Fatalf("send invitation later: %d %s", r.status, r.body)
		}
		if invs, _ := e.acc.ListInvitations(bg, e.tenant.ID, provisioning.InvitePending); !slices.ContainsFunc(invs, func(i provisioning.Invitation) bool { return i.Email == "later@acme.test" }) {
			t.Fatal("no invitation after Send invitation")
		}

		// Every page renders for the admin.
		for _, p := range []string{"/", "/me", "/users/add", "/users/" + victim.ID, "/invite", "/invitations", "/invitations?state=pending",
			"/agents/new", "/import", "/roles", "/teams", "/seats", "/audit", "/settings", "/tokens"} {
			r := admin.get("/admin/acme" + p)
			if r.status != 200 && r.status != http.StatusSeeOther {
				t.Fatalf("%s: %d", p, r.status)
			}
		}
		// Sign out ends the session.
		if r := admin.post("/admin/acme/signout", url.Values{"csrf": {tok}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", r.status)
		}
		if r := admin.get("/admin/acme/users"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login/acme") {
			t.Fatalf("after sign-out: %d %s", r.status, r.header.Get("Location"))
		}
	})
}
