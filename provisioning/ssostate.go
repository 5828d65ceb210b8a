package provisioning

import (
	"time"
)

// State kinds kept in the SSO protocol state (Store.PutState).
const (
	StateSAMLRequest = "saml_request"
	StateOIDCLogin   = "oidc_login"
	StateAuthCode    = "auth_code"
	StateAccessToken = "access_token"
)

// AuthState is short-lived protocol state that every replica must see: a SAML request
// ID, an OIDC state with its nonce and PKCE verifier, an authorization code, an access
// token. Key is a SHA-256 (hex) of the raw value when the value is a secret. Data is
// opaque JSON owned by the SSO door.
type AuthState struct {
	Kind         string
	Key          string
	TenantID     string
	ConnectionID string
	SessionID    string
	Data         []byte
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// OAuthClient is an application that signs its users in through Seatbridge (the
// platform app). Only a SHA-256 of the secret is stored; public clients have none and
// must use PKCE.
type OAuthClient struct {
	ID                     string
	Name                   string
	SecretHash             []byte
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives OpenID Connect Back-Channel Logout tokens (empty:
	// the client is not told of logouts).
	BackchannelLogoutURI string
	// IDTokenAlg is the JWS algorithm of the client's ID tokens (OpenID Connect Dynamic
	// Client Registration's id_token_signed_response_alg): RS256 or ES256; empty is
	// DefaultIDTokenAlg.
	IDTokenAlg string
	CreatedAt  time.Time
}

// DefaultIDTokenAlg signs the ID tokens of a client that registered no algorithm (OpenID
// Connect Core §15.1 makes RS256 the algorithm every relying party must support).
const DefaultIDTokenAlg = "RS256"

// SigningKey is a key Seatbridge signs ID tokens with. The private key is sealed;
// PublicJWK is published in the JWKS until the key is retired. Alg is the JWS algorithm
// the key signs with (RS256 or ES256); each algorithm has its own current key.
type SigningKey struct {
	ID            string
	Alg           string
	PrivateSealed []byte
	PublicJWK     []byte
	CreatedAt     time.Time
	RetiredAt     *time.Time
}
