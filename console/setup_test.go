package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestSetupLinkPages: the wizard opens with a valid link only (not expired, not revoked),
// keeps its pages out of caches and refuses cross-site posts.
func TestSetupLinkPages(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		now := time.Now()
		e.eng.Now = func() time.Time { return now }
		token, _, err := e.eng.CreateSetupLink(ctx, cli, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) (int, string, http.Header) {
			resp, err := http.Get(e.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b), resp.Header
		}
		code, body, hdr := get("/setup/" + token)
		if code != 200 || !strings.Contains(body, "Set up single sign-on for Acme Inc") || hdr.Get("Cache-Control") != "no-store" ||
			!strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("open: %d %v\n%s", code, hdr, body)
		}
		// A cross-site post changes nothing.
		req, _ := http.NewRequest("POST", e.srv.URL+"/setup/"+token+"/provider", strings.NewReader(url.Values{"provider": {"okta"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site post: %d", resp.StatusCode)
		}
		if again, _, _ := e.eng.OpenSetupLink(ctx, token); again.Progress.Provider != "" {
			t.Fatal("a cross-site post changed the progress")
		}
		for _, bad := range []string{token + "x", "sbs_nope_nope", "x"} {
			if code, body, _ := get("/setup/" + bad); code != 404 || !strings.Contains(body, "does not work") {
				t.Fatalf("%s: %d", bad, code)
			}
		}
		now = now.Add(time.Hour)
		if code, _, _ := get("/setup/" + token); code != 404 {
			t.Fatalf("expired link: %d", code)
		}
		token2, l2, err := e.eng.CreateSetupLink(ctx, cli, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.eng.RevokeSetupLink(ctx, cli, e.tenant.ID, l2.ID); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := get("/setup/" + token2); code != 404 {
			t.Fatalf("revoked link: %d", code)
		}
	})
}

// TestConsoleSSOPages: an Admin creates and revokes a set-up link in the console and reads
// the provisioning log (with an entry of a SCIM request, its password redacted); an Agent
// may not.
func TestConsoleSSOPages(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		admin := e.session("ada@acme.test", adminPassword)
		tok := admin.token()
		r := admin.post("/admin/acme/sso/links", url.Values{"csrf": {tok}, "days": {"1"}})
		if r.status != http.StatusCreated || !strings.Contains(r.body, "/setup/sbs_") || !strings.Contains(r.body, "works for 1 days") {
			t.Fatalf("create link: %d\n%s", r.status, r.body)
		}
		ls, err := e.eng.ListSetupLinks(ctx, e.tenant.ID)
		if err != nil || len(ls) != 1 {
			t.Fatalf("links: %v %v", ls, err)
		}
		if page := admin.get("/admin/acme/sso"); page.status != 200 || !strings.Contains(page.body, `<span class="badge active">active</span>`) {
			t.Fatalf("sso page: %d\n%s", page.status, page.body)
		}
		r = admin.post("/admin/acme/sso/links/"+ls[0].ID+"/revoke", url.Values{"csrf": {tok}, "confirm": {"yes"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if ls, _ = e.eng.ListSetupLinks(ctx, e.tenant.ID); ls[0].RevokedAt == nil {
			t.Fatal("not revoked")
		}

		if err := db.AppendProvisioningLog(ctx, []provisioning.ProvisioningLogEntry{{TenantID: e.tenant.ID, At: time.Now(), Method: "POST",
			Path: "/scim/v2/acme/Users", Status: 409, SCIMType: "uniqueness", Error: "userName taken",
			Request: provisioning.RedactBody([]byte(`{"userName":"x","password":"pa55-word"}`))}}); err != nil {
			t.Fatal(err)
		}
		page := admin.get("/admin/acme/provisioning-log?status=error")
		if page.status != 200 || !strings.Contains(page.body, "uniqueness") || strings.Contains(page.body, "pa55-word") ||
			!strings.Contains(page.body, "[redacted]") {
			t.Fatalf("provisioning log: %d\n%s", page.status, page.body)
		}
		e.localUser("agent@acme.test", "Agent A", "agent password 1", provisioning.RoleAgent)
		agent := e.session("agent@acme.test", "agent password 1")
		if r := agent.get("/admin/acme/provisioning-log"); r.status != http.StatusSeeOther {
			t.Fatalf("an Agent opened the provisioning log: %d", r.status)
		}
	})
}

// TestConsoleUserIdentities: the user page lists the single sign-on identities linked to
// the user, with the connection's name, and says so when there are none.
func TestConsoleUserIdentities(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		admin := e.session("ada@acme.test", adminPassword)
		grace := e.localUser("grace@acme.test", "Grace Hopper", "grace password 1", provisioning.RoleAgent)
		if page := admin.get("/admin/acme/users/" + grace.ID); page.status != 200 || !strings.Contains(page.body, "Not linked to a single sign-on connection yet") {
			t.Fatalf("user page without identities: %d\n%s", page.status, page.body)
		}
		now := time.Now().UTC()
		conn := &provisioning.Connection{ID: e.eng.NewID(), TenantID: e.tenant.ID, Name: "Okta <prod>", Type: provisioning.ConnSAML,
			Mode: provisioning.ModeJIT, Domains: []string{"acme.test"}, CreatedAt: now, UpdatedAt: now}
		if err := db.InTx(ctx, func(tx provisioning.Tx) error {
			if err := tx.CreateConnection(ctx, conn); err != nil {
				return err
			}
			return tx.LinkIdentity(ctx, &provisioning.Identity{TenantID: e.tenant.ID, ConnectionID: conn.ID, Subject: "00u1grace",
				UserID: grace.ID, CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
		page := admin.get("/admin/acme/users/" + grace.ID)
		if page.status != 200 || !strings.Contains(page.body, "Okta &lt;prod&gt;") || !strings.Contains(page.body, "00u1grace") {
			t.Fatalf("user page with an identity: %d\n%s", page.status, page.body)
		}
	})
}

// TestConsoleInviteExpiry: the invite form sets one invitation's lifetime; a value outside
// the allowed range is shown next to its field and nothing is sent.
func TestConsoleInviteExpiry(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		admin := e.session("ada@acme.test", adminPassword)
		if page := admin.get("/admin/acme/invite"); page.status != 200 || !strings.Contains(page.body, `<option value="3d">3 days</option>`) {
			t.Fatalf("invite form: %d\n%s", page.status, page.body)
		}
		form := url.Values{"csrf": {admin.token()}, "email": {"grace@acme.test"}, "role": {provisioning.RoleAgent}, "sendNow": {"on"}, "expiresIn": {"99d"}}
		if r := admin.post("/admin/acme/invite", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-expiresIn"`) {
			t.Fatalf("invite with 99d: %d\n%s", r.status, r.body)
		}
		form.Set("expiresIn", "3d")
		if r := admin.post("/admin/acme/invite", form); r.status != http.StatusSeeOther {
			t.Fatalf("invite with 3d: %d\n%s", r.status, r.body)
		}
		list, err := e.acc.ListInvitations(ctx, e.tenant.ID, provisioning.InvitePending)
		if err != nil || len(list) != 1 || list[0].ExpiresAt.Sub(list[0].CreatedAt) != 72*time.Hour {
			t.Fatalf("invitations: %+v %v", list, err)
		}
	})
}
