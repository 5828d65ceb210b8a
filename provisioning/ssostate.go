package provisioning

import (
	"context"
	"time"
)

// State kinds kept in the StateStore.
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
	CreatedAt            time.Time
}

// SigningKey is a key Seatbridge signs ID tokens with. The private key is sealed;
// PublicJWK is published in the JWKS until the key is retired.
type SigningKey struct {
	ID            string
	Alg           string
	PrivateSealed []byte
	PublicJWK     []byte
	CreatedAt     time.Time
	RetiredAt     *time.Time
}

// StateStore persists the SSO door's protocol state. store.DB implements it.
type StateStore interface {
	PutState(ctx context.Context, s *AuthState) error
	// TakeState deletes and returns a state atomically (single use): ErrNotFound when it
	// does not exist, was already taken or has expired.
	TakeState(ctx context.Context, kind, key string, now time.Time) (*AuthState, error)
	// GetState returns an unexpired state without consuming it.
	GetState(ctx context.Context, kind, key string, now time.Time) (*AuthState, error)
	// DeleteSessionStates removes the states bound to a session (logout).
	DeleteSessionStates(ctx context.Context, sessionID string) error
	// RememberAssertion records an assertion ID of a connection until expiresAt; an ID
	// seen before gives ErrConflict (replay).
	RememberAssertion(ctx context.Context, connectionID, assertionID string, expiresAt, now time.Time) error
	// PurgeExpired removes expired states and replay entries.
	PurgeExpired(ctx context.Context, now time.Time) error

	CreateClient(ctx context.Context, c *OAuthClient) error
	GetClient(ctx context.Context, id string) (*OAuthClient, error)
	ListClients(ctx context.Context) ([]OAuthClient, error)

	AddSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns the keys not retired before now, newest first.
	ListSigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// RetireSigningKeys retires every key other than keepID at the given time.
	RetireSigningKeys(ctx context.Context, keepID string, at time.Time) error
}
