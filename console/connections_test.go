package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestConnectionPage: an admin edits a connection's settings, disables, enables and
// deletes it (after a confirmation), and previews and saves its mapping rules.
func TestConnectionPage(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		admin := e.session("ada@acme.test", adminPassword)
		c, err := e.eng.CreateConnection(ctx, cli, e.tenant.ID, &provisioning.Connection{Name: "Okta", Type: provisioning.ConnSAML, Mode: provisioning.ModeJIT,
			Domains: []string{"acme.test"}, SAML: &provisioning.SAMLSettings{IdPMetadataXML: "<EntityDescriptor/>", SPKeySealed: []byte{1}, SPCertPEM: "cert"}})
		if err != nil {
			t.Fatal(err)
		}
		base := "/admin/acme/sso/connections/" + c.ID
		if r := admin.get("/admin/acme/sso"); r.status != 200 || !strings.Contains(r.body, `href="`+base+`"`) {
			t.Fatalf("sso list: %d", r.status)
		}
		r := admin.get(base)
		if r.status != 200 || !strings.Contains(r.body, "/sso/acme/saml/"+c.ID+"/acs") || !strings.Contains(r.body, "/sso/acme/saml/"+c.ID+"/metadata") ||
			!strings.Contains(r.body, "acme.test") || !strings.Contains(r.body, "IdP-initiated") {
			t.Fatalf("connection page: %d %s", r.status, r.body)
		}
		tok := admin.token()
		get := func() *provisioning.Connection {
			got, err := e.eng.GetConnection(ctx, e.tenant.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}

		// Without the form token nothing changes.
		if r := admin.post(base, url.Values{"name": {"X"}, "mode": {"directory"}, "domains": {"x.test"}}); r.status != http.StatusForbidden {
			t.Fatalf("post without token: %d", r.status)
		}
		// Settings.
		r = admin.post(base, url.Values{"csrf": {tok}, "name": {"Okta prod"}, "mode": {"directory"}, "domains": {"acme.test\nacme.example"}, "idpInitiated": {"on"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("save settings: %d %s", r.status, r.body)
		}
		if got := get(); got.Name != "Okta prod" || got.Mode != provisioning.ModeDirectory || strings.Join(got.Domains, ",") != "acme.test,acme.example" || !got.SAML.AllowIdPInitiated {
			t.Fatalf("settings not saved: %+v", got)
		}
		r = admin.post(base, url.Values{"csrf": {tok}, "name": {"Okta prod"}, "mode": {"directory"}, "domains": {"not a domain!"}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-domains"`) {
			t.Fatalf("bad domain: %d %s", r.status, r.body)
		}
		// Disable and enable.
		if r := admin.post(base+"/state", url.Values{"csrf": {tok}, "state": {"disable"}}); r.status != http.StatusSeeOther || !get().Disabled {
			t.Fatalf("disable: %d", r.status)
		}
		if r := admin.get(base); !strings.Contains(r.body, `value="enable"`) {
			t.Fatal("no enable button on a disabled connection")
		}
		if r := admin.post(base+"/state", url.Values{"csrf": {tok}, "state": {"enable"}}); r.status != http.StatusSeeOther || get().Disabled {
			t.Fatalf("enable: %d", r.status)
		}

		// Mapping: bad JSON is refused next to the field, nothing stored.
		for _, bad := range []string{`{"rules": [`, `{"rules": [{"group": ""}]}`, `{"rulez": []}`} {
			r := admin.post(base+"/mapping", url.Values{"csrf": {tok}, "mapping": {bad}, "action": {"save"}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-mapping"`) {
				t.Fatalf("bad mapping %s: %d %s", bad, r.status, r.body)
			}
			if len(get().Mapping.Rules) != 0 {
				t.Fatal("a bad mapping was stored")
			}
		}
		// Preview over the directory: two Support users would gain a seat and Agent.
		if err := db.SeedUsers(ctx, e.tenant.ID, "u", 3); err != nil {
			t.Fatal(err)
		}
		g := &provisioning.Group{DisplayName: "Support"}
		for i := 1; i <= 2; i++ {
			g.Members = append(g.Members, provisioning.GroupMember{UserID: fmt.Sprintf("u-%d", i)})
		}
		if _, err := e.eng.CreateGroup(ctx, cli, e.tenant.ID, g); err != nil {
			t.Fatal(err)
		}
		before, _ := e.eng.GetTenant(ctx, e.tenant.ID)
		rules := `{"rules": [{"group": "support", "seat": true, "roles": ["Agent"]}]}`
		r = admin.post(base+"/mapping", url.Values{"csrf": {tok}, "mapping": {rules}, "action": {"preview"}})
		if r.status != 200 || !strings.Contains(r.body, "2 would gain a seat") || strings.Count(r.body, "gains a seat") != 2 || !strings.Contains(r.body, "gains Agent") {
			t.Fatalf("preview: %d %s", r.status, r.body)
		}
		if len(get().Mapping.Rules) != 0 {
			t.Fatal("the preview applied the mapping")
		}
		if tn, _ := e.eng.GetTenant(ctx, e.tenant.ID); tn.SeatsUsed != before.SeatsUsed {
			t.Fatalf("the preview changed seats: %d", tn.SeatsUsed)
		}
		// Over the seat limit: the preview is refused with the numbers.
		if _, err := e.eng.UpdateTenant(ctx, cli, e.tenant.ID, func(tn *provisioning.Tenant) error { tn.SeatLimit = tn.SeatsUsed + 1; return nil }); err != nil {
			t.Fatal(err)
		}
		r = admin.post(base+"/mapping", url.Values{"csrf": {tok}, "mapping": {rules}, "action": {"preview"}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "Refused: this mapping would give 2 users without a seat one") {
			t.Fatalf("preview over the limit: %d %s", r.status, r.body)
		}
		if _, err := e.eng.UpdateTenant(ctx, cli, e.tenant.ID, func(tn *provisioning.Tenant) error { tn.SeatLimit = 10; return nil }); err != nil {
			t.Fatal(err)
		}
		// Save applies it, audited by the engine.
		if r := admin.post(base+"/mapping", url.Values{"csrf": {tok}, "mapping": {rules}, "action": {"save"}}); r.status != http.StatusSeeOther {
			t.Fatalf("save mapping: %d %s", r.status, r.body)
		}
		if m := get().Mapping; len(m.Rules) != 1 || m.Rules[0].Group != "support" || !m.Rules[0].Seat {
			t.Fatalf("mapping not saved: %+v", m)
		}
		if r := admin.get("/admin/acme/audit"); !strings.Contains(r.body, "connection.update") || !strings.Contains(r.body, "connection.disable") {
			t.Fatal("changes not in the audit log")
		}

		// An Agent may not see or change it.
		agent := e.session(e.localUser("andy@acme.test", "Andy Agent", "agent password 123", provisioning.RoleAgent).UserName, "agent password 123")
		if r := agent.get(base); r.status == 200 {
			t.Fatalf("agent opened the connection: %d", r.status)
		}
		if r := agent.post(base+"/state", url.Values{"csrf": {agent.token()}, "state": {"disable"}}); r.status != http.StatusForbidden || get().Disabled {
			t.Fatalf("agent disabled the connection: %d", r.status)
		}

		// Delete asks first.
		r = admin.post(base+"/delete", url.Values{"csrf": {tok}})
		if r.status != 200 || !strings.Contains(r.body, "Delete connection Okta prod?") || !strings.Contains(r.body, `name="confirm" value="yes"`) {
			t.Fatalf("delete without confirmation: %d", r.status)
		}
		get()
		if r := admin.post(base+"/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}}); r.status != http.StatusSeeOther {
			t.Fatalf("confirmed delete: %d %s", r.status, r.body)
		}
		if _, err := e.eng.GetConnection(ctx, e.tenant.ID, c.ID); err == nil {
			t.Fatal("connection not deleted")
		}
		if r := admin.get(base); r.status != http.StatusNotFound {
			t.Fatalf("deleted connection page: %d", r.status)
		}
	})
}
