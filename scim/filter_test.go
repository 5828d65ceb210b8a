package scim

import (
	"errors"
	"strings"
	"testing"
)

var userFilterCases = []string{
	`userName eq "bjensen"`,
	`UserName EQ "Bjensen"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`,
	`URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT co "Sales"`,
	`externalId eq "00u1abcd"`,
	`id eq "2819c223-7f76-453a-919d-413861904646"`,
	`emails[type eq "work" and value co "@example.com"]`,
	`emails[type eq "work"].value eq "bjensen@example.com"`,
	`emails[type eq "work"].value eq "a]b" and userName sw "b"`,
	`emails[type eq "work" or type eq "home"].value eq "x"`,
	`userName eq "\u00e9\u0022"`,
	`emails co "@example.com"`,
	`emails.value sw "babs"`,
	`emails pr`,
	`emails[primary eq true]`,
	`name.familyName co "O'Malley"`,
	`title pr and userType eq "Employee"`,
	`title pr or userType eq "Intern"`,
	`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
	`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
	`meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`meta.created ge "2011-05-13T04:42:34.5+02:00"`,
	`meta.version eq "W/\"3\""`,
	`active eq true`,
	`active eq false and userName ew "@example.com"`,
	`userName eq "quote\"and\\backslash\u00e9"`,
	`manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915"`,
	`groups.value eq "g1"`,
	`addresses[type eq "work" and postalCode eq "91608"]`,
	`phoneNumbers[type eq "mobile"]`,
	// invalid
	`userName eq`,
	`userName`,
	`foo eq "x"`,
	`urn:example:custom:2.0:User:foo eq "x"`,
	`password eq "secret"`,
	`active gt true`,
	`active eq "true"`,
	`meta.created eq "yesterday"`,
	`meta.location eq "x"`,
	`userName eq 1`,
	`userName eq null`,
	`emails[foo eq "x"]`,
	`emails[type eq "work" and emails[value pr]]`,
	`name eq "x"`,
	`name[givenName eq "x"]`,
	`active co "t"`,
	`userName zz "x"`,
	`(userName eq "x"`,
	`userName eq "x" and`,
	`meta.version eq "3x"`,
	`emails[type eq "work"].value eq "x`,
	``,
}

var groupFilterCases = []string{
	`displayName eq "Sales"`,
	`DISPLAYNAME eq "sales"`,
	`externalId eq "abc"`,
	`members[value eq "u1"]`,
	`members.value eq "u1"`,
	`members eq "u1"`,
	`displayName eq "Sales" and members[value eq "u1"]`,
	`urn:ietf:params:scim:schemas:core:2.0:Group:displayName sw "S"`,
	// invalid
	`userName eq "x"`,
	`members[display co "x" and type eq "User"]`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
}

func TestFilterGolden(t *testing.T) {
	var b strings.Builder
	for _, tc := range []struct {
		name  string
		rt    *resourceType
		cases []string
	}{{"Users", userType, userFilterCases}, {"Groups", groupType, groupFilterCases}} {
		for _, in := range tc.cases {
			f, err := translateFilter(tc.rt, in)
			b.WriteString(tc.name + ": " + in + "\n")
			if err != nil {
				var se *Error
				if !errors.As(err, &se) || se.Status != 400 {
					t.Errorf("%q: want a 400 SCIM error, got %v", in, err)
				}
				b.WriteString("  => " + renderErr(err) + "\n")
				continue
			}
			b.WriteString("  => " + renderFilter(f) + "\n")
		}
	}
	checkGolden(t, "filter.golden", b.String())
}

func TestRewriteValuePathSubAttr(t *testing.T) {
	for in, want := range map[string]string{
		`emails[type eq "work"].value eq "x"`:               `emails[type eq "work" and value eq "x"]`,
		`emails[type eq "a]."].value pr or userName eq "b"`: `emails[type eq "a]." and value pr] or userName eq "b"`,
		`emails[type eq "work"].value eq "x" and title pr`:  `emails[type eq "work" and value eq "x"] and title pr`,
		`x[a eq 1].b eq 2 and y[c eq "\"]."].d ne false`:    `x[a eq 1 and b eq 2] and y[c eq "\"]." and d ne false]`,
		`emails[type eq "a" or type eq "b"].value eq "x"`:   `emails[type eq "a" or type eq "b"].value eq "x"`,
		`emails[type eq "work"]`:                            `emails[type eq "work"]`,
		`emails[type eq "work"].value eq`:                   `emails[type eq "work"].value eq`,
	} {
		got, _ := rewriteValuePathSubAttr(in)
		if got != want {
			t.Errorf("rewrite(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}
