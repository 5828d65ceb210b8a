package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The seed workflows (the five product documents of issue #13), each through /api/v1 and
// the browser pages of a real server, on a tenant set up with the CLI and nothing else,
// on SQLite and PostgreSQL.

const workflowKey = "1313131313131313131313131313131313131313131313131313131313131313"

// wf is one server over one database, with an admin token made by the CLI.
type wf struct {
	t     *testing.T
	db    string
	app   *app
	srv   *httptest.Server
	token string
}

func (w *wf) cli(args ...string) string {
	w.t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(k string) string {
		return map[string]string{"SEATBRIDGE_DB": w.db, "SEATBRIDGE_SECRET_KEY": workflowKey, "SEATBRIDGE_LOG_LEVEL": "warn"}[k]
	}}
	if code := run(context.Background(), args, env); code != 0 {
		w.t.Fatalf("seatbridge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// api calls /api/v1 with the admin token (cookie auth when c is a browser client).
func (w *wf) api(c *http.Client, method, path string, body any, want int) map[string]any {
	w.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "text/csv"
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, w.srv.URL+"/api/v1"+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if c == nil {
		c = http.DefaultClient
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		w.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// fails expects an error response naming field.
func (w *wf) fails(method, path string, body any, status int, field string) string {
	w.t.Helper()
	out := w.api(nil, method, path, body, status)
	e, _ := out["error"].(map[string]any)
	if e == nil || (field != "" && e["field"] != field) || e["message"] == "" {
		w.t.Fatalf("%s %s: error %v, want field %q", method, path, out, field)
	}
	return e["message"].(string)
}

// mail claims the queued mail the way the mail worker does, by recipient.
func (w *wf) mail() map[string]provisioning.Mail {
	w.t.Helper()
	acc, err := w.app.accounts()
	if err != nil {
		w.t.Fatal(err)
	}
	ms, err := acc.ClaimMail(context.Background(), "workflow-test", 100)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]provisioning.Mail{}
	for _, m := range ms {
		if err := acc.MailSent(context.Background(), m, "workflow-test"); err != nil {
			w.t.Fatal(err)
		}
		out[m.To] = m
	}
	return out
}

// browser is a person with cookies who does not follow redirects (the test reads them).
func (w *wf) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (w *wf) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	w.t.Helper()
	resp, err := c.PostForm(w.srv.URL+path, form)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (w *wf) get(c *http.Client, path string) *http.Response {
	w.t.Helper()
	resp, err := c.Get(w.srv.URL + path)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// signIn signs in on the password page and checks where the browser lands.
func (w *wf) signIn(c *http.Client, email, pw string) {
	w.t.Helper()
	resp, body := w.post(c, "/login/acme", url.Values{"email": {email}, "password": {pw}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		w.t.Fatalf("sign in %s: %d %s\n%s", email, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if r := w.get(c, "/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		w.t.Fatalf("landing of %s: %d %s", email, r.StatusCode, r.Header.Get("Location"))
	}
	if r := w.get(c, "/account"); r.StatusCode != http.StatusOK {
		w.t.Fatalf("account page of %s: %d", email, r.StatusCode)
	}
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

func list(m map[string]any, key string) []any {
	l, _ := m[key].([]any)
	return l
}

func TestSeedWorkflows(t *testing.T) {
	dbs := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "wf.db") },
		"postgres": freshPostgresDSN,
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			w := &wf{t: t, db: dbs[name](t)}
			// The tenant exists through the CLI only: create, settings, admin token.
			w.cli("tenant", "create", "acme", "--name", "Acme Inc", "--seats", "6")
			out := w.cli("tenant", "update", "acme", "--invitation-ttl", "7d", "--block-free-mail", "--blocked-domains", "spam.example")
			if !strings.Contains(out, "password sign-in  true") || !strings.Contains(out, "invitation TTL    7d") {
				t.Fatalf("tenant update:\n%s", out)
			}
			var tok struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal([]byte(w.cli("token", "create", "--tenant", "acme", "--kind", "admin", "--name", "setup", "--json")), &tok); err != nil {
				t.Fatal(err)
			}
			w.token = tok.Token
			a, err := openApp(context.Background(), Config{DB: w.db, SecretKey: workflowKey, BaseURL: "http://seatbridge.test",
				LogLevel: "error", LogFormat: "text"}, &cliEnv{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			w.app = a
			h, err := routes(a)
			if err != nil {
				t.Fatal(err)
			}
			w.srv = httptest.NewServer(h)
			t.Cleanup(w.srv.Close)

			// Every setting is readable and writable through /api/v1/policy too.
			pol := w.api(nil, "GET", "/policy", nil, 200)
			if pol["passwordLoginEffective"] != true || str(pol, "invitationTTL") != "7d" || pol["blockFreeMail"] != true {
				t.Fatalf("policy: %v", pol)
			}
			w.fails("PATCH", "/policy", map[string]any{"invitationTTL": "90d"}, 400, "invitationTTL")
			w.fails("PATCH", "/policy", map[string]any{"appUrl": "javascript:alert(1)"}, 400, "appUrl")

			t.Run("002 user management: invite, roles, teams, lifecycle, bulk", func(t *testing.T) { w.t = t; userManagement(w) })
			t.Run("001 create now, invite later, 24 hours, platform user", func(t *testing.T) { w.t = t; inviteLater(w) })
			t.Run("003 organisation users: roles, free mail, revoke, remove", func(t *testing.T) { w.t = t; organisationUsers(w) })
			t.Run("004 add agent with credentials", func(t *testing.T) { w.t = t; addAgent(w) })
			t.Run("000 platform users to seats, access off by default", func(t *testing.T) { w.t = t; platformUsersToSeats(w) })
			w.t = t
			// The admin token's last use shows in 'token list'.
			var toks []provisioning.APIToken
			if err := json.Unmarshal([]byte(w.cli("token", "list", "--tenant", "acme", "--json")), &toks); err != nil || len(toks) != 1 ||
				toks[0].LastUsedAt == nil {
				t.Fatalf("token list: %v %+v", err, toks)
			}
		})
	}
}

// Seed 002: invite with a role and a team, 7-day links, accept and sign in, change roles,
// teams, deactivate (seat freed) and reactivate (seat back), bulk invite by CSV, bulk
// update and deactivation, login history.
func userManagement(w *wf) {
	t := w.t
	team := w.api(nil, "POST", "/teams", map[string]any{"name": "Support Tier 1", "description": "First line"}, 201)
	inv := w.api(nil, "POST", "/invitations", map[string]any{"email": "grace@acme.example", "displayName": "Grace Hopper",
		"roles": []string{"Agent"}, "teams": []string{"Support Tier 1"}, "seat": true}, 201)
	exp, _ := time.Parse(time.RFC3339Nano, str(inv, "expiresAt"))
	created, _ := time.Parse(time.RFC3339Nano, str(inv, "createdAt"))
	if d := exp.Sub(created); d != 7*24*time.Hour {
		t.Fatalf("invitation lifetime %s, want 7 days", d)
	}
	m := w.mail()["grace@acme.example"]
	if m.Data.Token == "" || m.Data.InvitedBy != "" || strings.Contains(m.Data.InvitedBy, "setup") {
		t.Fatalf("invitation mail: %+v", m.Data)
	}
	// Accept: set a password (a weak one is refused with a reason), land signed in.
	grace := w.browser()
	resp, body := w.post(grace, "/invite/"+m.Data.Token, url.Values{"password": {"password123"}, "password2": {"password123"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "too easy to guess") {
		t.Fatalf("weak password: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = w.post(grace, "/invite/"+m.Data.Token, url.Values{"password": {"lantern orbit mosaic"}, "password2": {"lantern orbit mosaic"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", resp.StatusCode)
	}
	w.signIn(grace, "grace@acme.example", "lantern orbit mosaic")
	uid := str(inv, "userId")
	u := w.api(nil, "GET", "/users/"+uid, nil, 200)
	if str(u, "status") != "active" || u["seat"] != true || len(list(u, "teams")) != 1 {
		t.Fatalf("accepted user: %v", u)
	}
	// Change the role (Admin grants full access at once), teams, deactivate, reactivate.
	w.api(nil, "PUT", "/users/"+uid+"/roles", map[string]any{"roles": []string{"Supervisor"}}, 200)
	w.api(nil, "PUT", "/users/"+uid+"/roles", map[string]any{"roles": []string{"Agent"}}, 200)
	w.api(nil, "POST", "/teams/"+str(team, "id")+"/members", map[string]any{"userIds": []string{uid}}, 200)
	before := w.api(nil, "GET", "/seats", nil, 200)["used"].(float64)
	w.api(nil, "POST", "/users/"+uid+"/deactivate", nil, 200)
	if r := w.get(grace, "/"); r.StatusCode != http.StatusOK {
		t.Fatalf("deactivated user still signed in: %d", r.StatusCode)
	}
	if used := w.api(nil, "GET", "/seats", nil, 200)["used"].(float64); used != before-1 {
		t.Fatalf("seat not freed: %v -> %v", before, used)
	}
	if u := w.api(nil, "POST", "/users/"+uid+"/reactivate", nil, 200); u["seat"] != true {
		t.Fatalf("reactivated without its seat: %v", u)
	}
	// Bulk invite: a CSV with e-mails and roles, checked first, then sent.
	csv := "email,name,role,team\nada@acme.example,Ada Lovelace,Agent,Support Tier 1\nalan@acme.example,Alan Turing,Viewer,\n"
	if rep := w.api(nil, "POST", "/users/import?dryRun=true&invite=true", csv, 200); rep["applied"] != false {
		t.Fatalf("dry run: %v", rep)
	}
	if len(w.mail()) != 0 {
		t.Fatal("a dry run queued mail")
	}
	rep := w.api(nil, "POST", "/users/import?invite=true", csv, 200)
	var ids []string
	for _, r := range list(rep, "rows") {
		row := r.(map[string]any)
		if str(row, "invitationId") == "" {
			t.Fatalf("row without invitation: %v", row)
		}
		ids = append(ids, str(row, "userId"))
	}
	if ms := w.mail(); len(ms) != 2 || ms["ada@acme.example"].Data.Token == "" {
		t.Fatalf("import mail: %v", ms)
	}
	// Bulk update and bulk deactivate; one unknown id is named.
	w.api(nil, "POST", "/users/bulk", map[string]any{"action": "add_teams", "userIds": ids, "teams": []string{"Support Tier 1"}}, 200)
	msg := w.fails("POST", "/users/bulk", map[string]any{"action": "deactivate", "userIds": append(ids, "no-such-id")}, 404, "userIds[2]")
	if !strings.Contains(msg, "no-such-id") {
		t.Fatalf("unknown id not named: %s", msg)
	}
	w.api(nil, "POST", "/users/bulk", map[string]any{"action": "deactivate", "userIds": ids}, 200)
	// Login history of the signed-in user.
	if h := w.api(nil, "GET", "/users/"+uid+"/logins", nil, 200); len(list(h, "events")) == 0 {
		t.Fatalf("no login history: %v", h)
	}
	w.fails("PUT", "/users", nil, 405, "")
}

// Seed 001: a user created now and invited later (the toggle off), a 24-hour link, the
// Platform User role edits their own names and external ID, the password-restricted one
// may not change its password.
func inviteLater(w *wf) {
	t := w.t
	w.cli("tenant", "update", "acme", "--invitation-ttl", "24h")
	u := w.api(nil, "POST", "/users", map[string]any{"email": "kim@acme.example", "givenName": "Kim", "familyName": "Lee",
		"externalId": "SF-1", "roles": []string{"Agent"}, "seat": true}, 201)
	if len(w.mail()) != 0 {
		t.Fatal("a user created without invitation got mail")
	}
	inv := w.api(nil, "POST", "/users/"+str(u, "id")+"/invite", nil, 201)
	exp, _ := time.Parse(time.RFC3339Nano, str(inv, "expiresAt"))
	created, _ := time.Parse(time.RFC3339Nano, str(inv, "createdAt"))
	if d := exp.Sub(created); d != 24*time.Hour {
		t.Fatalf("invitation lifetime %s, want 24h", d)
	}
	m := w.mail()["kim@acme.example"]
	kim := w.browser()
	if resp, _ := w.post(kim, "/invite/"+m.Data.Token, url.Values{"password": {"harbor cactus violin"}, "password2": {"harbor cactus violin"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", resp.StatusCode)
	}
	w.signIn(kim, "kim@acme.example", "harbor cactus violin")
	// Platform User: own first and last name, external ID and password; e-mail read-only.
	me := w.api(kim, "PATCH", "/me", map[string]any{"givenName": "Kimberly", "externalId": "SF-2", "preferredLanguage": "en-gb"}, 200)
	if mu := me["user"].(map[string]any); str(mu, "givenName") != "Kimberly" || str(mu, "externalId") != "SF-2" || str(mu, "preferredLanguage") != "en-GB" {
		t.Fatalf("own profile: %v", me)
	}
	w.api(kim, "PATCH", "/me", map[string]any{"email": "other@acme.example"}, 400)
	w.api(kim, "POST", "/me/password", map[string]any{"currentPassword": "harbor cactus violin", "newPassword": "meadow falcon prism"}, 204)
	// Password Restricted: the shared account cannot change its own password.
	w.api(nil, "PUT", "/users/"+str(u, "id")+"/password-restricted", map[string]any{"passwordRestricted": true}, 200)
	w.api(kim, "POST", "/me/password", map[string]any{"currentPassword": "meadow falcon prism", "newPassword": "copper willow drift"}, 403)
	// The same account once signed in cannot be invited again.
	w.fails("POST", "/users/"+str(u, "id")+"/invite", nil, 409, "email")
	w.cli("tenant", "update", "acme", "--invitation-ttl", "7d")
}

// Seed 003: at least one role each, free-mail addresses refused, a pending invitation
// revoked for good, roles the only thing edited, a user removed.
func organisationUsers(w *wf) {
	t := w.t
	w.fails("POST", "/invitations", map[string]any{"email": "someone@gmail.com", "displayName": "Someone"}, 400, "email")
	w.fails("POST", "/invitations", map[string]any{"email": "x@mail.spam.example"}, 400, "email")
	inv := w.api(nil, "POST", "/invitations", map[string]any{"email": "lin@acme.example", "displayName": "Lin",
		"roles": []string{"Agent", "Viewer"}}, 201)
	if len(list(inv, "roles")) != 2 {
		t.Fatalf("two roles: %v", inv)
	}
	msg := w.fails("POST", "/invitations", map[string]any{"email": "lin@acme.example"}, 409, "email")
	if msg != `email "lin@acme.example" is already taken (already invited: resend the invitation instead)` {
		t.Fatalf("conflict message: %s", msg)
	}
	w.api(nil, "POST", "/invitations/"+str(inv, "id")+"/revoke", nil, 200)
	if m := w.fails("POST", "/invitations/"+str(inv, "id")+"/revoke", nil, 410, "state"); m != "a revoked invitation cannot be revoked" {
		t.Fatalf("revoke twice: %s", m)
	}
	w.api(nil, "GET", "/users/"+str(inv, "userId"), nil, 404)
	// Roles are edited; a custom role in use cannot be deleted ("held by 1 user").
	role := w.api(nil, "POST", "/roles", map[string]any{"name": "Billing", "permissions": []string{"manage_billing"}}, 201)
	u := w.api(nil, "POST", "/users", map[string]any{"email": "rob@acme.example", "displayName": "Rob", "roles": []string{"Billing"}}, 201)
	if m := w.fails("DELETE", "/roles/"+str(role, "id"), nil, 409, "id"); !strings.Contains(m, "held by 1 user;") {
		t.Fatalf("role in use: %s", m)
	}
	w.api(nil, "DELETE", "/users/"+str(u, "id"), nil, 204)
	w.api(nil, "DELETE", "/roles/"+str(role, "id"), nil, 204)
}

// Seed 004: Add agent: e-mail and name required, role, language, business unit, phones,
// credentials mail, forced password change at first sign-in.
func addAgent(w *wf) {
	t := w.t
	w.fails("POST", "/users/local", map[string]any{"email": "agent7@acme.example"}, 400, "displayName")
	w.fails("POST", "/users/local", map[string]any{"email": "agent7@acme.example", "displayName": "Agent Seven", "preferredLanguage": "xx_YY!"}, 400, "preferredLanguage")
	r := w.api(nil, "POST", "/users/local", map[string]any{"email": "agent7@acme.example", "displayName": "Agent Seven",
		"roles": []string{"Agent"}, "preferredLanguage": "nl-nl", "businessUnit": "Support", "seat": true,
		"workPhone": "+31 20 123 4567", "mobilePhone": "+31 6 1234 5678",
		"sendMail": true, "forceChange": true}, 201)
	temp := str(r, "temporaryPassword")
	m := w.mail()["agent7@acme.example"]
	if temp == "" || m.Data.Password != temp || !m.Data.MustChange {
		t.Fatalf("credentials: %v %+v", r, m.Data)
	}
	// First sign-in: the temporary password asks for a new one, then the browser lands.
	agent := w.browser()
	resp, body := w.post(agent, "/login/acme", url.Values{"email": {"agent7@acme.example"}, "password": {temp}})
	ticket := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || ticket == nil {
		t.Fatalf("forced change page: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = w.post(agent, "/login/acme/change", url.Values{"ticket": {ticket[1]}, "password": {"quartz lagoon ember"}, "password2": {"quartz lagoon ember"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("change: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if me := w.api(agent, "GET", "/me", nil, 200); str(me["user"].(map[string]any), "preferredLanguage") != "nl-NL" {
		t.Fatalf("agent /me: %v", me)
	}
	// An Agent reaches only their own account.
	w.api(agent, "GET", "/users", nil, 403)
}

// Seed 000: platform users imported without seats are added to seats in one go; with
// "all access settings disabled by default" (no default role) they get no role; a user not
// in the list is invited and may be seated before accepting; the app URL is where a
// sign-in lands; 2FA can be required.
func platformUsersToSeats(w *wf) {
	t := w.t
	w.cli("tenant", "update", "acme", "--default-role", "", "--app-url", "https://inbox.acme.example/", "--require-2fa=false")
	rep := w.api(nil, "POST", "/users/import", "email,firstName,lastName\nmia@acme.example,Mia,Wong\nnoah@acme.example,Noah,Berg\n", 200)
	var ids []string
	for _, r := range list(rep, "rows") {
		ids = append(ids, str(r.(map[string]any), "userId"))
	}
	if l := w.api(nil, "GET", "/users?seat=false&q=acme.example", nil, 200); len(list(l, "users")) < 2 {
		t.Fatalf("platform users without seat: %v", l)
	}
	seats := w.api(nil, "GET", "/seats", nil, 200)
	free := int(seats["free"].(float64))
	if free < 2 {
		w.api(nil, "PATCH", "/policy", map[string]any{"seatLimit": int(seats["used"].(float64)) + 2}, 200)
	}
	w.api(nil, "POST", "/seats/assign", map[string]any{"userIds": ids}, 200)
	if u := w.api(nil, "GET", "/users/"+ids[0], nil, 200); u["seat"] != true || len(list(u, "roles")) != 0 || str(u, "givenName") != "Mia" {
		t.Fatalf("seated with access off: %v", u)
	}
	// Not in the list: invite, then seat before the invitation is accepted.
	inv := w.api(nil, "POST", "/invitations", map[string]any{"email": "liam@acme.example", "displayName": "Liam"}, 201)
	if u := w.api(nil, "GET", "/users?status=invited&q=liam", nil, 200); len(list(u, "users")) != 1 {
		t.Fatalf("invited user not listed: %v", u)
	}
	pol := w.api(nil, "GET", "/policy", nil, 200)
	w.api(nil, "PATCH", "/policy", map[string]any{"seatLimit": int(pol["seatsUsed"].(float64))}, 200)
	if msg := w.fails("POST", "/users", map[string]any{"email": "full@acme.example", "seat": true}, 409, "seat"); !strings.Contains(msg, "not enough seats") {
		t.Fatalf("seat error: %s", msg)
	}
	w.fails("POST", "/seats/assign", map[string]any{"userIds": []string{str(inv, "userId")}}, 409, "userIds")
	w.api(nil, "PATCH", "/policy", map[string]any{"seatLimit": int(pol["seatsUsed"].(float64)) + 1}, 200)
	w.api(nil, "POST", "/seats/assign", map[string]any{"userIds": []string{str(inv, "userId")}}, 200)
	m := w.mail()["liam@acme.example"]
	liam := w.browser()
	if resp, _ := w.post(liam, "/invite/"+m.Data.Token, url.Values{"password": {"nimbus garden tiger"}, "password2": {"nimbus garden tiger"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", resp.StatusCode)
	}
	// With an app URL the sign-in lands on the platform app.
	resp, _ := w.post(liam, "/login/acme", url.Values{"email": {"liam@acme.example"}, "password": {"nimbus garden tiger"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	if r := w.get(liam, "/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "https://inbox.acme.example/" {
		t.Fatalf("landing: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// 2FA required: the next password sign-in sets up an authenticator first.
	w.cli("tenant", "update", "acme", "--require-2fa")
	resp, body := w.post(w.browser(), "/login/acme", url.Values{"email": {"liam@acme.example"}, "password": {"nimbus garden tiger"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "data:image/png;base64,") {
		t.Fatalf("2FA enrolment page: %d\n%s", resp.StatusCode, body)
	}
	w.cli("tenant", "update", "acme", "--require-2fa=false", "--app-url", "")
}
