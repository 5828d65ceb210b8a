package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"
)

// The sign-in contract between the sign-in door (package sso) and the upstream protocols
// it speaks (sso/saml, sso/oidc). It lives here, beside the Claims that a verified answer
// yields, so that the protocol packages depend on the engine's package only, as the
// door does, and never on the door.

// SignInProtocol is one upstream protocol (SAML, OIDC) as a verifier: Begin builds the
// request to the IdP, ReadAnswer and Verify turn the IdP's answer into claims. It holds
// no routes and no request state: the door keeps the state row of a started login, binds
// it to the browser, and finishes the sign-in.
type SignInProtocol interface {
	// Begin builds the request to the IdP of req.Conn.
	Begin(ctx context.Context, req BeginRequest) (*Start, error)
	// ReadAnswer reads the IdP's answer from r (its form is parsed) without trusting it:
	// enough to name the started login it answers.
	ReadAnswer(r *http.Request) (Answer, error)
	// Verify checks an answer against the connection and what Begin kept, and returns
	// the identity it asserts.
	Verify(ctx context.Context, req VerifyRequest) (*Verified, error)
}

// MetadataProtocol is a SignInProtocol that publishes SP metadata (SAML).
type MetadataProtocol interface {
	Metadata(conn *Connection, ep Endpoints) ([]byte, error)
}

// Endpoints are the door's URLs of one connection that the IdP sees.
type Endpoints struct {
	// Answer is where the IdP answers: the SAML ACS, the OIDC redirect URI.
	Answer string
	// Metadata is the SAML SP metadata URL (also the SP entity ID).
	Metadata string
}

// BeginRequest asks a Protocol for the request that starts a sign-in.
type BeginRequest struct {
	Tenant    *Tenant
	Conn      *Connection
	Endpoints Endpoints
	// LoginHint is the e-mail the user typed (may be empty), passed on so that they do
	// not type it again at the IdP.
	LoginHint string
}

// Start is a request to an IdP: where to send the browser and what to keep for Verify.
type Start struct {
	// Redirect is the IdP URL the browser goes to.
	Redirect string
	// Key names the started login: the door keeps its state row under it and binds it
	// to the browser. The IdP's answer names it again (Answer.Key).
	Key string
	// Data is kept with the state row and handed back to Verify (nonce, PKCE verifier).
	Data []byte
}

// Answer is an IdP's answer, read but not yet verified.
type Answer interface {
	// Key is the Start.Key of the login it answers; "" for an unsolicited answer (a
	// SAML IdP-initiated login), which the protocol accepts only when the connection
	// allows it.
	Key() string
}

// VerifyRequest asks a Protocol to verify an answer.
type VerifyRequest struct {
	Tenant    *Tenant
	Conn      *Connection
	Endpoints Endpoints
	Answer    Answer
	// Data is Start.Data of the login answered (nil for an unsolicited answer).
	Data []byte
	Now  time.Time
}

// Verified is the identity an IdP asserted.
type Verified struct {
	Claims Claims
	// Attributes are every attribute or claim as received (the test sign-in shows them).
	Attributes map[string][]string
	// ReplayKey, when set, names an assertion that must be used once until ReplayUntil:
	// the door passes it to Login (LoginRequest.Assertion), which remembers it in the
	// login's transaction and refuses it a second time; a test sign-in's door remembers
	// it itself.
	ReplayKey   string
	ReplayUntil time.Time
}

// RandomToken returns n random bytes, URL-safe base64 (state, nonce, code and session
// secrets).
func RandomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// StateKey is the key a secret value is stored under: hex SHA-256, so that the database
// never holds the secret itself.
func StateKey(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}
