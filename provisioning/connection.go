package provisioning

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ConnectionType is the protocol of an SSO connection.
type ConnectionType string

// The connection types.
const (
	ConnSAML ConnectionType = "saml"
	ConnOIDC ConnectionType = "oidc"
)

// Mode says how a connection's logins meet the tenant's users.
type Mode string

// The provisioning modes.
const (
	// ModeJIT creates unknown users on their first login.
	ModeJIT Mode = "jit"
	// ModePreProvisioned only lets in users that already exist (invited, CSV, admin).
	ModePreProvisioned Mode = "pre_provisioned"
	// ModeDirectory only lets in users pushed by the directory over SCIM.
	ModeDirectory Mode = "directory"
)

// Connection is an SSO connection of a tenant. Secrets (the OIDC client secret, the SAML
// SP private key) are kept sealed by the SSO door (internal/secretbox); the engine and the
// store only carry the opaque sealed bytes.
type Connection struct {
	ID       string         `json:"id"`
	TenantID string         `json:"tenantId"`
	Name     string         `json:"name"`
	Type     ConnectionType `json:"type"`
	Mode     Mode           `json:"mode"`
	// Domains are the e-mail domains this connection serves (home-realm discovery) and
	// the only domains whose e-mail it may use to link an identity to an existing user.
	Domains   []string      `json:"domains"`
	Disabled  bool          `json:"disabled,omitempty"`
	SAML      *SAMLSettings `json:"saml,omitempty"`
	OIDC      *OIDCSettings `json:"oidc,omitempty"`
	Mapping   Mapping       `json:"mapping"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
}

// SAMLSettings configure a SAML 2.0 connection (Seatbridge is the SP).
type SAMLSettings struct {
	// IdPMetadataXML is the IdP's EntityDescriptor; several signing certificates in it are
	// all accepted (rotation).
	IdPMetadataXML string `json:"idpMetadataXml"`
	// IdPMetadataURL is where the metadata was fetched from (informational, refresh).
	IdPMetadataURL string `json:"idpMetadataUrl,omitempty"`
	// SPKeySealed is the SP private key (PKCS#8 DER), sealed; SPCertPEM its certificate.
	SPKeySealed []byte `json:"spKeySealed"`
	SPCertPEM   string `json:"spCertPem"`
	// SignRequests signs the AuthnRequest.
	SignRequests bool `json:"signRequests,omitempty"`
	// AllowIdPInitiated accepts unsolicited responses (no InResponseTo).
	AllowIdPInitiated bool `json:"allowIdpInitiated,omitempty"`
	// IdPCertificatesPEM are extra IdP signing certificates accepted next to the ones in the
	// metadata, so the IdP can switch to a new certificate while the old one still signs
	// (two at once during a rotation).
	IdPCertificatesPEM []string `json:"idpCertificatesPem,omitempty"`
	// SubjectHint sends the e-mail the user typed as the AuthnRequest's Subject/NameID, a
	// login hint for IdPs that read it (Keycloak, Shibboleth, ADFS). Off by default:
	// Entra ID refuses AuthnRequests that carry a Subject.
	SubjectHint bool `json:"subjectHint,omitempty"`
}

// OIDCSettings configure an OIDC connection (Seatbridge is the relying party).
type OIDCSettings struct {
	Issuer             string   `json:"issuer"`
	ClientID           string   `json:"clientId"`
	ClientSecretSealed []byte   `json:"clientSecretSealed,omitempty"`
	Scopes             []string `json:"scopes,omitempty"`
	// UseUserinfo fetches the userinfo endpoint after the token exchange.
	UseUserinfo bool `json:"useUserinfo,omitempty"`
}

// Mapping turns IdP attributes and groups into user attributes, seats, roles and teams.
type Mapping struct {
	// Attribute names in the assertion / ID token; empty means the usual defaults.
	EmailAttr       string `json:"emailAttr,omitempty"`
	GivenNameAttr   string `json:"givenNameAttr,omitempty"`
	FamilyNameAttr  string `json:"familyNameAttr,omitempty"`
	DisplayNameAttr string `json:"displayNameAttr,omitempty"`
	GroupsAttr      string `json:"groupsAttr,omitempty"`
	// Seat true gives every user of this connection a seat on login when seats are left.
	Seat bool `json:"seat,omitempty"`
	// Rules map IdP groups to seats, roles and teams. They are applied on every login:
	// roles and teams granted by a rule are revoked when the IdP stops sending the group.
	Rules []GroupRule `json:"rules,omitempty"`
}

// GroupRule maps one IdP group (compared case-insensitively) to access.
type GroupRule struct {
	Group string   `json:"group"`
	Seat  bool     `json:"seat,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Teams []string `json:"teams,omitempty"`
}

// Grants is what a connection's mapping gives a user for a set of IdP groups.
type Grants struct {
	Seat  bool
	Roles []string
	Teams []string
}

// Evaluate applies the mapping to the groups the IdP sent.
func (m Mapping) Evaluate(groups []string) Grants {
	g := Grants{Seat: m.Seat}
	have := map[string]bool{}
	for _, x := range groups {
		have[FoldKey(x)] = true
	}
	for _, r := range m.Rules {
		if !have[FoldKey(r.Group)] {
			continue
		}
		g.Seat = g.Seat || r.Seat
		for _, role := range r.Roles {
			if !slices.Contains(g.Roles, role) {
				g.Roles = append(g.Roles, role)
			}
		}
		for _, team := range r.Teams {
			if !slices.Contains(g.Teams, team) {
				g.Teams = append(g.Teams, team)
			}
		}
	}
	return g
}

// Serves reports whether the connection serves the e-mail address's domain.
func (c *Connection) Serves(email string) bool {
	_, domain, ok := strings.Cut(FoldKey(email), "@")
	if !ok || domain == "" {
		return false
	}
	for _, d := range c.Domains {
		if FoldKey(d) == domain {
			return true
		}
	}
	return false
}

// IdentitySource is the user_roles / team source tag of roles and teams granted through
// this connection.
func (c *Connection) IdentitySource() string { return "idp:" + c.ID }

// Validate checks a connection before it is stored.
func (c *Connection) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		c.Name = string(c.Type)
	}
	switch c.Mode {
	case ModeJIT, ModePreProvisioned, ModeDirectory:
	default:
		return Invalid("mode", "must be jit, pre_provisioned or directory, not %q", c.Mode)
	}
	for i, d := range c.Domains {
		d = FoldKey(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") {
			return Invalid(fmt.Sprintf("domains[%d]", i), "%q is not a domain", c.Domains[i])
		}
		c.Domains[i] = d
	}
	switch c.Type {
	case ConnSAML:
		if c.SAML == nil || strings.TrimSpace(c.SAML.IdPMetadataXML) == "" {
			return Invalid("saml.metadata", "IdP metadata is required")
		}
		if len(c.SAML.SPKeySealed) == 0 || c.SAML.SPCertPEM == "" {
			return Invalid("saml.spKey", "an SP key and certificate are required")
		}
		c.OIDC = nil
	case ConnOIDC:
		if c.OIDC == nil || c.OIDC.Issuer == "" || c.OIDC.ClientID == "" {
			return Invalid("oidc", "issuer and client ID are required")
		}
		if !strings.HasPrefix(c.OIDC.Issuer, "https://") && !strings.HasPrefix(c.OIDC.Issuer, "http://") {
			return Invalid("oidc.issuer", "must be an http(s) URL")
		}
		c.SAML = nil
	default:
		return Invalid("type", "must be saml or oidc, not %q", c.Type)
	}
	for i, r := range c.Mapping.Rules {
		if strings.TrimSpace(r.Group) == "" {
			return Invalid(fmt.Sprintf("mapping.rules[%d].group", i), "is required")
		}
	}
	return nil
}

// Identity is the link (connection, IdP subject) → user. Links are created only by the
// engine's login rules, never from an unverified e-mail claim alone.
type Identity struct {
	TenantID     string     `json:"tenantId"`
	ConnectionID string     `json:"connectionId"`
	Subject      string     `json:"subject"`
	UserID       string     `json:"userId"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastLoginAt  *time.Time `json:"lastLoginAt,omitempty"`
	// ConnectionName and ConnectionType are filled by ListUserIdentities, for display.
	ConnectionName string         `json:"connectionName,omitempty"`
	ConnectionType ConnectionType `json:"connectionType,omitempty"`
}

// Session is a server-side Seatbridge session: the browser holds ID and secret, the
// database only a SHA-256 of the secret. Deactivation, seat removal, deletion and logout
// end it.
type Session struct {
	ID           string
	TenantID     string
	UserID       string
	SecretHash   []byte
	ConnectionID string
	// AMR is the upstream method: "saml" or "oidc".
	AMR       string
	CreatedAt time.Time
	ExpiresAt time.Time
	EndedAt   *time.Time
}

// Open reports whether the session may still be used at now.
func (s *Session) Open(now time.Time) bool { return s.EndedAt == nil && now.Before(s.ExpiresAt) }

// CreateConnection validates and stores a connection with its audit event.
func (e *Engine) CreateConnection(ctx context.Context, actor Actor, tenantID string, c *Connection) (*Connection, error) {
	now := e.now()
	if c.ID == "" {
		// The SSO door may choose the ID first: sealed secrets are bound to it.
		c.ID = e.NewID()
	}
	c.TenantID, c.CreatedAt, c.UpdatedAt = tenantID, now, now
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetTenant(ctx, tenantID); err != nil {
			return err
		}
		if err := tx.CreateConnection(ctx, c); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "connection.create", "connection", c.ID, nil, connectionSummary(c))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteConnection removes a connection and its identity links.
func (e *Engine) DeleteConnection(ctx context.Context, actor Actor, tenantID, id string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		c, err := tx.GetConnection(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteConnection(ctx, tenantID, id); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "connection.delete", "connection", id, connectionSummary(c), nil)
	})
}

// ListConnections lists a tenant's connections.
func (e *Engine) ListConnections(ctx context.Context, tenantID string) ([]Connection, error) {
	s := e.Store
	return s.ListConnections(ctx, tenantID)
}

// GetConnection returns one connection of the tenant.
func (e *Engine) GetConnection(ctx context.Context, tenantID, id string) (*Connection, error) {
	s := e.Store
	return s.GetConnection(ctx, tenantID, id)
}

// connectionSummary is the audit snapshot of a connection, without sealed secrets.
func connectionSummary(c *Connection) *Connection {
	s := *c
	if c.SAML != nil {
		x := *c.SAML
		x.SPKeySealed, x.IdPMetadataXML = nil, fmt.Sprintf("(%d bytes)", len(c.SAML.IdPMetadataXML))
		s.SAML = &x
	}
	if c.OIDC != nil {
		x := *c.OIDC
		x.ClientSecretSealed = nil
		s.OIDC = &x
	}
	return &s
}
