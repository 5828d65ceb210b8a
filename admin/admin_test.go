package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func TestAuthAndIsolation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a := newEnv(t, db, "acme", 10)
		b := newTenant(t, db, a.eng, a.srv, "globex", 10)
		uid := a.user("ann@acme.example", nil)
		teamID := a.must(a.do(a.as(), "POST", "/teams", map[string]any{"name": "Tier 1"}), 201).str("id")
		scimTok, _, err := a.eng.CreateToken(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, a.tenant.ID, provisioning.TokenSCIM, "scim")
		if err != nil {
			t.Fatal(err)
		}
		admin, _ := a.session("boss@acme.example", "Admin")
		agent, _ := a.session("agent@acme.example", "Agent")

		for _, tc := range []struct {
			name   string
			auth   auth
			method string
			path   string
			body   any
			want   int
		}{
			{"no credentials", auth{}, "GET", "/users", nil, 401},
			{"malformed bearer", auth{bearer: "sbt_nope"}, "GET", "/users", nil, 401},
			{"SCIM token is not an admin token", auth{bearer: scimTok}, "GET", "/users", nil, 401},
			{"unknown access token", auth{bearer: "opaque-access-token"}, "GET", "/users", nil, 401},
			{"bad session cookie", auth{cookie: "x.y"}, "GET", "/users", nil, 401},
			{"admin token", a.as(), "GET", "/users", nil, 200},
			{"admin session", admin, "GET", "/users", nil, 200},
			{"agent session lacks manage_users", agent, "GET", "/users", nil, 403},
			{"cross-origin write with cookie", auth{cookie: admin.cookie, origin: "https://evil.example"}, "POST", "/teams", map[string]any{"name": "x"}, 403},
			{"other tenant's user is 404", b.as(), "GET", "/users/" + uid, nil, 404},
			{"other tenant's user cannot be changed", b.as(), "PATCH", "/users/" + uid, map[string]any{"displayName": "x"}, 404},
			{"other tenant's user cannot be seated", b.as(), "POST", "/seats/assign", map[string]any{"userIds": []string{uid}}, 404},
			{"other tenant's team is 404", b.as(), "GET", "/teams/" + teamID, nil, 404},
			{"other tenant's team cannot be deleted", b.as(), "DELETE", "/teams/" + teamID, nil, 404},
			{"unknown endpoint", a.as(), "GET", "/nope", nil, 404},
			{"openapi is public", auth{}, "GET", "/openapi.json", nil, 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := a.do(tc.auth, tc.method, tc.path, tc.body)
				if r.status != tc.want {
					t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
				}
				if tc.want >= 400 && r.str("error", "code") == "" {
					t.Fatalf("no JSON error: %s", r.raw)
				}
			})
		}
		// The other tenant's overview does not list acme's users.
		if got := b.must(b.do(b.as(), "GET", "/users", nil), 200).num("total"); got != 0 {
			t.Fatalf("globex sees %d users", got)
		}
		me := a.must(a.do(admin, "GET", "/me", nil), 200)
		if me.str("actor", "kind") != "user" || me.str("tenant", "slug") != "acme" || me.str("admin") != "true" {
			t.Fatalf("me: %s", me.raw)
		}
	})
}

func TestUsersOverview(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 10)
		e.must(e.do(e.as(), "POST", "/teams", map[string]any{"name": "Billing"}), 201)
		for i := range 12 {
			extra := map[string]any{"givenName": fmt.Sprintf("Person%02d", i), "familyName": "Smith"}
			if i < 3 {
				extra["seat"] = true
				extra["roles"] = []string{"Supervisor"}
				extra["teams"] = []string{"Billing"}
			}
			e.user(fmt.Sprintf("p%02d@acme.example", i), extra)
		}
		e.user("zed@acme.example", map[string]any{"displayName": "Zed Unique"})
		for _, tc := range []struct {
			query string
			total int
		}{
			{"", 13},
			{"q=smith", 12},
			{"q=ZED+uni", 1},
			{"q=p03%40acme", 1},
			{"seat=true", 3},
			{"seat=false", 10},
			{"role=supervisor", 3},
			{"team=billing", 3},
			{"source=admin", 13},
			{"status=deactivated", 0},
			{"seat=false&q=person1", 2},
		} {
			r := e.must(e.do(e.as(), "GET", "/users?"+tc.query, nil), 200)
			if r.num("total") != tc.total || len(r.list("users")) != min(tc.total, 50) {
				t.Errorf("%s: total %d, %d users, want %d", tc.query, r.num("total"), len(r.list("users")), tc.total)
			}
		}
		// Pages by offset and by cursor cover everyone once.
		seen := map[string]bool{}
		cursor := ""
		for range 10 {
			r := e.must(e.do(e.as(), "GET", "/users?sort=userName&limit=5&cursor="+url.QueryEscape(cursor), nil), 200)
			for _, u := range r.list("users") {
				seen[u.(map[string]any)["id"].(string)] = true
			}
			if cursor = r.str("next"); cursor == "" {
				break
			}
		}
		if len(seen) != 13 {
			t.Fatalf("cursor pages saw %d users", len(seen))
		}
		r := e.must(e.do(e.as(), "GET", "/users?sort=userName&order=desc&limit=2&offset=1", nil), 200)
		if first := r.list("users")[0].(map[string]any); first["userName"] != "p11@acme.example" {
			t.Fatalf("offset page starts with %v", first["userName"])
		}
		if u := r.list("users")[0].(map[string]any); u["roles"] == nil || u["teams"] == nil {
			t.Fatalf("roles and teams missing: %v", u)
		}
		for _, tc := range []struct{ query, field string }{
			{"status=gone", "status"}, {"seat=maybe", "seat"}, {"limit=0", "limit"}, {"sort=password", "sort"},
			{"order=up", "order"}, {"source=ldap", "source"}, {"cursor=garbage", "cursor"},
		} {
			wantError(t, e.do(e.as(), "GET", "/users?"+tc.query, nil), 400, tc.field)
		}
	})
}

func TestUserLifecycle(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 5)
		admin, adminID := e.session("boss@acme.example", "Admin")
		id := e.user("ann@acme.example", map[string]any{"givenName": "Ann", "familyName": "Lee", "seat": true,
			"preferredLanguage": "nl", "workPhone": "+31 20 1234567"})
		u := e.must(e.do(e.as(), "GET", "/users/"+id, nil), 200)
		if u.str("seat") != "true" || u.str("roles") != "[Agent]" || u.str("workPhone") != "+31 20 1234567" || u.header.Get("ETag") == "" {
			t.Fatalf("created user: %s", u.raw)
		}

		// Validation and conflicts name the field.
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "not-an-address"}), 400, "email")
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{}), 400, "email")
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "x@acme.example", "roles": []string{"Pilot"}}), 400, "roles[0]")
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "x@acme.example", "bogus": 1}), 400, "bogus")
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "x@acme.example", "seat": "yes"}), 400, "seat")
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "ANN@acme.example"}), 409, "email")
		wantError(t, e.do(e.as(), "GET", "/users/no-such-user", nil), 404, "")

		// Editing: profile fields, stale version, IdP-managed fields.
		e.must(e.do(e.as(), "PATCH", "/users/"+id, map[string]any{"businessUnit": "EMEA", "displayName": "Ann L."}), 200)
		req := e.do(e.as(), "PATCH", "/users/"+id, map[string]any{"businessUnit": "US"})
		if req.str("businessUnit") != "US" {
			t.Fatalf("edit: %s", req.raw)
		}
		scimUser, err := e.eng.CreateUser(ctx, provisioning.Actor{Kind: provisioning.ActorSCIMToken}, e.tenant.ID, &provisioning.User{
			UserName: "dir@acme.example", Source: provisioning.SourceSCIM, ManagedByIdP: true,
			Emails: []provisioning.MultiValue{{Value: "dir@acme.example", Primary: true}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"email", "givenName", "familyName", "password", "externalId"} {
			wantError(t, e.do(e.as(), "PATCH", "/users/"+scimUser.ID, map[string]any{f: "x@acme.example"}), 400, f)
		}
		e.must(e.do(e.as(), "PATCH", "/users/"+scimUser.ID, map[string]any{"preferredLanguage": "de", "mobilePhone": "+49 1"}), 200)

		// Deactivation frees the seat and ends sessions; reactivation keeps the seat free.
		agent, agentID := e.session("agent@acme.example", "Admin", "Agent")
		e.must(e.do(agent, "GET", "/users", nil), 200)
		before := e.must(e.do(e.as(), "GET", "/seats", nil), 200).num("used")
		d := e.must(e.do(admin, "POST", "/users/"+agentID+"/deactivate", nil), 200)
		if d.str("status") != "deactivated" || d.str("seat") != "false" {
			t.Fatalf("deactivated: %s", d.raw)
		}
		if used := e.must(e.do(e.as(), "GET", "/seats", nil), 200).num("used"); used != before-1 {
			t.Fatalf("seats used %d, want %d", used, before-1)
		}
		wantError(t, e.do(agent, "GET", "/users", nil), 401, "")
		deact := e.must(e.do(e.as(), "GET", "/users?status=deactivated", nil), 200)
		if deact.num("total") != 1 {
			t.Fatalf("deactivated filter: %s", deact.raw)
		}
		// Reactivation gives the seat back when one is free...
		r := e.must(e.do(admin, "POST", "/users/"+agentID+"/reactivate", nil), 200)
		if r.str("status") != "active" || r.str("seat") != "true" {
			t.Fatalf("reactivated: %s", r.raw)
		}
		// ...refuses clearly when none is, unless the admin asks for no seat.
		e.must(e.do(admin, "POST", "/users/"+agentID+"/deactivate", nil), 200)
		pol := e.must(e.do(e.as(), "GET", "/policy", nil), 200)
		e.must(e.do(e.as(), "PATCH", "/policy", map[string]any{"seatLimit": pol.num("seatsUsed")}), 200)
		full := e.do(admin, "POST", "/users/"+agentID+"/reactivate", nil)
		wantError(t, full, 409, "seat")
		if full.str("error", "code") != "seat_limit" {
			t.Fatalf("reactivate without a free seat: %s", full.raw)
		}
		if st := e.must(e.do(e.as(), "GET", "/users/"+agentID, nil), 200).str("status"); st != "deactivated" {
			t.Fatalf("refused reactivation changed the status to %s", st)
		}
		r = e.must(e.do(admin, "POST", "/users/"+agentID+"/reactivate", map[string]any{"seat": false}), 200)
		if r.str("status") != "active" || r.str("seat") != "false" {
			t.Fatalf("reactivated without seat: %s", r.raw)
		}
		e.must(e.do(e.as(), "PATCH", "/policy", map[string]any{"seatLimit": pol.num("seatLimit")}), 200)

		// The last Admin stays: not deactivated, not removed, not demoted, not unseated.
		wantError(t, e.do(e.as(), "POST", "/users/"+adminID+"/deactivate", nil), 409, "")
		wantError(t, e.do(e.as(), "DELETE", "/users/"+adminID, nil), 409, "")
		wantError(t, e.do(e.as(), "PUT", "/users/"+adminID+"/roles", map[string]any{"roles": []string{"Agent"}}), 409, "roles")
		wantError(t, e.do(e.as(), "POST", "/seats/unassign", map[string]any{"userIds": []string{adminID}}), 409, "")
		wantError(t, e.do(admin, "POST", "/users/"+adminID+"/deactivate", nil), 409, "id")
		// A seated user keeps a role.
		wantError(t, e.do(e.as(), "PUT", "/users/"+id+"/roles", map[string]any{"roles": []string{}}), 400, "roles")

		e.must(e.do(e.as(), "DELETE", "/users/"+id, nil), 204)
		wantError(t, e.do(e.as(), "GET", "/users/"+id, nil), 404, "")
		wantError(t, e.do(e.as(), "DELETE", "/users/"+id, nil), 404, "")
		if used := e.must(e.do(e.as(), "GET", "/seats", nil), 200).num("used"); used != 1 {
			t.Fatalf("seats used after removal %d, want 1", used)
		}
		// History is kept.
		hist := e.must(e.do(e.as(), "GET", "/audit?target="+id, nil), 200)
		if len(hist.list("events")) < 3 {
			t.Fatalf("audit of removed user: %s", hist.raw)
		}
	})
}

func TestSeats(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 3)
		var ids []string
		for i := range 5 {
			ids = append(ids, e.user(fmt.Sprintf("u%d@acme.example", i), nil))
		}
		s := e.must(e.do(e.as(), "GET", "/seats", nil), 200)
		if s.num("limit") != 3 || s.num("free") != 3 || s.num("withoutSeat") != 5 {
			t.Fatalf("usage: %s", s.raw)
		}
		// Four at once do not fit: none is seated, and the error says how many are free.
		r := e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": ids[:4]})
		wantError(t, r, 409, "userIds")
		if r.str("error", "code") != "seat_limit" || r.num("error", "details", "free") != 3 || !strings.Contains(r.str("error", "message"), "3 of 3 free") {
			t.Fatalf("seat limit error: %s", r.raw)
		}
		if n := e.must(e.do(e.as(), "GET", "/users?seat=true", nil), 200).num("total"); n != 0 {
			t.Fatalf("%d seated after a refused batch", n)
		}
		r = e.must(e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": ids[:3], "roles": []string{"Supervisor"}}), 200)
		if len(r.list("changed")) != 3 || r.num("seats", "free") != 0 {
			t.Fatalf("assign: %s", r.raw)
		}
		if u := e.must(e.do(e.as(), "GET", "/users/"+ids[0], nil), 200); u.str("roles") != "[Supervisor]" {
			t.Fatalf("roles: %s", u.raw)
		}
		// Assigning again changes nothing; one more is refused.
		r = e.must(e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": ids[:1]}), 200)
		if len(r.list("changed")) != 0 {
			t.Fatalf("re-assign: %s", r.raw)
		}
		wantError(t, e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": ids[3:4]}), 409, "userIds")
		r = e.must(e.do(e.as(), "POST", "/seats/unassign", map[string]any{"userIds": ids[:2]}), 200)
		if r.num("seats", "free") != 2 {
			t.Fatalf("unassign: %s", r.raw)
		}
		wantError(t, e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": []string{}}), 400, "userIds")
		wantError(t, e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": []string{"missing"}}), 404, "")
		// Without roles and without a default role, the seat comes with no access
		// ("all access settings disabled by default", seed 000).
		e.must(e.do(e.as(), "PATCH", "/policy", map[string]any{"defaultRole": ""}), 200)
		e.must(e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": ids[4:5]}), 200)
		if u := e.must(e.do(e.as(), "GET", "/users/"+ids[4], nil), 200); u.str("seat") != "true" || len(u.list("roles")) != 0 {
			t.Fatalf("seated without default role: %s", u.raw)
		}
		// A deactivated user gets no seat.
		e.must(e.do(e.as(), "POST", "/users/"+ids[3]+"/deactivate", nil), 200)
		wantError(t, e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": ids[3:4], "roles": []string{"Agent"}}), 400, "userIds[0]")
	})
}

// Many parallel assignments never exceed the limit.
func TestSeatConcurrency(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		const limit, workers = 7, 24
		e := newEnv(t, db, "acme", limit)
		ids := make([]string, workers*2)
		for i := range ids {
			ids[i] = e.user(fmt.Sprintf("c%02d@acme.example", i), nil)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each worker asks for two seats, overlapping its neighbour's by one.
				batch := []string{ids[w*2], ids[(w*2+2)%len(ids)]}
				r := e.do(e.as(), "POST", "/seats/assign", map[string]any{"userIds": batch, "roles": []string{"Agent"}})
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[200] == 0 || codes[200]+codes[409] != workers {
			t.Fatalf("status codes %v", codes)
		}
		seated := e.must(e.do(e.as(), "GET", "/users?seat=true", nil), 200).num("total")
		used := e.must(e.do(e.as(), "GET", "/seats", nil), 200).num("used")
		if seated > limit || used != seated {
			t.Fatalf("seated %d, counted %d, limit %d", seated, used, limit)
		}
	})
}

func TestRoles(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 10)
		e.session("boss@acme.example", "Admin")
		r := e.must(e.do(e.as(), "GET", "/roles", nil), 200)
		if len(r.list("roles")) != 4 {
			t.Fatalf("built-in roles: %s", r.raw)
		}
		if len(e.must(e.do(e.as(), "GET", "/permissions", nil), 200).list("permissions")) != len(provisioning.AllPermissions) {
			t.Fatal("permissions list")
		}
		lead := e.must(e.do(e.as(), "POST", "/roles", map[string]any{"name": "Team lead", "description": "Runs a team",
			"permissions": []string{"manage_users", "work_tickets", "use_macros"}}), 201)
		leadID := lead.str("id")
		wantError(t, e.do(e.as(), "POST", "/roles", map[string]any{"name": "team LEAD"}), 409, "name")
		wantError(t, e.do(e.as(), "POST", "/roles", map[string]any{"name": "X", "permissions": []string{"fly"}}), 400, "permissions[0]")
		wantError(t, e.do(e.as(), "POST", "/roles", map[string]any{"description": "no name"}), 400, "name")
		e.must(e.do(e.as(), "GET", "/roles/"+leadID, nil), 200)
		wantError(t, e.do(e.as(), "GET", "/roles/nope", nil), 404, "")
		var adminRoleID string
		for _, x := range r.list("roles") {
			if m := x.(map[string]any); m["name"] == "Admin" {
				adminRoleID = m["id"].(string)
			}
		}
		wantError(t, e.do(e.as(), "PATCH", "/roles/"+adminRoleID, map[string]any{"name": "Boss"}), 409, "id")
		wantError(t, e.do(e.as(), "DELETE", "/roles/"+adminRoleID, nil), 409, "id")

		// A team lead manages users but may not grant Admin nor permissions it lacks.
		tl, _ := e.session("lead@acme.example", "Team lead")
		target := e.user("agent@acme.example", map[string]any{"seat": true, "roles": []string{"Agent"}})
		e.must(e.do(tl, "GET", "/users", nil), 200)
		wantError(t, e.do(tl, "PUT", "/users/"+target+"/roles", map[string]any{"roles": []string{"Admin"}}), 403, "")
		wantError(t, e.do(tl, "PUT", "/users/"+target+"/roles", map[string]any{"add": []string{"Supervisor"}}), 403, "")
		wantError(t, e.do(tl, "POST", "/roles", map[string]any{"name": "Sneaky", "permissions": []string{"manage_billing"}}), 403, "")
		wantError(t, e.do(tl, "POST", "/users", map[string]any{"email": "new@acme.example", "seat": true, "roles": []string{"Admin"}}), 403, "")
		wantError(t, e.do(tl, "PATCH", "/policy", map[string]any{"blockFreeMail": true}), 403, "")
		wantError(t, e.do(tl, "GET", "/audit", nil), 403, "")
		u := e.must(e.do(tl, "PUT", "/users/"+target+"/roles", map[string]any{"roles": []string{"Agent", "Team lead"}}), 200)
		if u.str("roles") != "[Agent Team lead]" {
			t.Fatalf("roles: %s", u.raw)
		}
		// An Admin can grant Admin.
		u = e.must(e.do(e.as(), "PUT", "/users/"+target+"/roles", map[string]any{"add": []string{"admin"}, "remove": []string{"Team lead"}}), 200)
		if u.str("roles") != "[Admin Agent]" {
			t.Fatalf("roles: %s", u.raw)
		}
		// A role in use is not deleted; renamed it stays granted.
		wantError(t, e.do(e.as(), "DELETE", "/roles/"+leadID, nil), 409, "id")
		e.must(e.do(e.as(), "PATCH", "/roles/"+leadID, map[string]any{"name": "Squad lead"}), 200)
		free := e.must(e.do(e.as(), "POST", "/roles", map[string]any{"name": "Unused"}), 201).str("id")
		e.must(e.do(e.as(), "DELETE", "/roles/"+free, nil), 204)
	})
}

func TestTeams(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 10)
		a := e.user("a@acme.example", nil)
		b := e.user("b@acme.example", nil)
		team := e.must(e.do(e.as(), "POST", "/teams", map[string]any{"name": "Support Tier 1", "description": "first line", "members": []string{a}}), 201)
		id := team.str("id")
		if team.num("memberCount") != 1 {
			t.Fatalf("team: %s", team.raw)
		}
		wantError(t, e.do(e.as(), "POST", "/teams", map[string]any{"name": "support tier 1"}), 409, "name")
		wantError(t, e.do(e.as(), "POST", "/teams", map[string]any{"name": "  "}), 400, "name")
		wantError(t, e.do(e.as(), "POST", "/teams", map[string]any{"name": "T", "members": []string{"nobody"}}), 404, "")
		e.must(e.do(e.as(), "PATCH", "/teams/"+id, map[string]any{"name": "Tier 1", "description": "renamed"}), 200)
		wantError(t, e.do(e.as(), "PATCH", "/teams/nope", map[string]any{"name": "x"}), 404, "")
		// Membership from the team side and from the user side.
		e.must(e.do(e.as(), "POST", "/teams/"+id+"/members", map[string]any{"userIds": []string{b}}), 200)
		m := e.must(e.do(e.as(), "GET", "/teams/"+id+"/members", nil), 200)
		if m.num("total") != 2 {
			t.Fatalf("members: %s", m.raw)
		}
		e.must(e.do(e.as(), "POST", "/teams", map[string]any{"name": "VIP"}), 201)
		u := e.must(e.do(e.as(), "PUT", "/users/"+a+"/teams", map[string]any{"teams": []string{"VIP"}}), 200)
		if u.str("teams") != "[VIP]" {
			t.Fatalf("user teams: %s", u.raw)
		}
		wantError(t, e.do(e.as(), "PUT", "/users/"+a+"/teams", map[string]any{"teams": []string{"Nope"}}), 400, "teams[0]")
		e.must(e.do(e.as(), "DELETE", "/teams/"+id+"/members/"+b, nil), 204)
		wantError(t, e.do(e.as(), "DELETE", "/teams/"+id+"/members/"+b, nil), 404, "")
		if n := e.must(e.do(e.as(), "GET", "/teams/"+id, nil), 200).num("memberCount"); n != 0 {
			t.Fatalf("member count %d", n)
		}
		list := e.must(e.do(e.as(), "GET", "/teams", nil), 200)
		if len(list.list("teams")) != 2 {
			t.Fatalf("teams: %s", list.raw)
		}
		e.must(e.do(e.as(), "DELETE", "/teams/"+id, nil), 204)
		wantError(t, e.do(e.as(), "GET", "/teams/"+id, nil), 404, "")
	})
}

func TestImportCSV(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 2)
		e.must(e.do(e.as(), "POST", "/teams", map[string]any{"name": "Billing"}), 201)
		e.user("taken@acme.example", nil)
		bad := "email,first name,last name,roles,teams,seat\n" +
			"ok@acme.example,Ok,One,Agent,Billing,yes\n" +
			"not-an-email,Bad,Two,,,\n" +
			"taken@acme.example,Tak,En,,,\n" +
			"dup@acme.example,D,U,Pilot,,\n" +
			"ok@acme.example,Again,,,,\n" +
			"team@acme.example,T,,,Nope,\n"
		r := e.do(e.as(), "POST", "/users/import?dryRun=true", bad)
		if r.status != 422 || r.num("errors") != 5 || r.str("applied") != "false" {
			t.Fatalf("dry run with errors: %d %s", r.status, r.raw)
		}
		wantFields := []string{"", "email", "email", "roles[0]", "email", "teams[0]"}
		for i, row := range r.list("rows") {
			m := row.(map[string]any)
			if f, _ := m["field"].(string); f != wantFields[i] {
				t.Errorf("row %d field %q, want %q (%v)", i+1, f, wantFields[i], m)
			}
		}
		good := "email,givenName,familyName,roles,teams,seat\n" +
			"one@acme.example,One,A,Agent;Viewer,Billing,yes\n" +
			"two@acme.example,Two,B,,,no\n"
		r = e.must(e.do(e.as(), "POST", "/users/import?dryRun=true", good), 200)
		if r.num("valid") != 2 || r.str("applied") != "false" {
			t.Fatalf("clean dry run: %s", r.raw)
		}
		if n := e.must(e.do(e.as(), "GET", "/users?source=csv", nil), 200).num("total"); n != 0 {
			t.Fatalf("dry run created %d users", n)
		}
		r = e.must(e.do(e.as(), "POST", "/users/import", good), 200)
		if r.str("applied") != "true" {
			t.Fatalf("import: %s", r.raw)
		}
		l := e.must(e.do(e.as(), "GET", "/users?source=csv&seat=true&team=Billing", nil), 200)
		if l.num("total") != 1 {
			t.Fatalf("imported: %s", l.raw)
		}
		// Over the seat limit the whole file is refused.
		seats := "email,seat\nthree@acme.example,yes\nfour@acme.example,yes\n"
		r = e.do(e.as(), "POST", "/users/import", seats)
		if r.status != 422 || !strings.Contains(string(r.raw), "seat") {
			t.Fatalf("seat overflow: %d %s", r.status, r.raw)
		}
		if n := e.must(e.do(e.as(), "GET", "/users?q=three", nil), 200).num("total"); n != 0 {
			t.Fatal("rejected import applied a row")
		}
		wantError(t, e.do(e.as(), "POST", "/users/import", "name\nx\n"), 400, "file")
		wantError(t, e.do(e.as(), "POST", "/users/import", "email,shoe size\nx@acme.example,9\n"), 400, "file")
		if r := e.do(e.as(), "POST", "/users/import", map[string]any{"email": "x"}); r.status != http.StatusUnsupportedMediaType {
			t.Fatalf("json import: %d", r.status)
		}
	})
}

func TestBulk(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 10)
		_, adminID := e.session("boss@acme.example", "Admin")
		var ids []string
		for i := range 3 {
			ids = append(ids, e.user(fmt.Sprintf("b%d@acme.example", i), map[string]any{"seat": true}))
		}
		e.must(e.do(e.as(), "POST", "/teams", map[string]any{"name": "VIP"}), 201)
		e.must(e.do(e.as(), "POST", "/users/bulk", map[string]any{"action": "add_roles", "userIds": ids, "roles": []string{"Viewer"}}), 200)
		e.must(e.do(e.as(), "POST", "/users/bulk", map[string]any{"action": "add_teams", "userIds": ids, "teams": []string{"VIP"}}), 200)
		if n := e.must(e.do(e.as(), "GET", "/users?role=viewer&team=vip", nil), 200).num("total"); n != 3 {
			t.Fatalf("bulk add: %d", n)
		}
		// Including the last Admin refuses the whole batch, naming the user.
		r := e.do(e.as(), "POST", "/users/bulk", map[string]any{"action": "deactivate", "userIds": append(append([]string{}, ids...), adminID)})
		wantError(t, r, 409, "userIds[3]")
		if n := e.must(e.do(e.as(), "GET", "/users?status=deactivated", nil), 200).num("total"); n != 0 {
			t.Fatalf("partial bulk: %d deactivated", n)
		}
		e.must(e.do(e.as(), "POST", "/users/bulk", map[string]any{"action": "deactivate", "userIds": ids}), 200)
		if u := e.must(e.do(e.as(), "GET", "/seats", nil), 200); u.num("used") != 1 {
			t.Fatalf("seats after bulk deactivate: %s", u.raw)
		}
		wantError(t, e.do(e.as(), "POST", "/users/bulk", map[string]any{"action": "explode", "userIds": ids}), 400, "action")
		wantError(t, e.do(e.as(), "POST", "/users/bulk", map[string]any{"action": "add_teams", "userIds": ids}), 400, "teams")
	})
}

func TestPolicyAuditLogins(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 3)
		p := e.must(e.do(e.as(), "PATCH", "/policy", map[string]any{"seatLimit": 5, "blockFreeMail": true,
			"blockedDomains": []string{"@Rival.example"}, "defaultRole": "viewer"}), 200)
		if p.num("seatLimit") != 5 || p.str("defaultRole") != "Viewer" || p.str("blockedDomains") != "[rival.example]" {
			t.Fatalf("policy: %s", p.raw)
		}
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "someone@gmail.com"}), 400, "email")
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "spy@rival.example"}), 400, "email")
		wantError(t, e.do(e.as(), "PATCH", "/policy", map[string]any{"defaultRole": "Pilot"}), 400, "defaultRole")
		wantError(t, e.do(e.as(), "PATCH", "/policy", map[string]any{"allowedDomains": []string{"no domain"}}), 400, "allowedDomains[0]")
		wantError(t, e.do(e.as(), "PATCH", "/policy", map[string]any{"seatLimit": -1}), 400, "seatLimit")
		id := e.user("v@acme.example", map[string]any{"seat": true})
		if u := e.must(e.do(e.as(), "GET", "/users/"+id, nil), 200); u.str("roles") != "[Viewer]" {
			t.Fatalf("default role: %s", u.raw)
		}
		e.must(e.do(e.as(), "PATCH", "/policy", map[string]any{"allowedDomains": []string{"acme.example"}}), 200)
		wantError(t, e.do(e.as(), "POST", "/users", map[string]any{"email": "x@other.example"}), 400, "email")
		wantError(t, e.do(e.as(), "PATCH", "/policy", map[string]any{"seatLimit": 0}), 400, "seatLimit")
		g := e.must(e.do(e.as(), "GET", "/policy", nil), 200)
		if g.num("seatsUsed") != 1 || len(g.list("freeMailDomains")) == 0 {
			t.Fatalf("get policy: %s", g.raw)
		}

		// Audit: filters and pages.
		a := e.must(e.do(e.as(), "GET", "/audit?action=tenant.policy&limit=1", nil), 200)
		if len(a.list("events")) != 1 || a.str("next") == "" {
			t.Fatalf("audit page: %s", a.raw)
		}
		a2 := e.must(e.do(e.as(), "GET", "/audit?action=tenant.policy&limit=1&before="+a.str("next"), nil), 200)
		if len(a2.list("events")) != 1 {
			t.Fatalf("audit page 2: %s", a2.raw)
		}
		ev := a.list("events")[0].(map[string]any)
		if ev["actorKind"] != "admin_token" || ev["after"] == nil || ev["requestId"] == "" {
			t.Fatalf("audit event: %v", ev)
		}
		wantError(t, e.do(e.as(), "GET", "/audit?since=yesterday", nil), 400, "since")

		// Login history.
		for i, res := range []string{"success", "success", "refused"} {
			err := db.InTx(ctx, func(tx provisioning.Tx) error {
				return tx.AppendLogin(ctx, &provisioning.LoginEvent{TenantID: e.tenant.ID, UserID: id, Method: "oidc", Result: res,
					IP: fmt.Sprintf("10.0.0.%d", i%2), UserAgent: "Firefox", At: e.eng.Now()})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		h := e.must(e.do(e.as(), "GET", "/users/"+id+"/logins?limit=2", nil), 200)
		if h.num("count") != 2 || h.num("failures") != 1 || len(h.list("ips")) != 2 || len(h.list("events")) != 2 || h.str("next") == "" || h.str("lastLoginAt") == "" {
			t.Fatalf("logins: %s", h.raw)
		}
		wantError(t, e.do(e.as(), "GET", "/users/nope/logins", nil), 404, "")
		wantError(t, e.do(e.as(), "GET", "/users/"+id+"/logins?limit=x", nil), 400, "limit")
	})
}
