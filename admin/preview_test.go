package admin_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestMappingPreview runs the preview over a directory of 3,000 SCIM users in three groups
// and checks the counts and that nothing changed.
func TestMappingPreview(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newConnEnv(t, db, false)
		cli := provisioning.Actor{Kind: provisioning.ActorCLI, Name: "test"}
		if _, err := e.eng.UpdateTenant(ctx, cli, e.tenant.ID, func(tn *provisioning.Tenant) error { tn.SeatLimit = 2500; return nil }); err != nil {
			t.Fatal(err)
		}
		const n = 3000
		if err := db.SeedUsers(ctx, e.tenant.ID, "u", n); err != nil {
			t.Fatal(err)
		}
		group := func(name string, from, to int) {
			g := &provisioning.Group{DisplayName: name}
			for i := from; i <= to; i++ {
				g.Members = append(g.Members, provisioning.GroupMember{UserID: fmt.Sprintf("u-%d", i)})
			}
			if _, err := e.eng.CreateGroup(ctx, cli, e.tenant.ID, g); err != nil {
				t.Fatal(err)
			}
		}
		group("Support", 1, 2000)   // 2,000 users
		group("Tier 2", 1501, 2000) // 500 of them
		group("Sales", 2001, 3000)  // the other 1,000
		// 100 Support users already hold a seat and the Agent role.
		var seated []string
		for i := 1; i <= 100; i++ {
			seated = append(seated, fmt.Sprintf("u-%d", i))
		}
		if _, err := e.eng.AssignSeats(ctx, cli, e.tenant.ID, seated, []string{"Agent"}); err != nil {
			t.Fatal(err)
		}
		md := readTestdata(t, "test-idp-metadata.xml")
		c := e.must(e.do(e.as(), "POST", "/connections", map[string]any{"type": "saml", "mode": "directory", "domains": []string{"example.com"},
			"saml":    map[string]any{"metadataXml": md},
			"mapping": map[string]any{"rules": []map[string]any{{"group": "Support", "seat": true, "roles": []string{"Agent"}}}}}), 201)
		id := c.str("id")

		// Tier 2 becomes Supervisors in the Escalations team; Support keeps its seat.
		next := map[string]any{"rules": []map[string]any{
			{"group": "support", "seat": true, "roles": []string{"Agent"}},
			{"group": "Tier 2", "roles": []string{"Supervisor"}, "teams": []string{"Escalations"}}}}
		r := e.must(e.do(e.as(), "POST", "/connections/"+id+"/mapping/preview", next), 200)
		if r.num("usersConsidered") != n || r.num("seatsGained") != 0 || r.num("seatsLost") != 0 || len(r.list("changes")) != 500 {
			t.Fatalf("preview: considered %d, gained %d, lost %d, changes %d", r.num("usersConsidered"), r.num("seatsGained"),
				r.num("seatsLost"), len(r.list("changes")))
		}
		ch := r.list("changes")[0].(map[string]any)
		if fmt.Sprint(ch["rolesGained"]) != "[Supervisor]" || fmt.Sprint(ch["teamsGained"]) != "[Escalations]" {
			t.Fatalf("change: %v", ch)
		}

		// Dropping Support's seat and Agent role: 100 seated Support users lose the
		// mapping's seat and their Agent role.
		r = e.must(e.do(e.as(), "POST", "/connections/"+id+"/mapping/preview", map[string]any{"rules": []map[string]any{}}), 200)
		if r.num("seatsLost") != 100 || len(r.list("changes")) != 100 {
			t.Fatalf("drop: lost %d, changes %d", r.num("seatsLost"), len(r.list("changes")))
		}

		// Seating Sales as well needs 2,900 new seats: 2,400 are free, so it is refused.
		over := map[string]any{"rules": []map[string]any{{"group": "Support", "seat": true}, {"group": "Sales", "seat": true}}}
		r = e.do(e.as(), "POST", "/connections/"+id+"/mapping/preview", over)
		wantError(t, r, http.StatusConflict, "mapping")
		if r.str("error", "code") != "seat_limit" || r.str("error", "details", "requested") != "2900" || r.str("error", "details", "free") != "2400" {
			t.Fatalf("over the limit: %s", r.raw[:min(len(r.raw), 400)])
		}

		// Nothing was applied.
		tn, _ := e.eng.GetTenant(ctx, e.tenant.ID)
		got, _ := e.eng.GetConnection(ctx, e.tenant.ID, id)
		if tn.SeatsUsed != 100 || len(got.Mapping.Rules) != 1 {
			t.Fatalf("preview changed state: seats %d, rules %d", tn.SeatsUsed, len(got.Mapping.Rules))
		}
		wantError(t, e.do(e.as(), "POST", "/connections/"+id+"/mapping/preview", map[string]any{"rules": []map[string]any{{"group": ""}}}), 400, "mapping.rules[0].group")
		wantError(t, e.do(e.as(), "POST", "/connections/nope/mapping/preview", next), 404, "")
	})
}
