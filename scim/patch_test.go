package scim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

func baseUser() *provisioning.User {
	return &provisioning.User{ID: "u1", UserName: "bjensen@example.com", ExternalID: "ext-1", DisplayName: "Babs Jensen",
		Name:   provisioning.Name{GivenName: "Barbara", FamilyName: "Jensen"},
		Emails: []provisioning.MultiValue{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "babs@home.example", Type: "home"}},
		Status: provisioning.StatusActive, Version: 3, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Groups:     []provisioning.GroupRef{{ID: "g1", DisplayName: "Staff"}},
		Enterprise: provisioning.Enterprise{Department: "Tour Operations", ManagerID: "m1", ManagerDisplayName: "Boss", ManagerIsUser: true}}
}

// patchUser runs ops the way the handler does inside the engine's update closure.
func patchUser(u *provisioning.User, ops []PatchOp) error {
	m := userResource(u, "https://sb.example/scim/v2/acme")
	if err := applyUserPatch(m, u.ID, ops); err != nil {
		return err
	}
	applyUserResource(m, u)
	if active, ok := activeOf(m); ok {
		applyActive(u, active)
	}
	return nil
}

var patchCases = []struct{ name, ops string }{
	{"replace simple, op in capitals", `[{"op":"Replace","path":"title","value":"Tour Guide"}]`},
	{"path-less replace merges, dotted and URN keys", `[{"op":"replace","value":{"name.givenName":"Babs","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"42","nickName":"B"}}]`},
	{"path-less with extension object and id of the resource", `[{"op":"add","value":{"id":"u1","schemas":["x"],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"CC1"}}}]`},
	{"okta deactivate", `[{"op":"replace","value":{"active":false}}]`},
	{"entra deactivate with string", `[{"op":"Replace","path":"active","value":"False"}]`},
	{"boolean string for a string attribute stays a string error", `[{"op":"Replace","path":"title","value":false}]`},
	{"string True is not a bool for title", `[{"op":"Replace","path":"title","value":"True"}]`},
	{"filtered sub-attribute replace", `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"barbara@example.com"}]`},
	{"filtered path on an absent element creates it", `[{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555 0100"}]`},
	{"filtered path with and on an absent element", `[{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"Hollywood"}]`},
	{"filtered path without a match and or-filter", `[{"op":"replace","path":"emails[type eq \"x\" or type eq \"y\"].value","value":"a@b.c"}]`},
	{"remove by filter", `[{"op":"remove","path":"emails[type eq \"home\"]"}]`},
	{"remove filtered with no match is a no-op", `[{"op":"remove","path":"emails[value eq \"nobody@example.com\"]"}]`},
	{"remove a list by values", `[{"op":"Remove","path":"emails","value":[{"value":"BABS@home.example"}]}]`},
	{"add emails appends and keeps one primary", `[{"op":"add","path":"emails","value":[{"value":"new@example.com","type":"other","primary":true}]}]`},
	{"add existing email merges", `[{"op":"add","path":"emails","value":[{"value":"babs@home.example","display":"Home"}]}]`},
	{"replace emails", `[{"op":"replace","path":"emails","value":[{"value":"only@example.com","type":"work"}]}]`},
	{"empty string clears", `[{"op":"replace","path":"displayName","value":""},{"op":"replace","path":"name.familyName","value":""}]`},
	{"empty string on filtered value removes the element", `[{"op":"replace","path":"emails[type eq \"home\"].value","value":""}]`},
	{"manager bare id", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m2"}]`},
	{"manager object", `[{"op":"Add","path":"manager","value":{"value":"m3","displayName":"ignored"}}]`},
	{"manager list with $ref null", `[{"op":"Add","path":"manager","value":[{"$ref":null,"value":"m4"}]}]`},
	{"manager cleared by empty value", `[{"op":"Replace","path":"manager","value":{"value":""}}]`},
	{"manager removed", `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`},
	{"manager.value path", `[{"op":"replace","path":"manager.value","value":"m5"}]`},
	{"whole extension removed", `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`},
	{"path with the extension URN and a value object", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"West"}}]`},
	{"case-insensitive path", `[{"op":"replace","path":"NAME.GIVENNAME","value":"B."},{"op":"replace","path":"DisplayName","value":"B. J."}]`},
	{"core URN prefix in path", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName","value":"J"}]`},
	{"primary via filter", `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`},
	{"remove sub-attribute by filter", `[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`},
	{"password is accepted and ignored", `[{"op":"replace","path":"password","value":"hunter2"}]`},
	{"unknown key in a value object is ignored", `[{"op":"replace","value":{"favouriteColour":"green","title":"T"}}]`},
	{"id of another resource", `[{"op":"replace","value":{"id":"u2"}}]`},
	{"groups are read-only", `[{"op":"add","path":"groups","value":[{"value":"g2"}]}]`},
	{"meta is read-only", `[{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}]`},
	{"manager displayName is read-only", `[{"op":"replace","path":"manager.displayName","value":"x"}]`},
	{"remove without path", `[{"op":"remove"}]`},
	{"unknown op", `[{"op":"upsert","path":"title","value":"x"}]`},
	{"invalid path", `[{"op":"replace","path":"emails[type eq","value":"x"}]`},
	{"unknown attribute path", `[{"op":"replace","path":"nope","value":"x"}]`},
	{"value filter on a single-valued attribute", `[{"op":"replace","path":"name[givenName eq \"x\"]","value":"x"}]`},
	{"bad sub-attribute in filter", `[{"op":"replace","path":"emails[nope eq \"x\"].value","value":"x"}]`},
	{"path-less value must be an object", `[{"op":"replace","value":"x"}]`},
	{"second op fails, error names it", `[{"op":"replace","path":"title","value":"x"},{"op":"remove","path":"userName"}]`},
	{"null value clears", `[{"op":"replace","path":"title","value":"x"},{"op":"replace","path":"title","value":null}]`},
	{"complex wrong type", `[{"op":"replace","path":"name","value":"x"}]`},
	{"name replace merges sub-attributes", `[{"op":"replace","path":"name","value":{"middleName":"Q","familyName":""}}]`},
}

func TestPatchGolden(t *testing.T) {
	var b strings.Builder
	for _, tc := range patchCases {
		var ops []PatchOp
		if err := json.Unmarshal([]byte(tc.ops), &ops); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		u := baseUser()
		b.WriteString("== " + tc.name + "\n" + indent(tc.ops))
		if err := patchUser(u, ops); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Errorf("%s: not a SCIM error: %v", tc.name, err)
			}
			b.WriteString("=> " + renderErr(err) + "\n\n")
			continue
		}
		res := userResource(u, "https://sb.example/scim/v2/acme")
		delete(res, "meta")
		delete(res, "groups")
		delete(res, "schemas")
		out, _ := json.Marshal(res)
		b.WriteString("=> status=" + string(u.Status) + "\n" + indent(string(out)) + "\n")
	}
	checkGolden(t, "patch.golden", b.String())
}

func TestGroupPatch(t *testing.T) {
	for _, tc := range []struct{ ops, want string }{
		{`[{"op":"replace","value":{"id":"g1","displayName":"New"}}]`, `[{"Kind":"set_display_name","Value":"New","Members":null}]`},
		{`[{"op":"Add","path":"members","value":[{"$ref":null,"value":"a"},{"value":"b"},{"value":"a"}]}]`, `[{"Kind":"add_members","Value":"","Members":["a","b"]}]`},
		{`[{"op":"Remove","path":"members","value":[{"value":"a"}]}]`, `[{"Kind":"remove_members","Value":"","Members":["a"]}]`},
		{`[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]`, `[{"Kind":"remove_members","Value":"","Members":["a","b"]}]`},
		{`[{"op":"remove","path":"members"}]`, `[{"Kind":"remove_all_members","Value":"","Members":null}]`},
		{`[{"op":"replace","path":"members","value":[]}]`, `[{"Kind":"remove_all_members","Value":"","Members":null}]`},
		{`[{"op":"replace","path":"members","value":[{"value":"c"}]}]`, `[{"Kind":"replace_members","Value":"","Members":["c"]}]`},
		{`[{"op":"replace","path":"externalId","value":""}]`, `[{"Kind":"set_external_id","Value":"","Members":null}]`},
		{`[{"op":"add","value":{"members":[{"value":"d"}]}}]`, `[{"Kind":"add_members","Value":"","Members":["d"]}]`},
		{`[{"op":"add","path":"members","value":[{"value":"g","type":"Group"}]}]`, `ERROR 400 invalidValue: only users can be group members`},
		{`[{"op":"replace","value":{"id":"other"}}]`, `ERROR 400 mutability: id is read-only`},
		{`[{"op":"replace","path":"displayName","value":""}]`, `ERROR 400 invalidValue: displayName is required and cannot be empty`},
		{`[{"op":"replace","path":"members.value","value":"x"}]`, `ERROR 400 invalidPath: sub-attributes of members cannot be patched`},
	} {
		var ops []PatchOp
		if err := json.Unmarshal([]byte(tc.ops), &ops); err != nil {
			t.Fatal(err)
		}
		got, err := groupPatch("g1", ops)
		var s string
		if err != nil {
			s = renderErr(err)
		} else {
			b, _ := json.Marshal(got)
			s = string(b)
		}
		if s != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.ops, s, tc.want)
		}
	}
}

func TestProjectionGolden(t *testing.T) {
	var b strings.Builder
	for _, tc := range []struct{ attrs, excluded string }{
		{"", ""},
		{"userName", ""},
		{"USERNAME,name.givenName,emails.value,emails.type", ""},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", ""},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ""},
		{"id,password,nope", ""},
		{"", "emails,groups,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		{"", "id,meta,schemas,name.familyName,emails.display"},
		{"", "department"},
	} {
		p := newProjection(userType, tc.attrs, tc.excluded)
		res := p.apply(userResource(baseUser(), "https://sb.example/scim/v2/acme"))
		out, _ := json.MarshalIndent(res, "", "  ")
		b.WriteString("== attributes=" + tc.attrs + " excludedAttributes=" + tc.excluded + "\n")
		b.WriteString("wants groups: " + map[bool]string{true: "yes", false: "no"}[p.wants("groups")] + "\n" + indent(string(out)) + "\n")
	}
	checkGolden(t, "projection.golden", b.String())
}

func TestErrorBodies(t *testing.T) {
	var b strings.Builder
	for _, err := range []error{
		provisioning.ErrNotFound,
		&provisioning.ConflictError{Field: "userName", Value: "x"},
		provisioning.ErrVersionMismatch,
		&provisioning.SeatLimitError{Requested: 1, Free: 0, Limit: 5},
		provisioning.Invalid("emails[0].value", "%q is not an e-mail address", "x"),
		provisioning.ErrUnsupportedFilter,
		provisioning.ErrForbidden,
		badRequest(scimInvalidPath, "unknown attribute %q", "x"),
		errSecret,
	} {
		se, _ := toSCIMError(err)
		out, _ := json.Marshal(se.body())
		b.WriteString(string(out) + "\n")
	}
	checkGolden(t, "errors.golden", b.String())
	if strings.Contains(b.String(), "hunter2") {
		t.Fatal("internal error text leaked")
	}
}
