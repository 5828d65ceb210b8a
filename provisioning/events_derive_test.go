package provisioning

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// deriveEvents turns each audited action into its typed events, the back-channel logouts
// they call for, and nothing for actions without a public event.
func TestDeriveEvents(t *testing.T) {
	seated := `{"id":"u1","userName":"ada","status":"active","seat":true,"roles":["Agent"],"teams":["T1"]}`
	unseated := `{"id":"u1","userName":"ada","status":"deactivated","seat":false,"roles":["Agent"],"teams":["T1"]}`
	for _, tc := range []struct {
		action, before, after string
		want                  string // type[/logout[/sid]] …
	}{
		{"user.create", "", seated, "user.created"},
		{"user.deactivate", seated, unseated, "user.deactivated/deactivated seat.freed"},
		{"user.delete", seated, "", "user.deleted/deleted seat.freed"},
		{"user.reactivate", unseated, seated, "user.reactivated"},
		{"seat.unassign", `{"seat":true}`, `{"seat":false}`, "seat.freed/seat_freed"},
		{"seat.assign", `{"seat":false}`, `{"seat":true,"roles":["Agent"]}`, "seat.assigned role.granted"},
		{"user.roles", `{"roles":["Agent","Viewer"]}`, `{"roles":["Agent","Admin"]}`, "role.granted role.revoked"},
		{"user.teams", `{"teams":[]}`, `{"teams":["T1"]}`, "team.member_added"},
		{"user.access.idp", `{"Roles":["Agent"],"Teams":null}`, `{"Roles":["Agent"],"Teams":["T2"]}`, "team.member_added"},
		{"team.members.add", "", `{"userIds":["u1","u2"]}`, "team.member_added team.member_added"},
		{"session.end", "", `{"sessionId":"s1"}`, "session.ended/signed_out/s1"},
		{"session.end", "", `{"others":2,"kept":"s0"}`, "session.ended"},
		{"invitation.create", "", `{"id":"i1","userId":"u1","email":"a@x.test"}`, "invitation.created"},
		{"token.create", "", `{"id":"t1"}`, ""},
		{"tenant.update", "{}", "{}", ""},
	} {
		raw := func(s string) []byte {
			if s == "" {
				return nil
			}
			return []byte(s)
		}
		ds, err := deriveEvents(tc.action, "u1", raw(tc.before), raw(tc.after))
		if err != nil {
			t.Fatalf("%s: %v", tc.action, err)
		}
		var got []string
		for _, d := range ds {
			s := d.typ
			if d.logout != "" {
				s += "/" + string(d.logout)
				if d.sessionID != "" {
					s += "/" + d.sessionID
				}
			}
			got = append(got, s)
			if _, err := json.Marshal(d.data); err != nil {
				t.Errorf("%s: data: %v", tc.action, err)
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s: %q, want %q", tc.action, g, tc.want)
		}
	}
}

// The audit derives the events of user records from the structs (userSnaps), not from
// their JSON snapshots parsed back: both must give the same events for every user action.
func TestDeriveEventsFromUsersMatchesJSON(t *testing.T) {
	ada := &User{ID: "u1", UserName: "ada", Status: StatusActive, Version: 3}
	full := &User{ID: "u1", UserName: "ada", ExternalID: "x1", DisplayName: "Ada L", Status: StatusActive, Source: "scim",
		ManagedByIdP: true, Seat: true, Version: 4, Roles: []string{"Agent", "Admin"}, Teams: []string{"T1"},
		Emails: []MultiValue{{Value: "a@x.test", Type: "work"}, {Value: "ada@x.test", Primary: true}}}
	empty := &User{ID: "u1", UserName: "ada", Status: StatusDeactivated, Roles: []string{}, Teams: []string{}, Emails: []MultiValue{}}
	deact := *full
	deact.Status, deact.Seat, deact.Roles = StatusDeactivated, false, []string{"Agent"}
	users := []*User{nil, ada, full, empty, &deact}
	actions := []string{"user.create", "user.import", "user.update", "user.deactivate", "user.reactivate", "user.delete",
		"seat.assign", "seat.unassign", "user.roles.grant", "user.roles", "user.teams", "user.access.idp"}
	for _, action := range actions {
		for _, b := range users {
			for _, a := range users {
				if b == nil && a == nil {
					continue
				}
				bj, err := snapshot(b)
				if err != nil {
					t.Fatal(err)
				}
				aj, err := snapshot(a)
				if err != nil {
					t.Fatal(err)
				}
				bs, as, ok := userSnaps(b, a)
				if !ok {
					t.Fatalf("userSnaps refused users")
				}
				// Pairs the engine never audits (a create without its user) may panic: they
				// must do so both ways.
				var want, got []derived
				var werr, gerr error
				wp := panics(func() { want, werr = deriveEvents(action, "u1", bj, aj) })
				gp := panics(func() { got, gerr = deriveFrom(action, "u1", bs, as, bj, aj) })
				if wp != gp || (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
					t.Fatalf("%s %s → %s: from structs %+v (%v), from JSON %+v (%v)", action, bj, aj, got, gerr, want, werr)
				}
			}
		}
	}
	if _, _, ok := userSnaps(&Group{}, nil); ok {
		t.Fatal("userSnaps took a group")
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}
