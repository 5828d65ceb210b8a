package provisioning

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The one text rule of every door (SCIM, admin API, CSV, sign-in, tokens), checked here so
// that SQLite and PostgreSQL see the same inputs and refuse the same ones: PostgreSQL
// rejects NUL bytes and invalid UTF-8 that SQLite would store, and its B-tree indexes
// refuse entries over about 2.7 KB (SQLSTATE 54000) that SQLite would index.
const (
	// MaxText is the longest string attribute, in bytes.
	MaxText = 4096
	// MaxIndexedText is the longest string that lands in an index (userName, externalId,
	// displayName, e-mails and every other multi-valued value, group, role and team
	// names), in bytes, before and after case folding: with the tenant id and attribute
	// name beside it, an index entry stays under PostgreSQL's limit.
	MaxIndexedText = 2048
	// MaxValuesPerAttribute caps the entries of one multi-valued attribute (emails,
	// phoneNumbers, …) of a user: real directories send a handful.
	MaxValuesPerAttribute = 1000
)

// TextProblem says what is wrong with s as stored text limited to max bytes ("" when it
// is fine): NUL bytes, invalid UTF-8 and oversize strings are refused on every database.
func TextProblem(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("is longer than %d bytes", max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// Truncate cuts s to at most n bytes for storing or quoting (a user agent, an error, a
// response excerpt). A cut string drops what the cut leaves invalid, so it never ends in
// half a character that PostgreSQL would refuse.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// CheckText returns a *ValidationError for field when s breaks the text rule.
func CheckText(field, s string, max int) error {
	if p := TextProblem(s, max); p != "" {
		return &ValidationError{Field: field, Reason: p}
	}
	return nil
}

// CheckIndexed is CheckText for strings that are indexed, also after case folding (which
// can lengthen a string).
func CheckIndexed(field, s string) error {
	if err := CheckText(field, s, MaxIndexedText); err != nil {
		return err
	}
	// Folding lengthens a string by at most half (e.g. 'Ⱥ', 2 bytes, folds to 3): only
	// strings that could then pass the cap are folded to check.
	if len(s) > MaxIndexedText*2/3 && len(FoldKey(s)) > MaxIndexedText {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("is longer than %d bytes", MaxIndexedText)}
	}
	return nil
}

// checkUserText applies the text rule to every string of u.
func checkUserText(u *User) error {
	indexed := []struct {
		field, s string
	}{
		{"userName", u.UserName}, {"externalId", u.ExternalID}, {"displayName", u.DisplayName},
		{"manager", u.Enterprise.ManagerID},
	}
	for _, f := range indexed {
		if err := CheckIndexed(f.field, f.s); err != nil {
			return err
		}
	}
	plain := []struct {
		field, s string
	}{
		{"name.givenName", u.Name.GivenName}, {"name.familyName", u.Name.FamilyName},
		{"name.formatted", u.Name.Formatted}, {"name.middleName", u.Name.MiddleName},
		{"name.honorificPrefix", u.Name.HonorificPrefix}, {"name.honorificSuffix", u.Name.HonorificSuffix},
		{"nickName", u.NickName}, {"profileUrl", u.ProfileURL}, {"title", u.Title}, {"userType", u.UserType},
		{"preferredLanguage", u.PreferredLanguage}, {"locale", u.Locale}, {"timezone", u.Timezone},
		{"businessUnit", u.BusinessUnit}, {"employeeNumber", u.Enterprise.EmployeeNumber},
		{"costCenter", u.Enterprise.CostCenter}, {"organization", u.Enterprise.Organization},
		{"division", u.Enterprise.Division}, {"department", u.Enterprise.Department},
	}
	for _, f := range plain {
		if err := CheckText(f.field, f.s, MaxText); err != nil {
			return err
		}
	}
	multi := []struct {
		attr string
		vals []MultiValue
	}{
		{"emails", u.Emails}, {"phoneNumbers", u.PhoneNumbers}, {"ims", u.IMs}, {"photos", u.Photos},
		{"entitlements", u.Entitlements}, {"roles", u.SCIMRoles}, {"x509Certificates", u.X509Certificates},
	}
	for _, m := range multi {
		if len(m.vals) > MaxValuesPerAttribute {
			return Invalid(m.attr, "has %d values; at most %d are allowed", len(m.vals), MaxValuesPerAttribute)
		}
		for i, v := range m.vals {
			// Field names are built only for an error: this runs for every value of every
			// write.
			if CheckIndexed("", v.Value) != nil {
				return CheckIndexed(fmt.Sprintf("%s[%d].value", m.attr, i), v.Value)
			}
			if TextProblem(v.Display, MaxText) != "" {
				return CheckText(fmt.Sprintf("%s[%d].display", m.attr, i), v.Display, MaxText)
			}
			if TextProblem(v.Type, MaxText) != "" {
				return CheckText(fmt.Sprintf("%s[%d].type", m.attr, i), v.Type, MaxText)
			}
		}
	}
	if len(u.Addresses) > MaxValuesPerAttribute {
		return Invalid("addresses", "has %d values; at most %d are allowed", len(u.Addresses), MaxValuesPerAttribute)
	}
	for i, a := range u.Addresses {
		for _, f := range []struct{ name, s string }{{"formatted", a.Formatted}, {"streetAddress", a.StreetAddress},
			{"locality", a.Locality}, {"region", a.Region}, {"postalCode", a.PostalCode}, {"country", a.Country}, {"type", a.Type}} {
			if TextProblem(f.s, MaxText) != "" {
				return CheckText(fmt.Sprintf("addresses[%d].%s", i, f.name), f.s, MaxText)
			}
		}
	}
	return nil
}

// checkGroupText applies the text rule to a group's indexed names.
func checkGroupText(displayName, externalID string) error {
	if err := CheckIndexed("displayName", displayName); err != nil {
		return err
	}
	return CheckIndexed("externalId", externalID)
}

// checkGroupOpText applies the text rule to one group patch step.
func checkGroupOpText(op GroupOp) error {
	switch op.Kind {
	case GroupSetDisplayName:
		return CheckIndexed("displayName", op.Value)
	case GroupSetExternalID:
		return CheckIndexed("externalId", op.Value)
	}
	for i, m := range op.Members {
		if err := CheckIndexed(fmt.Sprintf("members[%d].value", i), m); err != nil {
			return err
		}
	}
	return nil
}

// checkFilterText applies the text rule to the strings a filter compares: text no stored
// value can hold is the client's error (400) on both databases alike, where case folding
// on one of them would silently turn invalid UTF-8 into U+FFFD and match nothing.
func checkFilterText(f Filter) error {
	switch x := f.(type) {
	case And:
		if err := checkFilterText(x.Left); err != nil {
			return err
		}
		return checkFilterText(x.Right)
	case Or:
		if err := checkFilterText(x.Left); err != nil {
			return err
		}
		return checkFilterText(x.Right)
	case Not:
		return checkFilterText(x.Inner)
	case Any:
		return checkFilterText(x.Where)
	case Compare:
		if s, ok := x.Value.(string); ok {
			return CheckText("filter", s, MaxText)
		}
	}
	return nil
}

// checkUserQuery applies the text rule to a user query's search text and filter.
func checkUserQuery(q UserQuery) error {
	if err := CheckText("q", q.Search, MaxText); err != nil {
		return err
	}
	return checkFilterText(q.Filter)
}
