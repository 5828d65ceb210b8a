package scim

import (
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// A resource travels through this package as a canonical map: attribute names spelled as
// in the schema, core attributes at the top level, extension attributes in a nested map
// under the extension URN, strings/bools/[]any/map[string]any as values. Requests are
// normalised into it (case-insensitive names, URN keys, "True" strings) once, so that the
// PATCH applier, PUT and projection only ever see one shape.

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func setStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func multiValuesOut(vs []provisioning.MultiValue) []any {
	if len(vs) == 0 {
		return nil
	}
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		e := map[string]any{}
		setStr(e, "value", v.Value)
		setStr(e, "display", v.Display)
		setStr(e, "type", v.Type)
		if v.Primary {
			e["primary"] = true
		}
		out = append(out, e)
	}
	return out
}

// userResource is the full SCIM representation of u (before projection). loc is the
// URL prefix of the tenant's SCIM base ("https://host/scim/v2/acme").
func userResource(u *provisioning.User, loc string) map[string]any {
	m := map[string]any{"schemas": []any{URNUser}, "id": u.ID, "userName": u.UserName, "active": u.Active()}
	setStr(m, "externalId", u.ExternalID)
	name := map[string]any{}
	setStr(name, "formatted", u.Name.Formatted)
	setStr(name, "familyName", u.Name.FamilyName)
	setStr(name, "givenName", u.Name.GivenName)
	setStr(name, "middleName", u.Name.MiddleName)
	setStr(name, "honorificPrefix", u.Name.HonorificPrefix)
	setStr(name, "honorificSuffix", u.Name.HonorificSuffix)
	if len(name) > 0 {
		m["name"] = name
	}
	setStr(m, "displayName", u.DisplayName)
	setStr(m, "nickName", u.NickName)
	setStr(m, "profileUrl", u.ProfileURL)
	setStr(m, "title", u.Title)
	setStr(m, "userType", u.UserType)
	setStr(m, "preferredLanguage", u.PreferredLanguage)
	setStr(m, "locale", u.Locale)
	setStr(m, "timezone", u.Timezone)
	for k, vs := range map[string][]provisioning.MultiValue{"emails": u.Emails, "phoneNumbers": u.PhoneNumbers, "ims": u.IMs,
		"photos": u.Photos, "entitlements": u.Entitlements, "roles": u.SCIMRoles, "x509Certificates": u.X509Certificates} {
		if out := multiValuesOut(vs); out != nil {
			m[k] = out
		}
	}
	if len(u.Addresses) > 0 {
		addrs := make([]any, 0, len(u.Addresses))
		for _, a := range u.Addresses {
			e := map[string]any{}
			setStr(e, "formatted", a.Formatted)
			setStr(e, "streetAddress", a.StreetAddress)
			setStr(e, "locality", a.Locality)
			setStr(e, "region", a.Region)
			setStr(e, "postalCode", a.PostalCode)
			setStr(e, "country", a.Country)
			setStr(e, "type", a.Type)
			if a.Primary {
				e["primary"] = true
			}
			addrs = append(addrs, e)
		}
		m["addresses"] = addrs
	}
	if len(u.Groups) > 0 {
		gs := make([]any, 0, len(u.Groups))
		for _, g := range u.Groups {
			gs = append(gs, map[string]any{"value": g.ID, "$ref": loc + "/Groups/" + g.ID, "display": g.DisplayName, "type": "direct"})
		}
		m["groups"] = gs
	}
	ent := map[string]any{}
	e := u.Enterprise
	setStr(ent, "employeeNumber", e.EmployeeNumber)
	setStr(ent, "costCenter", e.CostCenter)
	setStr(ent, "organization", e.Organization)
	setStr(ent, "division", e.Division)
	setStr(ent, "department", e.Department)
	if e.ManagerID != "" {
		// A manager value that names no user of the tenant is returned as the directory
		// sent it, without a $ref to a resource that does not exist.
		mgr := map[string]any{"value": e.ManagerID}
		if e.ManagerIsUser {
			mgr["$ref"] = loc + "/Users/" + e.ManagerID
			setStr(mgr, "displayName", e.ManagerDisplayName)
		}
		ent["manager"] = mgr
	}
	if len(ent) > 0 {
		m[URNEnterpriseUser] = ent
		m["schemas"] = []any{URNUser, URNEnterpriseUser}
	}
	m["meta"] = map[string]any{"resourceType": "User", "created": timeString(u.CreatedAt), "lastModified": timeString(u.UpdatedAt),
		"location": loc + "/Users/" + u.ID, "version": etag(u.Version)}
	return m
}

func groupResource(g *provisioning.Group, loc string, withMembers bool) map[string]any {
	m := map[string]any{"schemas": []any{URNGroup}, "id": g.ID, "displayName": g.DisplayName}
	setStr(m, "externalId", g.ExternalID)
	if withMembers {
		ms := make([]any, 0, len(g.Members))
		for _, mem := range g.Members {
			e := map[string]any{"value": mem.UserID, "$ref": loc + "/Users/" + mem.UserID, "type": "User"}
			setStr(e, "display", mem.Display)
			ms = append(ms, e)
		}
		m["members"] = ms
	}
	m["meta"] = map[string]any{"resourceType": "Group", "created": timeString(g.CreatedAt), "lastModified": timeString(g.UpdatedAt),
		"location": loc + "/Groups/" + g.ID, "version": etag(g.Version)}
	return m
}

func getStr(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func getMap(m map[string]any, k string) map[string]any {
	x, _ := m[k].(map[string]any)
	return x
}

func getList(m map[string]any, k string) []any {
	x, _ := m[k].([]any)
	return x
}

func multiValuesIn(list []any) []provisioning.MultiValue {
	var out []provisioning.MultiValue
	for _, x := range list {
		e, ok := x.(map[string]any)
		if !ok {
			continue
		}
		mv := provisioning.MultiValue{Value: getStr(e, "value"), Display: getStr(e, "display"), Type: getStr(e, "type")}
		mv.Primary, _ = e["primary"].(bool)
		// An element whose value was cleared is gone: "empty string clears".
		if mv.Value == "" {
			continue
		}
		out = append(out, mv)
	}
	return out
}

// applyUserResource writes the client-writable attributes of the canonical map m into u,
// clearing those m lacks. Server-owned fields (id, status, seat, groups, …) stay; active is
// handled by the caller because an absent active must not deactivate.
func applyUserResource(m map[string]any, u *provisioning.User) {
	u.UserName = getStr(m, "userName")
	u.ExternalID = getStr(m, "externalId")
	name := getMap(m, "name")
	u.Name = provisioning.Name{Formatted: getStr(name, "formatted"), FamilyName: getStr(name, "familyName"), GivenName: getStr(name, "givenName"),
		MiddleName: getStr(name, "middleName"), HonorificPrefix: getStr(name, "honorificPrefix"), HonorificSuffix: getStr(name, "honorificSuffix")}
	u.DisplayName = getStr(m, "displayName")
	u.NickName = getStr(m, "nickName")
	u.ProfileURL = getStr(m, "profileUrl")
	u.Title = getStr(m, "title")
	u.UserType = getStr(m, "userType")
	u.PreferredLanguage = getStr(m, "preferredLanguage")
	u.Locale = getStr(m, "locale")
	u.Timezone = getStr(m, "timezone")
	u.Emails = multiValuesIn(getList(m, "emails"))
	u.PhoneNumbers = multiValuesIn(getList(m, "phoneNumbers"))
	u.IMs = multiValuesIn(getList(m, "ims"))
	u.Photos = multiValuesIn(getList(m, "photos"))
	u.Entitlements = multiValuesIn(getList(m, "entitlements"))
	u.SCIMRoles = multiValuesIn(getList(m, "roles"))
	u.X509Certificates = multiValuesIn(getList(m, "x509Certificates"))
	u.Addresses = nil
	for _, x := range getList(m, "addresses") {
		e, ok := x.(map[string]any)
		if !ok {
			continue
		}
		a := provisioning.Address{Formatted: getStr(e, "formatted"), StreetAddress: getStr(e, "streetAddress"), Locality: getStr(e, "locality"),
			Region: getStr(e, "region"), PostalCode: getStr(e, "postalCode"), Country: getStr(e, "country"), Type: getStr(e, "type")}
		a.Primary, _ = e["primary"].(bool)
		if (a == provisioning.Address{Type: a.Type, Primary: a.Primary}) {
			continue
		}
		u.Addresses = append(u.Addresses, a)
	}
	ent := getMap(m, URNEnterpriseUser)
	old := u.Enterprise
	u.Enterprise = provisioning.Enterprise{EmployeeNumber: getStr(ent, "employeeNumber"), CostCenter: getStr(ent, "costCenter"),
		Organization: getStr(ent, "organization"), Division: getStr(ent, "division"), Department: getStr(ent, "department")}
	if mgr := getMap(ent, "manager"); mgr != nil {
		u.Enterprise.ManagerID = getStr(mgr, "value")
		// An unchanged manager keeps its link; a new value is resolved by the engine.
		if u.Enterprise.ManagerID == old.ManagerID {
			u.Enterprise.ManagerDisplayName, u.Enterprise.ManagerIsUser = old.ManagerDisplayName, old.ManagerIsUser
		}
	}
}

// activeOf reports the active attribute of m and whether it is present.
func activeOf(m map[string]any) (active, present bool) {
	v, ok := m["active"].(bool)
	return v, ok
}

// applyActive moves the user's status for an asserted active value: false deactivates,
// true reactivates a deactivated user and leaves an invited one invited.
func applyActive(u *provisioning.User, active bool) {
	switch {
	case !active:
		u.Status = provisioning.StatusDeactivated
	case u.Status == provisioning.StatusDeactivated:
		u.Status = provisioning.StatusActive
	}
}

// normalizeResource turns a client's JSON object into the canonical map of rt. Unknown
// attributes are ignored (clients send extensions this server does not define);
// read-only ones are ignored as RFC 7643 §7 prescribes for POST and PUT; values of the
// wrong type are invalidValue.
func normalizeResource(rt *resourceType, raw map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range raw {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		urn, rest := rt.splitURN(k)
		var s *Schema
		if urn != "" {
			s = rt.schemaFor(urn)
		}
		switch {
		case s != nil && rest == "":
			obj, ok := v.(map[string]any)
			if v == nil {
				continue
			}
			if !ok {
				return nil, badRequest(scimInvalidValue, "%s must be an object", urn)
			}
			for k2, v2 := range obj {
				if err := putNormalized(rt, out, s, k2, v2); err != nil {
					return nil, err
				}
			}
		case s != nil:
			if err := putNormalized(rt, out, s, rest, v); err != nil {
				return nil, err
			}
		default:
			if err := putNormalized(rt, out, rt.Core, k, v); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func putNormalized(rt *resourceType, out map[string]any, s *Schema, key string, v any) error {
	a := s.Attr(key)
	if a == nil || a.Mutability == mutReadOnly || a.Mutability == mutWriteOnly {
		return nil
	}
	nv, err := normalizeValue(a, v)
	if err != nil {
		return err
	}
	if isEmpty(nv) {
		return nil
	}
	container(out, rt, s, true)[a.Name] = nv
	return nil
}

// container returns the map holding s's attributes inside resource m.
func container(m map[string]any, rt *resourceType, s *Schema, create bool) map[string]any {
	if s == rt.Core {
		return m
	}
	c := getMap(m, s.ID)
	if c == nil && create {
		c = map[string]any{}
		m[s.ID] = c
	}
	return c
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// normalizeValue checks v against a and returns it in canonical form. nil and "" mean
// "unassigned" and come back as nil.
func normalizeValue(a *Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // a single element where a list belongs
		}
		out := make([]any, 0, len(list))
		for _, x := range list {
			e, err := normalizeSingle(a, x)
			if err != nil {
				return nil, err
			}
			if !isEmpty(e) {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return normalizeSingle(a, v)
}

func normalizeSingle(a *Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case typeComplex:
		if list, ok := v.([]any); ok && !a.MultiValued {
			// Entra adds a manager as [{"$ref": null, "value": "id"}].
			switch len(list) {
			case 0:
				return nil, nil
			case 1:
				v = list[0]
			default:
				return nil, badRequest(scimInvalidValue, "%s takes one value", a.Name)
			}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			// Entra sends the manager as a bare id; members and emails arrive as bare strings
			// from some clients.
			if s, isStr := v.(string); isStr && a.Sub("value") != nil {
				if s == "" {
					return nil, nil
				}
				return map[string]any{"value": s}, nil
			}
			return nil, badRequest(scimInvalidValue, "%s must be an object", a.Name)
		}
		out := map[string]any{}
		for k, x := range obj {
			sub := a.Sub(k)
			if sub == nil || sub.Mutability == mutReadOnly {
				continue
			}
			nx, err := normalizeSingle(sub, x)
			if err != nil {
				return nil, err
			}
			if !isEmpty(nx) {
				out[sub.Name] = nx
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	case typeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			// Entra sends "False"/"True" for booleans; only boolean attributes get this
			// leniency.
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, badRequest(scimInvalidValue, "%s must be a boolean", a.Name)
	default:
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(scimInvalidValue, "%s must be a string", a.Name)
		}
		if s == "" {
			return nil, nil
		}
		if len(s) > 4096 {
			return nil, badRequest(scimInvalidValue, "%s is longer than 4096 characters", a.Name)
		}
		if !storableText(s) {
			return nil, badRequest(scimInvalidValue, "%s contains a NUL character", a.Name)
		}
		return s, nil
	}
}
