package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestBrowserInviteAndAccept: an admin signs in with a password, invites a user; the
// invitee accepts from the mail caught by the SMTP server, signs in and sees only their
// own profile.
func TestBrowserInviteAndAccept(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := browser(t)
		signIn(t, ctx, e, "ada@acme.test", adminPassword)
		loc := location(t, ctx)
		if !strings.HasSuffix(loc, "/admin/acme/users") {
			t.Fatalf("after sign-in the browser is at %s, want the users list", loc)
		}
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`a[href="/admin/acme/invite"]`)),
			chromedp.WaitVisible(chromedp.CSS(`input#email`)),
			// A refused post keeps the values and says what is wrong next to the field.
			chromedp.SetValue(chromedp.CSS(`input#email`), "not-an-address"),
			chromedp.Click(chromedp.CSS(`form.form button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`#e-email`)),
		)
		if *screenshots {
			shot(t, ctx, "invite-error")
		}
		run(t, ctx,
			chromedp.SetValue(chromedp.CSS(`input#email`), "new.agent@acme.test"),
			chromedp.SetValue(chromedp.CSS(`input#displayName`), "Nora New"),
			chromedp.Click(chromedp.CSS(`input[name=role][value=Agent]`)),
			chromedp.Click(chromedp.CSS(`form.form button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
		)
		if txt := pageText(t, ctx); !strings.Contains(txt, "Invitation sent.") || !strings.Contains(txt, "new.agent@acme.test") {
			t.Fatalf("invitations page after inviting:\n%s", txt)
		}
		shot(t, ctx, "invitations")

		link := e.invitationLink("new.agent@acme.test")
		if !strings.HasPrefix(link, e.srv.URL+"/invite/") {
			t.Fatalf("invitation link %s does not point at this server", link)
		}
		// The invitee uses the same machine: the admin signs out first.
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`form[action="/admin/acme/signout"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`input[name=password2]`)),
			chromedp.SetValue(chromedp.CSS(`input[name=password]`), "nora's own password"),
			chromedp.SetValue(chromedp.CSS(`input[name=password2]`), "nora's own password"),
			chromedp.Click(chromedp.CSS(`form button`)),
			chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		)
		signIn(t, ctx, e, "new.agent@acme.test", "nora's own password")
		loc = location(t, ctx)
		if !strings.HasSuffix(loc, "/admin/acme/me") {
			t.Fatalf("an Agent lands on %s, want their own profile", loc)
		}
		txt := pageText(t, ctx)
		if !strings.Contains(txt, "Nora New") || !strings.Contains(txt, "Agent") || strings.Contains(txt, "Invitations") {
			t.Fatalf("the Agent's profile page:\n%s", txt)
		}
		shot(t, ctx, "own-profile")
		// Two-factor set-up: the QR code renders under the console's CSP.
		run(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/me/2fa/begin"] button`)), chromedp.WaitVisible(chromedp.CSS(`img.qr`)))
		if w := get(t, ctx, chromedp.Evaluate[int](`document.querySelector('img.qr').naturalWidth`)); w == 0 {
			t.Fatal("the QR code image did not load")
		}
		shot(t, ctx, "two-factor")
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/admin/acme/me"), chromedp.WaitVisible(chromedp.CSS(`header.top`)))
		// Every other page sends them back to their profile.
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/admin/acme/users"), chromedp.WaitVisible(chromedp.CSS(`header.top`)))
		loc = location(t, ctx)
		if !strings.HasSuffix(loc, "/admin/acme/me") {
			t.Fatalf("an Agent opening the users list ends at %s", loc)
		}
	})
}

// scimUser creates a user the way a directory does: POST /Users with a SCIM token.
func scimUser(t *testing.T, e *env, token, userName, given, family string) string {
	t.Helper()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"externalId":"ext-%s",
		"name":{"givenName":%q,"familyName":%q},"emails":[{"value":%q,"primary":true,"type":"work"}],"active":true}`,
		userName, given, given, family, userName)
	req, _ := http.NewRequest("POST", e.srv.URL+"/scim/v2/acme/Users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("SCIM create %s: %s", userName, resp.Status)
	}
	page, err := e.eng.ListUsers(context.Background(), e.tenant.ID, provisioning.UserQuery{Limit: 1,
		Filter: provisioning.Compare{Field: "userName", Op: provisioning.OpEq, Value: userName}})
	if err != nil || len(page.Users) != 1 {
		t.Fatalf("find %s: %v", userName, err)
	}
	return page.Users[0].ID
}

// TestBrowserBulkSeats: the admin seats three SCIM-imported users in one bulk action.
func TestBrowserBulkSeats(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		token, _, err := e.eng.CreateToken(context.Background(), cli, e.tenant.ID, provisioning.TokenSCIM, "okta")
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{
			scimUser(t, e, token, "grace@acme.test", "Grace", "Hopper"),
			scimUser(t, e, token, "alan@acme.test", "Alan", "Turing"),
			scimUser(t, e, token, "edsger@acme.test", "Edsger", "Dijkstra"),
		}
		scimUser(t, e, token, "barbara@acme.test", "Barbara", "Liskov") // stays without a seat
		ctx := browser(t)
		signIn(t, ctx, e, "ada@acme.test", adminPassword)
		shot(t, ctx, "users")
		run(t, ctx,
			chromedp.Navigate(e.srv.URL+"/admin/acme/users?source=scim&seat=no&sort=name"),
			chromedp.WaitVisible(chromedp.CSS(`table.users`)),
		)
		for _, id := range ids {
			run(t, ctx, chromedp.Click(chromedp.CSS(`input[name=ids][value="`+id+`"]`)))
		}
		run(t, ctx,
			chromedp.SetValue(chromedp.CSS(`select#action`), "assign_seat"),
			chromedp.SetValue(chromedp.CSS(`select#bulk-role`), "Agent"),
		)
		shot(t, ctx, "users-bulk-select")
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`.bulkbar button`)),
			chromedp.WaitVisible(chromedp.CSS(`p.notice`)),
		)
		if txt := pageText(t, ctx); !strings.Contains(txt, "Seats assigned.") {
			t.Fatalf("after the bulk action:\n%s", txt)
		}
		for _, id := range ids {
			u, err := e.eng.GetUser(context.Background(), e.tenant.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			if !u.Seat || len(u.Roles) != 1 || u.Roles[0] != "Agent" {
				t.Fatalf("%s after the bulk action: seat %v, roles %v", u.UserName, u.Seat, u.Roles)
			}
		}
		seats, _ := e.eng.SeatUsage(context.Background(), e.tenant.ID)
		if seats.Used != 4 || seats.WithoutSeat != 1 {
			t.Fatalf("seats after the bulk action: %+v", seats)
		}
		// The user page: IdP-managed fields are read-only (no input carries their name).
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/admin/acme/users/"+ids[0]), chromedp.WaitVisible(chromedp.CSS(`#h-profile`)))
		named := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('form.form input[name]')].map(i => i.name)`))
		if strings.Contains(strings.Join(named, ","), "email") || strings.Contains(strings.Join(named, ","), "givenName") {
			t.Fatalf("a SCIM user's profile form posts %v", named)
		}
		shot(t, ctx, "user")
		run(t, ctx, chromedp.Navigate(e.srv.URL+"/admin/acme/users/add"), chromedp.WaitVisible(chromedp.CSS(`.counter`)))
		if txt := pageText(t, ctx); !strings.Contains(txt, "Barbara Liskov") || strings.Contains(txt, "Grace Hopper") {
			t.Fatalf("add users lists:\n%s", txt)
		}
		shot(t, ctx, "add-users")
		for _, p := range []string{"users", "users/add", "users/" + ids[1], "invite", "invitations", "seats", "roles", "teams", "settings", "tokens", "audit", "agents/new", "import", "me"} {
			run(t, ctx, chromedp.Navigate(e.srv.URL+"/admin/acme/"+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
			// Every control has a label a screen reader announces.
			unlabelled := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
				.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name || el.id || el.outerHTML)`))
			if len(unlabelled) > 0 {
				t.Fatalf("%s: controls without a label: %v", p, unlabelled)
			}
			if *screenshots && !strings.HasPrefix(p, "users") && p != "invite" && p != "invitations" && p != "me" {
				shot(t, ctx, strings.ReplaceAll(p, "/", "-"))
			}
		}
		// On a phone.
		run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
			chromedp.Navigate(e.srv.URL+"/admin/acme/users"), chromedp.WaitVisible(chromedp.CSS(`table.users`)))
		if get(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
			t.Fatal("the users list is wider than a phone's screen")
		}
		shot(t, ctx, "users-phone")
	})
}

// TestBrowserSupervisorCannotGrantAdmin: a Supervisor who may manage users sees no way to
// grant Admin, and a forged form granting it is refused by the engine.
func TestBrowserSupervisorCannotGrantAdmin(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		bg := context.Background()
		perms := []provisioning.Permission{provisioning.PermManageUsers}
		name := "People ops"
		if _, err := e.eng.CreateRole(bg, cli, e.tenant.ID, provisioning.RoleInput{Name: &name, Permissions: &perms}); err != nil {
			t.Fatal(err)
		}
		e.localUser("sam@acme.test", "Sam Supervisor", "supervisor password", provisioning.RoleSupervisor, name)
		agent := e.localUser("andy@acme.test", "Andy Agent", "agent password 123", provisioning.RoleAgent)
		ctx := browser(t)
		signIn(t, ctx, e, "sam@acme.test", "supervisor password")
		for _, p := range []string{"/users/" + agent.ID, "/invite", "/agents/new", "/users"} {
			run(t, ctx, chromedp.Navigate(e.srv.URL+"/admin/acme"+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
			// The users list's role filter lists every role: filtering is not granting.
			n := get(t, ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('input, option')].filter(x => x.closest('select#role') === null &&
				(x.value === 'Admin' || x.textContent.trim() === 'Admin')).length`))
			if n != 0 {
				t.Fatalf("%s offers the Admin role to a Supervisor", p)
			}
		}
		if txt := pageText(t, ctx); strings.Contains(txt, "Audit log") || strings.Contains(txt, "SCIM tokens") {
			t.Fatal("a Supervisor without manage_settings sees the settings pages in the navigation")
		}
		// Forge the roles form of the user page: add an Admin box and post it.
		run(t, ctx,
			chromedp.Navigate(e.srv.URL+"/admin/acme/users/"+agent.ID),
			chromedp.WaitVisible(chromedp.CSS(`#h-roles`)),
		)
		shot(t, ctx, "user-supervisor")
		get(t, ctx, chromedp.Evaluate[bool](`(() => { const f = document.querySelector('form[action$="/roles"]'); const i = document.createElement('input');
				i.type = 'hidden'; i.name = 'role'; i.value = 'Admin'; f.appendChild(i); f.submit(); return true })()`))
		run(t, ctx, chromedp.WaitVisible(chromedp.CSS(`main .card.narrow h1`)))
		if txt := pageText(t, ctx); !strings.Contains(txt, "Not allowed") || !strings.Contains(txt, "only an Admin can grant") {
			t.Fatalf("forged Admin grant answered:\n%s", txt)
		}
		u, err := e.eng.GetUser(bg, e.tenant.ID, agent.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(u.Roles, ","), "Admin") {
			t.Fatalf("the forged post granted Admin: %v", u.Roles)
		}
	})
}

// TestBrowserCrossSiteFormRefused: a page on another origin (same site: another port of
// 127.0.0.1, so the SameSite=Lax session cookie is sent along) posts a bulk deactivation
// to the console; it is refused and nothing changes.
func TestBrowserCrossSiteFormRefused(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		victim := e.localUser("vic@acme.test", "Vic Victim", "victim password", provisioning.RoleAgent)
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/admin/acme/users/bulk">
				<input type="hidden" name="ids" value="%s"><input type="hidden" name="action" value="deactivate">
				<input type="hidden" name="confirm" value="yes"><button id="go">Win a prize</button></form>`, e.srv.URL, victim.ID)
		}))
		defer evil.Close()
		ctx := browser(t)
		signIn(t, ctx, e, "ada@acme.test", adminPassword)
		run(t, ctx,
			chromedp.Navigate(evil.URL),
			chromedp.Click(chromedp.CSS(`#go`)),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)),
		)
		if txt := pageText(t, ctx); !strings.Contains(txt, "Request refused") {
			t.Fatalf("cross-site post answered:\n%s", txt)
		}
		u, err := e.eng.GetUser(context.Background(), e.tenant.ID, victim.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != provisioning.StatusActive && u.Status != provisioning.StatusInvited || !u.Seat {
			t.Fatalf("the cross-site post changed the user: status %s, seat %v", u.Status, u.Seat)
		}
	})
}
