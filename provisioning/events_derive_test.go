package provisioning

import (
	"encoding/json"
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
