package provisioning

import (
	"context"
	"errors"
	"fmt"
)

// ConnectionPreparer is implemented by the SSO door and wired in by cmd/seatbridge: it
// checks what only the protocol code can read (IdP metadata, certificates) and seals
// secrets bound to the connection's ID. The engine calls it before it stores anything, so
// bad metadata leaves no trace.
type ConnectionPreparer interface {
	// PrepareSAML parses the IdP metadata into c.SAML and, when c has no SP key yet,
	// generates and seals one.
	PrepareSAML(c *Connection, metadata []byte) error
	// CheckSAMLCertificate reports whether pemCert is an X.509 certificate in PEM.
	CheckSAMLCertificate(pemCert string) error
	// PrepareOIDC sets issuer and client ID and seals clientSecret (empty: unchanged).
	PrepareOIDC(c *Connection, issuer, clientID, clientSecret string) error
}

// ConnectionSpec is a requested create or change of a connection. A nil field is left as
// it is (on create: the default).
type ConnectionSpec struct {
	// ID is the new connection's ID when the caller chose it first (the set-up wizard
	// shows URLs built from it before the IdP's metadata exists); empty: a new one.
	ID       string
	Name     *string
	Type     ConnectionType
	Mode     *Mode
	Domains  *[]string
	Disabled *bool
	Mapping  *Mapping

	// SAML: the IdP metadata (already fetched when given by URL) and where it came from.
	SAMLMetadata      []byte
	SAMLMetadataURL   string
	SAMLCertificates  *[]string
	AllowIdPInitiated *bool
	SignRequests      *bool
	SubjectHint       *bool
	OIDCIssuer        *string
	OIDCClientID      *string
	OIDCClientSecret  string
	OIDCScopes        *[]string
	OIDCUseUserinfo   *bool
}

// errNoPreparer: a change that needs the SSO door (metadata, certificates, secrets) was
// asked of an engine caller that has none.
var errNoPreparer = errors.New("provisioning: no connection preparer configured")

// apply copies the spec onto c and lets the SSO door check and seal.
func (s *ConnectionSpec) apply(c *Connection, prep ConnectionPreparer, creating bool) error {
	if s.Name != nil {
		c.Name = *s.Name
	}
	if s.Mode != nil {
		c.Mode = *s.Mode
	}
	if s.Domains != nil {
		c.Domains = append([]string{}, (*s.Domains)...)
	}
	if s.Disabled != nil {
		c.Disabled = *s.Disabled
	}
	if s.Mapping != nil {
		c.Mapping = *s.Mapping
	}
	switch c.Type {
	case ConnSAML:
		if s.OIDCIssuer != nil || s.OIDCClientID != nil || s.OIDCClientSecret != "" || s.OIDCScopes != nil || s.OIDCUseUserinfo != nil {
			return Invalid("oidc", "a SAML connection has no OIDC settings")
		}
		if c.SAML == nil {
			c.SAML = &SAMLSettings{}
		}
		if s.AllowIdPInitiated != nil {
			c.SAML.AllowIdPInitiated = *s.AllowIdPInitiated
		}
		if s.SignRequests != nil {
			c.SAML.SignRequests = *s.SignRequests
		}
		if s.SubjectHint != nil {
			c.SAML.SubjectHint = *s.SubjectHint
		}
		if (s.SAMLCertificates != nil || len(s.SAMLMetadata) > 0) && prep == nil {
			return errNoPreparer
		}
		if s.SAMLCertificates != nil {
			if len(*s.SAMLCertificates) > 2 {
				return Invalid("saml.certificates", "at most two extra certificates (the current and the next one)")
			}
			for i, pc := range *s.SAMLCertificates {
				if err := prep.CheckSAMLCertificate(pc); err != nil {
					return Invalid(fmt.Sprintf("saml.certificates[%d]", i), "%v", err)
				}
			}
			c.SAML.IdPCertificatesPEM = append([]string{}, (*s.SAMLCertificates)...)
		}
		if len(s.SAMLMetadata) > 0 {
			if s.SAMLMetadataURL != "" {
				c.SAML.IdPMetadataURL = s.SAMLMetadataURL
			}
			if err := prep.PrepareSAML(c, s.SAMLMetadata); err != nil {
				return err
			}
		} else if creating {
			return Invalid("saml.metadata", "IdP metadata is required (metadataXml or metadataUrl)")
		}
	case ConnOIDC:
		if len(s.SAMLMetadata) > 0 || s.SAMLCertificates != nil || s.AllowIdPInitiated != nil || s.SignRequests != nil || s.SubjectHint != nil {
			return Invalid("saml", "an OIDC connection has no SAML settings")
		}
		if c.OIDC == nil {
			c.OIDC = &OIDCSettings{}
		}
		if s.OIDCScopes != nil {
			c.OIDC.Scopes = append([]string{}, (*s.OIDCScopes)...)
		}
		if s.OIDCUseUserinfo != nil {
			c.OIDC.UseUserinfo = *s.OIDCUseUserinfo
		}
		if s.OIDCIssuer == nil && s.OIDCClientID == nil && s.OIDCClientSecret == "" && !creating {
			break
		}
		if prep == nil {
			return errNoPreparer
		}
		issuer, clientID := c.OIDC.Issuer, c.OIDC.ClientID
		if s.OIDCIssuer != nil {
			issuer = *s.OIDCIssuer
		}
		if s.OIDCClientID != nil {
			clientID = *s.OIDCClientID
		}
		if err := prep.PrepareOIDC(c, issuer, clientID, s.OIDCClientSecret); err != nil {
			return err
		}
	default:
		return Invalid("type", "must be saml or oidc, not %q", c.Type)
	}
	return nil
}

// CreateConnectionFrom builds a connection from a spec (the admin API's and the set-up
// wizard's way in), checks and seals it through the SSO door, and stores it with its
// audit event. Nothing is stored when any part is refused.
func (e *Engine) CreateConnectionFrom(ctx context.Context, actor Actor, tenantID string, spec ConnectionSpec, prep ConnectionPreparer) (*Connection, error) {
	id := spec.ID
	if id == "" {
		id = e.NewID()
	}
	c := &Connection{ID: id, Type: spec.Type, Mode: ModeJIT, Domains: []string{}}
	if err := spec.apply(c, prep, true); err != nil {
		return nil, err
	}
	return e.CreateConnection(ctx, actor, tenantID, c)
}

// UpdateConnection changes a connection from a spec in one transaction with its audit
// event (before and after, without secrets). The type cannot change.
func (e *Engine) UpdateConnection(ctx context.Context, actor Actor, tenantID, id string, spec ConnectionSpec, prep ConnectionPreparer) (*Connection, error) {
	var out *Connection
	err := e.Store.InTx(ctx, func(tx Tx) error {
		c, err := tx.GetConnection(ctx, tenantID, id)
		if err != nil {
			return err
		}
		before := connectionSummary(c)
		if spec.Type != "" && spec.Type != c.Type {
			return Invalid("type", "cannot change a connection's type; create a new connection")
		}
		if err := spec.apply(c, prep, false); err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		c.UpdatedAt = e.now()
		if err := tx.UpdateConnection(ctx, c); err != nil {
			return err
		}
		out = c
		action := "connection.update"
		if spec.Disabled != nil && *spec.Disabled != before.Disabled {
			action = map[bool]string{true: "connection.disable", false: "connection.enable"}[*spec.Disabled]
		}
		return e.audit(ctx, tx, actor, tenantID, action, "connection", id, before, connectionSummary(c))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConnectionView is a connection as an admin sees it: no sealed secrets, the metadata's
// size instead of its text, whether a client secret is set.
func ConnectionView(c *Connection) *Connection { return connectionSummary(c) }
