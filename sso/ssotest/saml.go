// Package ssotest holds in-process identity providers for tests: a SAML IdP that mints
// freshly signed responses with keys from testdata/saml (and can forge the broken ones the
// security tests need), and an OIDC provider that issues real signed ID tokens with
// go-jose. Nothing here mocks a protocol: Seatbridge verifies their output with the same
// code that verifies Okta's and Entra ID's.
//
// It must not import store, scim, admin or the sso implementations.
package ssotest

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

// KeyPair is an RSA key with its self-signed certificate.
type KeyPair struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
	// KeyPEM and CertPEM are the files' contents.
	KeyPEM, CertPEM []byte
}

// LoadKeyPair reads NAME.key (PKCS#8) and NAME.crt from dir.
func LoadKeyPair(dir, name string) (*KeyPair, error) {
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return nil, fmt.Errorf("%s: not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", name)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Key: rk, Cert: cert, KeyPEM: keyPEM, CertPEM: certPEM}, nil
}

// SAMLIdP is a SAML 2.0 identity provider that signs responses in process.
type SAMLIdP struct {
	EntityID string
	SSOURL   string
	// Signing signs responses; Published are the certificates in the metadata (Signing's
	// and, for rotation tests, others).
	Signing   *KeyPair
	Published []*x509.Certificate
}

// NewSAMLIdP returns an IdP signing with dir/idp.key and publishing its certificate.
func NewSAMLIdP(dir string) (*SAMLIdP, error) {
	kp, err := LoadKeyPair(dir, "idp")
	if err != nil {
		return nil, err
	}
	return &SAMLIdP{EntityID: "https://idp.example.test/saml/metadata", SSOURL: "https://idp.example.test/saml/sso",
		Signing: kp, Published: []*x509.Certificate{kp.Cert}}, nil
}

// Metadata returns the IdP's EntityDescriptor.
func (idp *SAMLIdP) Metadata() []byte {
	var kds []crewsaml.KeyDescriptor
	for _, c := range idp.Published {
		kds = append(kds, crewsaml.KeyDescriptor{Use: "signing", KeyInfo: crewsaml.KeyInfo{X509Data: crewsaml.X509Data{
			X509Certificates: []crewsaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(c.Raw)}}}}})
	}
	ed := crewsaml.EntityDescriptor{EntityID: idp.EntityID, ValidUntil: time.Now().AddDate(1, 0, 0), IDPSSODescriptors: []crewsaml.IDPSSODescriptor{{
		SSODescriptor: crewsaml.SSODescriptor{RoleDescriptor: crewsaml.RoleDescriptor{
			ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol", KeyDescriptors: kds}},
		SingleSignOnServices: []crewsaml.Endpoint{{Binding: crewsaml.HTTPRedirectBinding, Location: idp.SSOURL}},
	}}}
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// AuthnRequest decodes the HTTP-Redirect AuthnRequest in an IdP URL.
func AuthnRequest(idpURL string) (*crewsaml.AuthnRequest, string, error) {
	u, err := url.Parse(idpURL)
	if err != nil {
		return nil, "", err
	}
	raw, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		return nil, "", fmt.Errorf("SAMLRequest: %w", err)
	}
	xmlBytes, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, "", fmt.Errorf("inflate SAMLRequest: %w", err)
	}
	var req crewsaml.AuthnRequest
	if err := xml.Unmarshal(xmlBytes, &req); err != nil {
		return nil, "", err
	}
	return &req, u.Query().Get("RelayState"), nil
}

// Assertion describes the response to mint. Zero values give a valid response.
type Assertion struct {
	ACS          string // Destination and Recipient
	Audience     string // SP entity ID
	InResponseTo string
	NameID       string
	Attributes   map[string][]string
	ID           string
	Issuer       string
	IssueInstant time.Time
	// Issued, when set, moves only the IssueInstant of the Response and the Assertion;
	// the validity window (NotBefore, NotOnOrAfter) stays around IssueInstant.
	Issued time.Time
	// Lifetime of the conditions (default 5 minutes).
	Lifetime time.Duration
	// Signer overrides the signing key (an unknown key).
	Signer *KeyPair
	// Unsigned leaves the assertion unsigned; SignResponse signs the Response instead of
	// (or besides) the assertion.
	Unsigned     bool
	SignResponse bool
	// EncryptFor encrypts the assertion for this SP certificate.
	EncryptFor *x509.Certificate
	// Tamper changes the signed assertion after signing (forged signature).
	Tamper func(assertion *etree.Element)
	// Inject adds elements to the Response after signing (signature wrapping).
	Inject func(response *etree.Element)
}

// Response mints a base64 SAMLResponse for the POST binding.
func (idp *SAMLIdP) Response(a Assertion) (string, error) {
	el, err := idp.ResponseElement(a)
	if err != nil {
		return "", err
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("id-%x", b)
}

// ResponseElement mints the Response element.
func (idp *SAMLIdP) ResponseElement(a Assertion) (*etree.Element, error) {
	now := a.IssueInstant
	if now.IsZero() {
		now = time.Now().UTC()
	}
	if a.Lifetime == 0 {
		a.Lifetime = 5 * time.Minute
	}
	if a.ID == "" {
		a.ID = randomID()
	}
	issuer := a.Issuer
	if issuer == "" {
		issuer = idp.EntityID
	}
	signer := idp.Signing
	if a.Signer != nil {
		signer = a.Signer
	}
	issued := now
	if !a.Issued.IsZero() {
		issued = a.Issued
	}
	assertion := &crewsaml.Assertion{
		ID: a.ID, IssueInstant: issued, Version: "2.0",
		Issuer: crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: issuer},
		Subject: &crewsaml.Subject{
			NameID: &crewsaml.NameID{Format: string(crewsaml.EmailAddressNameIDFormat), Value: a.NameID},
			SubjectConfirmations: []crewsaml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &crewsaml.SubjectConfirmationData{InResponseTo: a.InResponseTo,
					NotOnOrAfter: now.Add(a.Lifetime), Recipient: a.ACS}}},
		},
		Conditions: &crewsaml.Conditions{NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(a.Lifetime),
			AudienceRestrictions: []crewsaml.AudienceRestriction{{Audience: crewsaml.Audience{Value: a.Audience}}}},
		AuthnStatements: []crewsaml.AuthnStatement{{AuthnInstant: now, SessionIndex: a.ID,
			AuthnContext: crewsaml.AuthnContext{AuthnContextClassRef: &crewsaml.AuthnContextClassRef{
				Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
	}
	if len(a.Attributes) > 0 {
		st := crewsaml.AttributeStatement{}
		for name, vals := range a.Attributes {
			at := crewsaml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
			for _, v := range vals {
				at.Values = append(at.Values, crewsaml.AttributeValue{Type: "xs:string", Value: v})
			}
			st.Attributes = append(st.Attributes, at)
		}
		assertion.AttributeStatements = []crewsaml.AttributeStatement{st}
	}
	assertionEl := assertion.Element()
	if !a.Unsigned {
		sig, err := sign(signer, assertionEl)
		if err != nil {
			return nil, err
		}
		assertion.Signature = sig
		assertionEl = assertion.Element()
	}
	if a.Tamper != nil {
		a.Tamper(assertionEl)
	}
	if a.EncryptFor != nil {
		doc := etree.NewDocument()
		doc.SetRoot(assertionEl)
		buf, err := doc.WriteToBytes()
		if err != nil {
			return nil, err
		}
		enc := xmlenc.OAEP()
		enc.BlockCipher = xmlenc.AES128CBC
		enc.DigestMethod = &xmlenc.SHA1
		data, err := enc.Encrypt(a.EncryptFor, buf, nil)
		if err != nil {
			return nil, fmt.Errorf("encrypt assertion: %w", err)
		}
		data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
		ea := etree.NewElement("saml:EncryptedAssertion")
		ea.AddChild(data)
		assertionEl = ea
	}
	resp := &crewsaml.Response{Destination: a.ACS, ID: randomID(), InResponseTo: a.InResponseTo, IssueInstant: issued, Version: "2.0",
		Issuer: &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: issuer},
		Status: crewsaml.Status{StatusCode: crewsaml.StatusCode{Value: crewsaml.StatusSuccess}}}
	respEl := resp.Element()
	respEl.AddChild(assertionEl)
	if a.SignResponse {
		sig, err := sign(signer, respEl)
		if err != nil {
			return nil, err
		}
		resp.Signature = sig
		respEl = resp.Element()
		respEl.AddChild(assertionEl)
	}
	if a.Inject != nil {
		a.Inject(respEl)
	}
	return respEl, nil
}

func sign(kp *KeyPair, el *etree.Element) (*etree.Element, error) {
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key, Leaf: kp.Cert}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return signed.ChildElements()[len(signed.ChildElements())-1], nil
}
