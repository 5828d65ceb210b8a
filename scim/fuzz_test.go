package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	scimfilter "github.com/scim2/filter-parser/v2"
)

// FuzzFilter feeds arbitrary filter text to the translation: it must never panic, and
// anything it cannot translate must be a 400 SCIM error (a 500 to Entra is the bug this
// guards against).
func FuzzFilter(f *testing.F) {
	for _, s := range userFilterCases {
		f.Add(s)
	}
	for _, s := range groupFilterCases {
		f.Add(s)
	}
	f.Add(`emails[type eq "work"].value eq "x" and emails[type eq "home"].display pr`)
	f.Add(`not(not(not(userName eq "a")))`)
	f.Add(`userName eq "\u00e9\ud83d\ude00"`)
	f.Add(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value EQ "a\"b\\c\/"`)
	f.Add(`$ref eq ""`)
	f.Fuzz(func(t *testing.T, text string) {
		if fast, ok := fastParse(text); ok && len(text) <= maxFilterLen {
			slow, err := scimfilter.ParseFilter([]byte(text))
			if err != nil {
				t.Fatalf("%q: fast path accepts what the parser rejects: %v", text, err)
			}
			if fmt.Sprint(fast) != fmt.Sprint(slow) {
				t.Fatalf("%q: fast path %v, parser %v", text, fast, slow)
			}
		}
		for _, rt := range []*resourceType{userType, groupType} {
			got, err := translateFilter(rt, text)
			if err != nil {
				var se *Error
				if !errors.As(err, &se) || se.Status != 400 || se.SCIMType != scimInvalidFilter {
					t.Fatalf("%q: want 400 invalidFilter, got %v", text, err)
				}
				continue
			}
			if got == nil {
				t.Fatalf("%q: nil filter without error", text)
			}
		}
	})
}

// FuzzPatch applies arbitrary operations to a user and to a group: no panic, errors are
// 400 SCIM errors, and a successful patch leaves a resource that renders and at most one
// primary e-mail.
func FuzzPatch(f *testing.F) {
	for _, tc := range patchCases {
		f.Add(tc.ops)
	}
	f.Add(`[{"op":"Add","path":"members","value":[{"$ref":null,"value":"a"}]}]`)
	f.Add(`[{"op":"remove","path":"members[value eq \"a\"]"}]`)
	f.Add(`[{"op":"replace","value":{"emails":[{"value":"a@b","primary":true},{"value":"c@d","primary":"True"}]}}]`)
	f.Fuzz(func(t *testing.T, body string) {
		var ops []PatchOp
		if json.Unmarshal([]byte(body), &ops) != nil || len(ops) > 50 {
			return
		}
		check := func(err error) {
			if err == nil {
				return
			}
			var se *Error
			if !errors.As(err, &se) || se.Status != 400 || se.SCIMType == "" {
				t.Fatalf("%s: want a 400 SCIM error, got %v", body, err)
			}
		}
		u := baseUser()
		err := patchUser(u, ops)
		check(err)
		if err == nil {
			primaries := 0
			for _, e := range u.Emails {
				if e.Primary {
					primaries++
				}
			}
			if primaries > 1 {
				t.Fatalf("%s: %d primary e-mails", body, primaries)
			}
			if _, err := json.Marshal(userResource(u, "https://x")); err != nil {
				t.Fatal(err)
			}
		}
		_, err = groupPatch("g1", ops)
		check(err)
	})
}
