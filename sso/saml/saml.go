// Package saml is Seatbridge's SAML 2.0 service provider on github.com/crewjam/saml: one
// saml.ServiceProvider per connection (never the samlsp middleware), per-connection SP
// metadata, SP-initiated login over HTTP-Redirect (optionally signed), the ACS over
// HTTP-POST, and the checks crewjam/saml leaves to its caller: InResponseTo against request
// IDs kept in the database, single use of every assertion ID (replay cache in the
// database), IdP-initiated login only when the connection allows it, and exactly one
// assertion per response (no signature-wrapping games).
//
// It is a verifier behind provisioning.SignInProtocol: Begin builds the AuthnRequest,
// ReadAnswer decodes and prechecks a posted response (once), Verify has crewjam check it.
// The sign-in door (package sso) owns the routes, the request IDs kept in the database,
// their browser binding and the replay cache (whose entry the engine writes in the
// login's transaction). It imports provisioning only (where that
// contract lives); it must not import sso, store, scim or admin.
package saml

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	"github.com/google/uuid"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
)

// defaultIssueDelay is crewjam/saml's default MaxIssueDelay.
const defaultIssueDelay = 90 * time.Second

// SP implements provisioning.SignInProtocol (and provisioning.MetadataProtocol) for SAML
// connections.
type SP struct {
	// Box opens the connections' sealed SP keys.
	Box *secretbox.Box
	// parsed caches each connection's opened key, certificate, IdP metadata and the
	// crewjam ServiceProvider built from them: opening the sealed key, RSA precomputation
	// and metadata parsing cost more than the rest of a login page. Entries are checked
	// against a fingerprint of the connection as read from the database for this request
	// (its key, certificates and metadata, not only its updated_at), so an edit made on any
	// replica, or a connection deleted and re-created under its ID, is parsed afresh at
	// once; the cache holds nothing that is not also in the database.
	parsed sync.Map // connection id → *spParts
}

type spParts struct {
	fingerprint [32]byte
	signer      crypto.Signer
	cert        *x509.Certificate
	idp         *crewsaml.EntityDescriptor
	// sp is the ServiceProvider built from these parts at the endpoints it was last asked
	// for (one connection has one set of endpoints per door); never changed once stored.
	sp atomic.Pointer[builtSP]
}

type builtSP struct {
	ep provisioning.Endpoints
	sp *crewsaml.ServiceProvider
}

func connFingerprint(c *provisioning.Connection) [32]byte {
	h := sha256.New()
	parts := [][]byte{c.SAML.SPKeySealed, []byte(c.SAML.SPCertPEM), []byte(c.SAML.IdPMetadataXML)}
	for _, extra := range c.SAML.IdPCertificatesPEM {
		parts = append(parts, []byte(extra))
	}
	for _, part := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// New returns the SAML protocol over box. clockSkew, when positive, sets crewjam/saml's
// package-wide allowed clock skew (it is a global in that library).
//
// The skew bounds IssueInstant in both directions: a message issued more than the skew in
// the future is refused here (notFuture), and crewjam's MaxIssueDelay (how old an
// IssueInstant may be) becomes its 90 s default plus the skew.
func New(box *secretbox.Box, clockSkew time.Duration) *SP {
	if clockSkew > 0 {
		crewsaml.MaxClockSkew = clockSkew
		crewsaml.MaxIssueDelay = defaultIssueDelay + clockSkew
	}
	return &SP{Box: box}
}

// ServiceProvider returns the crewjam/saml SP of one connection at the door's endpoints:
// a copy of the one built when the connection (as stored now) was first seen at these
// endpoints, so a caller may change its copy (Verify allows IdP-initiated logins on it).
func (p *SP) ServiceProvider(c *provisioning.Connection, ep provisioning.Endpoints) (*crewsaml.ServiceProvider, error) {
	if c.SAML == nil {
		return nil, errors.New("connection has no SAML settings")
	}
	parts, err := p.parts(c)
	if err != nil {
		return nil, err
	}
	if built := parts.sp.Load(); built != nil && built.ep == ep {
		sp := *built.sp
		return &sp, nil
	}
	meta, err := url.Parse(ep.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata URL: %w", err)
	}
	acs, err := url.Parse(ep.Answer)
	if err != nil {
		return nil, fmt.Errorf("ACS URL: %w", err)
	}
	sp := &crewsaml.ServiceProvider{
		EntityID:          meta.String(),
		Key:               parts.signer,
		Certificate:       parts.cert,
		MetadataURL:       *meta,
		AcsURL:            *acs,
		IDPMetadata:       parts.idp,
		AuthnNameIDFormat: crewsaml.UnspecifiedNameIDFormat,
		AllowIDPInitiated: false,
	}
	if c.SAML.SignRequests {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	parts.sp.Store(&builtSP{ep: ep, sp: sp})
	cp := *sp
	return &cp, nil
}

// parts returns the opened key, certificate and IdP metadata of a connection.
func (p *SP) parts(c *provisioning.Connection) (*spParts, error) {
	fp := connFingerprint(c)
	if v, ok := p.parsed.Load(c.ID); ok && v.(*spParts).fingerprint == fp {
		return v.(*spParts), nil
	}
	keyDER, err := p.Box.Open(c.SAML.SPKeySealed, SPKeyContext(c.ID))
	if err != nil {
		return nil, fmt.Errorf("open SP key: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("parse SP key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("SP key cannot sign")
	}
	block, _ := pem.Decode([]byte(c.SAML.SPCertPEM))
	if block == nil {
		return nil, errors.New("SP certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse SP certificate: %w", err)
	}
	idp, err := ParseMetadata([]byte(c.SAML.IdPMetadataXML))
	if err != nil {
		return nil, err
	}
	if err := addSigningCerts(idp, c.SAML.IdPCertificatesPEM); err != nil {
		return nil, err
	}
	parts := &spParts{fingerprint: fp, signer: signer, cert: cert, idp: idp}
	p.parsed.Store(c.ID, parts)
	return parts, nil
}

// addSigningCerts adds extra IdP signing certificates (a rotation's next certificate) to
// every IdP SSO descriptor, so crewjam/saml accepts a signature by any of them.
func addSigningCerts(idp *crewsaml.EntityDescriptor, pems []string) error {
	for _, p := range pems {
		der, err := certDER(p)
		if err != nil {
			return err
		}
		kd := crewsaml.KeyDescriptor{Use: "signing", KeyInfo: crewsaml.KeyInfo{X509Data: crewsaml.X509Data{
			X509Certificates: []crewsaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(der)}}}}}
		for i := range idp.IDPSSODescriptors {
			idp.IDPSSODescriptors[i].KeyDescriptors = append(idp.IDPSSODescriptors[i].KeyDescriptors, kd)
		}
	}
	return nil
}

// certDER decodes one PEM X.509 certificate.
func certDER(p string) ([]byte, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %w", err)
	}
	return block.Bytes, nil
}

// CheckCertificate reports whether p is one PEM X.509 certificate.
func CheckCertificate(p string) error {
	_, err := certDER(p)
	return err
}

// SPKeyContext is the secretbox context of a connection's SP key.
func SPKeyContext(connectionID string) string { return "saml-sp-key:" + connectionID }

// ParseMetadata reads an EntityDescriptor, or the first IdP of an EntitiesDescriptor.
func ParseMetadata(data []byte) (*crewsaml.EntityDescriptor, error) {
	var ed crewsaml.EntityDescriptor
	if err := xml.Unmarshal(data, &ed); err == nil && len(ed.IDPSSODescriptors) > 0 {
		return &ed, nil
	}
	var eds crewsaml.EntitiesDescriptor
	if err := xml.Unmarshal(data, &eds); err != nil {
		return nil, fmt.Errorf("parse IdP metadata: %w", err)
	}
	for i := range eds.EntityDescriptors {
		if len(eds.EntityDescriptors[i].IDPSSODescriptors) > 0 {
			return &eds.EntityDescriptors[i], nil
		}
	}
	return nil, errors.New("parse IdP metadata: no IDPSSODescriptor")
}

// Begin builds an AuthnRequest over HTTP-Redirect; its ID is the login's key, which the
// response's InResponseTo names again. With the connection's SubjectHint, LoginHint goes
// to the IdP as the request's Subject/NameID.
func (p *SP) Begin(_ context.Context, br provisioning.BeginRequest) (*provisioning.Start, error) {
	c := br.Conn
	sp, err := p.ServiceProvider(c, br.Endpoints)
	if err != nil {
		return nil, err
	}
	loc := sp.GetSSOBindingLocation(crewsaml.HTTPRedirectBinding)
	if loc == "" {
		return nil, errors.New("IdP metadata has no HTTP-Redirect SSO location")
	}
	req, err := sp.MakeAuthenticationRequest(loc, crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
	if err != nil {
		return nil, fmt.Errorf("authn request: %w", err)
	}
	if br.LoginHint != "" && c.SAML.SubjectHint {
		// SAML core §3.4.1: a Subject in an AuthnRequest names the principal the
		// requester wants authenticated (Keycloak, Shibboleth and ADFS use it as a
		// login hint; Entra ID refuses requests that carry one, hence the opt-in).
		req.Subject = &crewsaml.Subject{NameID: &crewsaml.NameID{Format: string(crewsaml.EmailAddressNameIDFormat), Value: br.LoginHint}}
	}
	u, err := req.Redirect(req.ID, sp)
	if err != nil {
		return nil, fmt.Errorf("authn request redirect: %w", err)
	}
	return &provisioning.Start{Redirect: u.String(), Key: req.ID}, nil
}

// answer is a posted SAMLResponse, decoded and prechecked once.
type answer struct {
	raw          []byte
	issued       time.Time
	inResponseTo string
}

func (a *answer) Key() string { return a.inResponseTo }

// ReadAnswer decodes the posted SAMLResponse and prechecks it (see precheck).
func (p *SP) ReadAnswer(r *http.Request) (provisioning.Answer, error) {
	if r.Form.Get("SAMLart") != "" {
		return nil, errors.New("artifact binding is not supported")
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil || len(raw) == 0 {
		return nil, errors.New("SAMLResponse is not base64")
	}
	issued, inResponseTo, err := precheck(raw)
	if err != nil {
		return nil, err
	}
	return &answer{raw: raw, issued: issued, inResponseTo: inResponseTo}, nil
}

// Verify has crewjam/saml check the response (signature, audience, conditions,
// InResponseTo against the door's request), refuses an IssueInstant in the future, and
// names the assertion for the door's replay cache. An unsolicited response
// (IdP-initiated) is accepted only when the connection allows it.
func (p *SP) Verify(_ context.Context, vr provisioning.VerifyRequest) (*provisioning.Verified, error) {
	a, ok := vr.Answer.(*answer)
	if !ok {
		return nil, errors.New("not a SAML answer")
	}
	c := vr.Conn
	if err := notFuture("response", a.issued, vr.Now); err != nil {
		return nil, err
	}
	sp, err := p.ServiceProvider(c, vr.Endpoints)
	if err != nil {
		return nil, err
	}
	var possible []string
	if a.inResponseTo == "" {
		if !c.SAML.AllowIdPInitiated {
			return nil, errors.New("IdP-initiated login is disabled on this connection")
		}
		sp.AllowIDPInitiated = true
	} else {
		possible = []string{a.inResponseTo}
	}
	assertion, err := sp.ParseXMLResponse(a.raw, possible, sp.AcsURL)
	if err != nil {
		var ire *crewsaml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		return nil, fmt.Errorf("invalid SAML response: %w", err)
	}
	if err := notFuture("assertion", assertion.IssueInstant, vr.Now); err != nil {
		return nil, err
	}
	if assertion.ID == "" {
		return nil, errors.New("assertion has no ID")
	}
	return &provisioning.Verified{Claims: claimsOf(c, assertion), Attributes: attributesOf(assertion),
		ReplayKey: assertion.ID, ReplayUntil: replayUntil(assertion, vr.Now)}, nil
}

// precheck reads the response once before crewjam does: it must carry no DOCTYPE (no
// IdP sends one; a DTD is the door to entity expansion and external entities, so any
// directive is refused, not parsed), and be a Response holding exactly one Assertion or
// EncryptedAssertion anywhere in the document (a second one is the signature-wrapping
// pattern). It yields the Response's IssueInstant and InResponseTo. A response of the
// plain shape IdPs send is read by scanSimple in one pass; any other is parsed into a
// tree (treeFacts), which decides exactly as before.
func precheck(raw []byte) (time.Time, string, error) {
	var zero time.Time
	facts, ok := scanSimple(raw)
	if !ok {
		var err error
		if facts, err = treeFacts(raw); err != nil {
			return zero, "", err
		}
	}
	if facts.rootLocal != "Response" || facts.rootNS != nsProtocol {
		return zero, "", errors.New("SAMLResponse is not a samlp:Response")
	}
	if facts.assertions != 1 {
		return zero, "", fmt.Errorf("response holds %d assertions, want exactly 1", facts.assertions)
	}
	if len(facts.inResponseTo) > 256 {
		return zero, "", errors.New("InResponseTo is too long")
	}
	issued, err := parseInstant(facts.issueInstant)
	if err != nil {
		return zero, "", fmt.Errorf("response IssueInstant: %w", err)
	}
	return issued, facts.inResponseTo, nil
}

// treeFacts parses raw into a tree and reads what precheck needs; it refuses a document
// that is not XML or carries a directive.
func treeFacts(raw []byte) (scanResult, error) {
	var facts scanResult
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return facts, fmt.Errorf("SAMLResponse is not XML: %w", err)
	}
	if hasDirective(&doc.Element) {
		return facts, errors.New("SAMLResponse carries a DOCTYPE or other markup declaration")
	}
	root := doc.Root()
	if root == nil {
		return facts, errors.New("SAMLResponse is not a samlp:Response")
	}
	facts.rootLocal, facts.rootNS = root.Tag, root.NamespaceURI()
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if (e.Tag == "Assertion" || e.Tag == "EncryptedAssertion") && e.NamespaceURI() == nsAssertion {
			facts.assertions++
		}
		for _, ch := range e.ChildElements() {
			walk(ch)
		}
	}
	walk(root)
	facts.inResponseTo = root.SelectAttrValue("InResponseTo", "")
	facts.issueInstant = root.SelectAttrValue("IssueInstant", "")
	return facts, nil
}

// parseInstant reads an xs:dateTime; SAML requires UTC, so one without a zone is UTC.
func parseInstant(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04:05.999999999", v)
	}
	return t, err
}

// hasDirective reports whether a <!…> declaration (DOCTYPE, ENTITY, …) occurs anywhere in
// the tree.
func hasDirective(e *etree.Element) bool {
	for _, tok := range e.Child {
		switch t := tok.(type) {
		case *etree.Directive:
			return true
		case *etree.Element:
			if hasDirective(t) {
				return true
			}
		}
	}
	return false
}

// notFuture refuses an IssueInstant later than now plus the allowed clock skew.
// crewjam/saml bounds IssueInstant only in the past (MaxIssueDelay); a message issued in
// the future is either a broken clock beyond --saml-clock-skew or a response minted to
// outlive its validity window, and is refused either way.
func notFuture(what string, issued, now time.Time) error {
	if issued.After(now.Add(crewsaml.MaxClockSkew)) {
		return fmt.Errorf("%s IssueInstant %s is in the future (now %s, allowed skew %s)", what,
			issued.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), crewsaml.MaxClockSkew)
	}
	return nil
}

// replayUntil is how long an assertion ID must be remembered: as long as crewjam could
// still accept the assertion.
func replayUntil(a *crewsaml.Assertion, now time.Time) time.Time {
	until := a.IssueInstant.Add(crewsaml.MaxIssueDelay + crewsaml.MaxClockSkew)
	if a.Conditions != nil && a.Conditions.NotOnOrAfter.Add(crewsaml.MaxClockSkew).After(until) {
		until = a.Conditions.NotOnOrAfter.Add(crewsaml.MaxClockSkew)
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if sc.SubjectConfirmationData != nil && sc.SubjectConfirmationData.NotOnOrAfter.Add(crewsaml.MaxClockSkew).After(until) {
				until = sc.SubjectConfirmationData.NotOnOrAfter.Add(crewsaml.MaxClockSkew)
			}
		}
	}
	if until.Before(now.Add(time.Minute)) {
		until = now.Add(time.Minute)
	}
	return until
}

// Attribute names tried when the connection's mapping names none (Okta, Entra ID, LDAP).
var (
	emailAttrs = []string{"email", "mail", "emailaddress", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
		"urn:oid:0.9.2342.19200300.100.1.3", "user.email"}
	givenAttrs = []string{"firstName", "givenName", "given_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
		"urn:oid:2.5.4.42"}
	familyAttrs = []string{"lastName", "surname", "sn", "family_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
		"urn:oid:2.5.4.4"}
	displayAttrs = []string{"displayName", "name", "http://schemas.microsoft.com/identity/claims/displayname", "urn:oid:2.16.840.1.113730.3.1.241"}
	groupAttrs   = []string{"groups", "memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"}
)

// attributesOf lists every attribute of the assertion by name (the test sign-in shows
// them), with the NameID as "NameID".
func attributesOf(a *crewsaml.Assertion) map[string][]string {
	out := map[string][]string{}
	if a.Subject != nil && a.Subject.NameID != nil {
		out["NameID"] = []string{a.Subject.NameID.Value}
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				out[at.Name] = append(out[at.Name], v.Value)
			}
		}
	}
	return out
}

func claimsOf(c *provisioning.Connection, a *crewsaml.Assertion) provisioning.Claims {
	values := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				if s := strings.TrimSpace(v.Value); s != "" {
					values[strings.ToLower(at.Name)] = append(values[strings.ToLower(at.Name)], s)
					if at.FriendlyName != "" {
						values[strings.ToLower(at.FriendlyName)] = append(values[strings.ToLower(at.FriendlyName)], s)
					}
				}
			}
		}
	}
	pick := func(custom string, names []string) []string {
		if custom != "" {
			return values[strings.ToLower(custom)]
		}
		for _, n := range names {
			if v := values[strings.ToLower(n)]; len(v) > 0 {
				return v
			}
		}
		return nil
	}
	first := func(v []string) string {
		if len(v) > 0 {
			return v[0]
		}
		return ""
	}
	m := c.Mapping
	cl := provisioning.Claims{
		Email:         first(pick(m.EmailAttr, emailAttrs)),
		EmailVerified: true,
		GivenName:     first(pick(m.GivenNameAttr, givenAttrs)),
		FamilyName:    first(pick(m.FamilyNameAttr, familyAttrs)),
		DisplayName:   first(pick(m.DisplayNameAttr, displayAttrs)),
		Groups:        pick(m.GroupsAttr, groupAttrs),
	}
	if a.Subject != nil && a.Subject.NameID != nil {
		cl.Subject = strings.TrimSpace(a.Subject.NameID.Value)
		if cl.Email == "" && strings.Contains(cl.Subject, "@") &&
			(a.Subject.NameID.Format == string(crewsaml.EmailAddressNameIDFormat) || a.Subject.NameID.Format == "") {
			cl.Email = cl.Subject
		}
	}
	return cl
}

// Metadata returns the SP metadata XML of a connection at the door's endpoints.
func (p *SP) Metadata(c *provisioning.Connection, ep provisioning.Endpoints) ([]byte, error) {
	sp, err := p.ServiceProvider(c, ep)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(sp.Metadata()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Prepare fills the SAML settings of a new connection: it checks the IdP metadata, gives
// the connection an ID when it has none, creates an SP key and self-signed certificate
// when keyPEM is empty (PKCS#8 otherwise) and seals the key for that ID.
func Prepare(box *secretbox.Box, c *provisioning.Connection, idpMetadata, keyPEM, certPEM []byte) error {
	if _, err := ParseMetadata(idpMetadata); err != nil {
		return provisioning.Invalid("metadata", "%v", err)
	}
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if len(keyPEM) == 0 && c.SAML != nil && len(c.SAML.SPKeySealed) > 0 {
		// New IdP metadata for an existing connection keeps its SP key: the IdP trusts it.
		c.Type = provisioning.ConnSAML
		c.SAML.IdPMetadataXML = string(idpMetadata)
		return nil
	}
	var der []byte
	if len(keyPEM) == 0 {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fmt.Errorf("generate SP key: %w", err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "seatbridge-sp-" + c.ID},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
		cder, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return fmt.Errorf("SP certificate: %w", err)
		}
		certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cder})
		if der, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			return err
		}
	} else {
		block, _ := pem.Decode(keyPEM)
		if block == nil {
			return provisioning.Invalid("spKey", "not PEM")
		}
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return provisioning.Invalid("spKey", "want a PKCS#8 private key: %v", err)
		}
		der = block.Bytes
	}
	sealed, err := box.Seal(der, SPKeyContext(c.ID))
	if err != nil {
		return err
	}
	if c.SAML == nil {
		c.SAML = &provisioning.SAMLSettings{}
	}
	c.Type = provisioning.ConnSAML
	c.SAML.IdPMetadataXML, c.SAML.SPKeySealed, c.SAML.SPCertPEM = string(idpMetadata), sealed, string(certPEM)
	return nil
}

// Preparer checks and seals the SAML side of connections made through the admin API and
// the set-up wizard (provisioning.ConnectionPreparer, together with oidc.Preparer).
type Preparer struct{ Box *secretbox.Box }

// PrepareSAML parses the IdP metadata into c and seals a new SP key unless c has one.
func (p Preparer) PrepareSAML(c *provisioning.Connection, metadata []byte) error {
	return Prepare(p.Box, c, metadata, nil, nil)
}

// CheckSAMLCertificate reports whether pemCert is one PEM X.509 certificate.
func (p Preparer) CheckSAMLCertificate(pemCert string) error { return CheckCertificate(pemCert) }
