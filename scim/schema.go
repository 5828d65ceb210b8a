package scim

import "strings"

// The schema URNs served.
const (
	URNUser             = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup            = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterpriseUser   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URNListResponse     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URNPatchOp          = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URNError            = "urn:ietf:params:scim:api:messages:2.0:Error"
	URNSearchRequest    = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	URNBulkRequest      = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	URNBulkResponse     = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	URNServiceProvider  = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URNResourceType     = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URNSchema           = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	contentTypeSCIM     = "application/scim+json"
	enterpriseFieldBase = "enterprise."
)

// Attribute types (RFC 7643 §2.3).
const (
	typeString    = "string"
	typeBoolean   = "boolean"
	typeDecimal   = "decimal"
	typeInteger   = "integer"
	typeDateTime  = "dateTime"
	typeReference = "reference"
	typeComplex   = "complex"
)

// Mutability, returned and uniqueness values (RFC 7643 §7).
const (
	mutReadOnly  = "readOnly"
	mutReadWrite = "readWrite"
	mutImmutable = "immutable"
	mutWriteOnly = "writeOnly"

	retAlways  = "always"
	retNever   = "never"
	retDefault = "default"
	retRequest = "request"

	uniqNone   = "none"
	uniqServer = "server"
	uniqGlobal = "global"
)

// Attribute is one attribute definition with its characteristics (RFC 7643 §7). The same
// definitions serve /Schemas, filter translation (caseExact, type), PATCH mutability
// checks and projection (returned), so what is advertised is what is enforced.
type Attribute struct {
	Name            string       `json:"name"`
	Type            string       `json:"type"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description"`
	Required        bool         `json:"required"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`

	// field is the provisioning.Filter vocabulary name (a collection name for multi-valued
	// attributes); empty means the attribute cannot be filtered or sorted on.
	field string
}

// Sub returns the sub-attribute named name (case-insensitive), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// Schema is one schema definition (RFC 7643 §7).
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr returns the attribute named name (case-insensitive), or nil.
func (s *Schema) Attr(name string) *Attribute {
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

func str(name, desc string, o ...func(*Attribute)) *Attribute {
	a := &Attribute{Name: name, Type: typeString, Description: desc, Mutability: mutReadWrite, Returned: retDefault, Uniqueness: uniqNone}
	for _, f := range o {
		f(a)
	}
	return a
}

func ofType(t string) func(*Attribute) { return func(a *Attribute) { a.Type = t } }
func field(f string) func(*Attribute)  { return func(a *Attribute) { a.field = f } }
func caseExact(a *Attribute)           { a.CaseExact = true }
func required(a *Attribute)            { a.Required = true }
func readOnly(a *Attribute)            { a.Mutability = mutReadOnly }
func multi(a *Attribute)               { a.MultiValued = true }
func returned(r string) func(*Attribute) {
	return func(a *Attribute) { a.Returned = r }
}
func canonical(v ...string) func(*Attribute) { return func(a *Attribute) { a.CanonicalValues = v } }
func refTypes(v ...string) func(*Attribute)  { return func(a *Attribute) { a.ReferenceTypes = v } }
func subs(s ...*Attribute) func(*Attribute) {
	return func(a *Attribute) { a.Type = typeComplex; a.SubAttributes = s }
}

// multiValue builds one of the simple multi-valued complex attributes (emails, …) whose
// elements are value/display/type/primary.
func multiValue(name, desc string, types []string, valueOpts ...func(*Attribute)) *Attribute {
	value := str("value", "The value.", append([]func(*Attribute){field("value")}, valueOpts...)...)
	return str(name, desc, multi, field(name), subs(
		value,
		str("display", "A human-readable name, primarily used for display purposes.", field("display")),
		str("type", "A label indicating the attribute's function.", canonical(types...), field("type")),
		str("primary", "A Boolean value indicating the 'primary' or preferred attribute value.", ofType(typeBoolean), field("primary")),
	))
}

func metaAttr() *Attribute {
	return str("meta", "Resource metadata.", readOnly, subs(
		str("resourceType", "The name of the resource type.", readOnly, caseExact),
		str("created", "When the resource was added.", ofType(typeDateTime), readOnly, field("meta.created")),
		str("lastModified", "When the resource was last updated.", ofType(typeDateTime), readOnly, field("meta.lastModified")),
		str("location", "The URI of the resource.", ofType(typeReference), readOnly, caseExact, refTypes("uri")),
		str("version", "The version (entity tag) of the resource.", readOnly, caseExact, field("meta.version")),
	))
}

var userSchema = &Schema{ID: URNUser, Name: "User", Description: "User Account", Attributes: []*Attribute{
	str("id", "Unique identifier of the user, assigned by the service provider.", readOnly, caseExact, returned(retAlways), func(a *Attribute) { a.Uniqueness = uniqServer }, field("id")),
	str("externalId", "Identifier of the user in the provisioning client.", caseExact, field("externalId")),
	str("userName", "Unique identifier for the user, used to sign in.", required, func(a *Attribute) { a.Uniqueness = uniqServer }, field("userName")),
	str("name", "The components of the user's real name.", subs(
		str("formatted", "The full name.", field("name.formatted")),
		str("familyName", "The family name.", field("name.familyName")),
		str("givenName", "The given name.", field("name.givenName")),
		str("middleName", "The middle name(s).", field("name.middleName")),
		str("honorificPrefix", "The honorific prefix(es).", field("name.honorificPrefix")),
		str("honorificSuffix", "The honorific suffix(es).", field("name.honorificSuffix")),
	)),
	str("displayName", "The name of the user, suitable for display.", field("displayName")),
	str("nickName", "The casual way to address the user.", field("nickName")),
	str("profileUrl", "A URI of the user's online profile.", ofType(typeReference), refTypes("external"), field("profileUrl")),
	str("title", "The user's title.", field("title")),
	str("userType", "The relationship between the organization and the user.", field("userType")),
	str("preferredLanguage", "The user's preferred written or spoken language.", field("preferredLanguage")),
	str("locale", "The user's default location.", field("locale")),
	str("timezone", "The user's time zone in IANA format.", field("timezone")),
	str("active", "The user's administrative status. false deactivates the user and frees its seat.", ofType(typeBoolean), field("active")),
	str("password", "Accepted and ignored: Seatbridge users of a directory sign in through SSO.", caseExact, returned(retNever), func(a *Attribute) { a.Mutability = mutWriteOnly }),
	multiValue("emails", "E-mail addresses of the user. Not unique: several users may share one. A value without \"@\" is stored as sent but is never mailed nor used to link a sign-in.", []string{"work", "home", "other"}),
	multiValue("phoneNumbers", "Phone numbers of the user.", []string{"work", "home", "mobile", "fax", "pager", "other"}),
	multiValue("ims", "Instant messaging addresses of the user.", []string{"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"}),
	multiValue("photos", "URLs of photos of the user.", []string{"photo", "thumbnail"}, ofType(typeReference), caseExact),
	str("addresses", "Physical mailing addresses of the user.", multi, field("addresses"), subs(
		str("formatted", "The full mailing address.", field("formatted")),
		str("streetAddress", "The street address.", field("streetAddress")),
		str("locality", "The city or locality.", field("locality")),
		str("region", "The state or region.", field("region")),
		str("postalCode", "The zip or postal code.", field("postalCode")),
		str("country", "The country name (ISO 3166-1 alpha-2).", field("country")),
		str("type", "work, home or other.", canonical("work", "home", "other"), field("type")),
		str("primary", "Whether this is the primary address.", ofType(typeBoolean), field("primary")),
	)),
	str("groups", "The groups the user belongs to; change memberships through the Group resource.", multi, readOnly, field("groups"), subs(
		str("value", "The id of the group.", readOnly, caseExact, field("value")),
		str("$ref", "The URI of the group.", ofType(typeReference), readOnly, refTypes("Group")),
		str("display", "The group's display name.", readOnly, field("display")),
		str("type", "direct.", readOnly, canonical("direct")),
	)),
	multiValue("entitlements", "Entitlements of the user.", nil),
	multiValue("roles", "Roles of the user as asserted by the directory (not Seatbridge roles).", nil),
	multiValue("x509Certificates", "Certificates of the user.", nil, ofType("binary"), caseExact),
}}

var enterpriseSchema = &Schema{ID: URNEnterpriseUser, Name: "EnterpriseUser", Description: "Enterprise User", Attributes: []*Attribute{
	str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person.", field("enterprise.employeeNumber")),
	str("costCenter", "Name of a cost center.", field("enterprise.costCenter")),
	str("organization", "Name of an organization.", field("enterprise.organization")),
	str("division", "Name of a division.", field("enterprise.division")),
	str("department", "Name of a department.", field("enterprise.department")),
	str("manager", "The user's manager. A value naming a user of the tenant (its id, else its externalId, else its userName) is stored as that user's id; any other value is stored and returned as sent. It never makes a create or replace fail.", field("enterprise.manager"), subs(
		str("value", "The id of the manager, or the value as sent when it names no user.", caseExact, field("enterprise.manager")),
		str("$ref", "The URI of the manager; only when value is a user's id.", ofType(typeReference), readOnly, refTypes("User")),
		str("displayName", "The manager's display name; only when value is a user's id.", readOnly),
	)),
}}

var groupSchema = &Schema{ID: URNGroup, Name: "Group", Description: "Group", Attributes: []*Attribute{
	str("id", "Unique identifier of the group.", readOnly, caseExact, returned(retAlways), func(a *Attribute) { a.Uniqueness = uniqServer }, field("id")),
	str("externalId", "Identifier of the group in the provisioning client.", caseExact, field("externalId")),
	str("displayName", "A human-readable name for the group.", required, field("displayName")),
	str("members", "The members of the group (users).", multi, field("members"), subs(
		str("value", "The id of the member.", caseExact, func(a *Attribute) { a.Mutability = mutImmutable }, field("value")),
		str("$ref", "The URI of the member.", ofType(typeReference), func(a *Attribute) { a.Mutability = mutImmutable }, refTypes("User")),
		str("display", "The member's display name.", readOnly, field("display")),
		str("type", "User.", func(a *Attribute) { a.Mutability = mutImmutable }, canonical("User")),
	)),
}}

func init() {
	userSchema.Attributes = append(userSchema.Attributes, metaAttr())
	groupSchema.Attributes = append(groupSchema.Attributes, metaAttr())
}

// resourceType ties a resource's core schema to its extensions.
type resourceType struct {
	Name       string
	Endpoint   string
	Core       *Schema
	Extensions []*Schema
}

var (
	userType  = &resourceType{Name: "User", Endpoint: "/Users", Core: userSchema, Extensions: []*Schema{enterpriseSchema}}
	groupType = &resourceType{Name: "Group", Endpoint: "/Groups", Core: groupSchema}
)

// schemaFor returns the core schema or extension of rt whose URN is urn (case-insensitive).
func (rt *resourceType) schemaFor(urn string) *Schema {
	if strings.EqualFold(urn, rt.Core.ID) {
		return rt.Core
	}
	for _, s := range rt.Extensions {
		if strings.EqualFold(urn, s.ID) {
			return s
		}
	}
	return nil
}

// resolve finds an attribute by optional schema URN and name (case-insensitive). Without a
// URN the core schema is searched first, then the extensions (RFC 7644 §3.10).
func (rt *resourceType) resolve(urn, name string) (*Schema, *Attribute) {
	if urn != "" {
		s := rt.schemaFor(urn)
		if s == nil {
			return nil, nil
		}
		return s, s.Attr(name)
	}
	if a := rt.Core.Attr(name); a != nil {
		return rt.Core, a
	}
	for _, s := range rt.Extensions {
		if a := s.Attr(name); a != nil {
			return s, a
		}
	}
	return nil, nil
}

// splitURN splits "urn:…:User:name.givenName" into the schema URN and the attribute path
// when the prefix is a schema of rt.
func (rt *resourceType) splitURN(key string) (urn, rest string) {
	if !strings.HasPrefix(strings.ToLower(key), "urn:") {
		return "", key
	}
	for _, s := range append([]*Schema{rt.Core}, rt.Extensions...) {
		if len(key) > len(s.ID) && strings.EqualFold(key[:len(s.ID)], s.ID) && key[len(s.ID)] == ':' {
			return s.ID, key[len(s.ID)+1:]
		}
		if strings.EqualFold(key, s.ID) {
			return s.ID, ""
		}
	}
	return "", key
}
