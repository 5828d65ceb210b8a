// Package provider makes Seatbridge an OpenID Connect provider for the platform
// application: discovery, JWKS, /oauth2/authorize (authorization code flow, PKCE S256
// required for public clients), /oauth2/token, /oauth2/userinfo and RP-initiated logout.
// ID tokens are signed with go-jose using keys kept sealed in the database and rotatable,
// RS256 by default and ES256 (P-256) for clients that register it; codes and access tokens are stored hashed and server-side, so any replica can
// answer. Claims come from the provisioning engine at the moment of issue: sub, email,
// name, tenant, roles, permissions, teams, seat, amr.
//
// It imports sso and provisioning; it must not import store, scim or admin.
package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
)

// Provider is the downstream OpenID provider.
type Provider struct {
	S *sso.Service
	// IDTokenTTL (default 1 h), CodeTTL (default 1 min) and AccessTokenTTL (default 1 h).
	IDTokenTTL     time.Duration
	CodeTTL        time.Duration
	AccessTokenTTL time.Duration
	// KeyRetireAfter is how long a rotated-out key stays in the JWKS (default 24 h).
	KeyRetireAfter time.Duration
	// signers caches the opened signing keys by key ID: opening the sealed key and parsing
	// an RSA key with its precomputation cost more than signing a token. Which key is
	// current is still read from the database on every signature, so a rotation on any
	// replica takes effect everywhere at once.
	signers sync.Map // kid → jose.Signer
}

// New returns a provider with default lifetimes.
func New(s *sso.Service) *Provider {
	return &Provider{S: s, IDTokenTTL: time.Hour, CodeTTL: time.Minute, AccessTokenTTL: time.Hour, KeyRetireAfter: 24 * time.Hour}
}

// Issuer is the OIDC issuer: the base URL.
func (p *Provider) Issuer() string { return strings.TrimSuffix(p.S.Config.BaseURL.String(), "/") }

// Mount registers the provider's routes.
func (p *Provider) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc("GET /oauth2/jwks", p.handleJWKS)
	mux.HandleFunc("GET /oauth2/authorize", p.handleAuthorize)
	mux.HandleFunc("POST /oauth2/token", p.handleToken)
	mux.HandleFunc("GET /oauth2/userinfo", p.handleUserinfo)
	mux.HandleFunc("POST /oauth2/userinfo", p.handleUserinfo)
	mux.HandleFunc("GET /oauth2/logout", p.handleLogout)
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	iss := p.Issuer()
	httpx.WriteJSON(w, http.StatusOK, "", map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/oauth2/authorize",
		"token_endpoint":                        iss + "/oauth2/token",
		"userinfo_endpoint":                     iss + "/oauth2/userinfo",
		"jwks_uri":                              iss + "/oauth2/jwks",
		"end_session_endpoint":                  iss + "/oauth2/logout",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": idTokenAlgs,
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      []string{"S256"},
		// OpenID Connect Back-Channel Logout 1.0: logout tokens carry sub, and sid when
		// one session ended (the sid of the ID tokens issued for it).
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
		"claims_supported": []string{"sub", "email", "name", "tenant", "tenant_id", "roles", "permissions", "teams",
			"seat", "amr", "sid", "nonce", "auth_time"},
	})
}

// ---- signing keys ----

// SigningKeyContext is the secretbox context of a signing key.
func SigningKeyContext(kid string) string { return "oidc-signing-key:" + kid }

// idTokenAlgs are the ID token algorithms a client may register, the default first. Each
// has its own current key; a rotation replaces every one of them.
var idTokenAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// clientAlg is the algorithm of a client's ID tokens (and logout tokens).
func clientAlg(c *provisioning.OAuthClient) jose.SignatureAlgorithm {
	if c == nil || c.IDTokenAlg == "" {
		return jose.SignatureAlgorithm(provisioning.DefaultIDTokenAlg)
	}
	return jose.SignatureAlgorithm(c.IDTokenAlg)
}

// RotateKey creates a new signing key for every algorithm, used from now on; older keys
// stay in the JWKS for KeyRetireAfter so tokens they signed still verify. It returns the
// new RS256 key's ID.
func (p *Provider) RotateKey(ctx context.Context) (string, error) {
	var first string
	for _, alg := range idTokenAlgs {
		k, err := p.newKey(ctx, alg)
		if err != nil {
			return "", err
		}
		if err := p.S.States.RetireSigningKeys(ctx, k.ID, p.S.Now().Add(p.KeyRetireAfter)); err != nil {
			return "", err
		}
		if first == "" {
			first = k.ID
		}
	}
	return first, nil
}

// newKey creates and stores a signing key for alg: RSA 2048 for RS256, P-256 for ES256.
func (p *Provider) newKey(ctx context.Context, alg jose.SignatureAlgorithm) (*provisioning.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("signing key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s signing key: %w", alg, err)
	}
	kid, err := sso.RandomToken(12)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := p.S.Box.Seal(der, SigningKeyContext(kid))
	if err != nil {
		return nil, err
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: string(alg), Use: "sig"})
	if err != nil {
		return nil, err
	}
	k := &provisioning.SigningKey{ID: kid, Alg: string(alg), PrivateSealed: sealed, PublicJWK: pub, CreatedAt: p.S.Now()}
	if err := p.S.States.AddSigningKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// EnsureKeys makes the signer of every algorithm ready (creating a key where none is
// stored) for ID and logout tokens, so that the first token does not pay for key
// generation: RSA 2048 takes long enough to push a back-channel logout past its
// one-second promise.
func (p *Provider) EnsureKeys(ctx context.Context) error {
	for _, alg := range idTokenAlgs {
		for _, typ := range []string{"JWT", "logout+jwt"} {
			if _, err := p.typedSigner(ctx, alg, typ); err != nil {
				return err
			}
		}
	}
	return nil
}

// signer returns the signer of ID tokens for alg: its newest unretired key, created on
// demand.
func (p *Provider) signer(ctx context.Context, alg jose.SignatureAlgorithm) (jose.Signer, error) {
	return p.typedSigner(ctx, alg, "JWT")
}

// typedSigner is signer with the given JOSE typ header ("JWT" for ID tokens,
// "logout+jwt" for logout tokens, so that one can never pass for the other).
func (p *Provider) typedSigner(ctx context.Context, alg jose.SignatureAlgorithm, typ string) (jose.Signer, error) {
	keys, err := p.S.States.ListSigningKeys(ctx, p.S.Now())
	if err != nil {
		return nil, err
	}
	k := currentKey(keys, alg)
	if k == nil {
		if k, err = p.newKey(ctx, alg); err != nil {
			return nil, err
		}
	}
	if cached, ok := p.signers.Load(k.ID + "|" + typ); ok {
		return cached.(jose.Signer), nil
	}
	der, err := p.S.Box.Open(k.PrivateSealed, SigningKeyContext(k.ID))
	if err != nil {
		return nil, fmt.Errorf("open signing key %s: %w", k.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", k.ID, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return nil, fmt.Errorf("signer for key %s: %w", k.ID, err)
	}
	p.signers.Store(k.ID+"|"+typ, signer)
	return signer, nil
}

// currentKey is the newest unretired key of alg in keys (newest first); keys stored
// before keys had several algorithms have none and are RS256.
func currentKey(keys []provisioning.SigningKey, alg jose.SignatureAlgorithm) *provisioning.SigningKey {
	for i := range keys {
		ka := keys[i].Alg
		if ka == "" {
			ka = string(jose.RS256)
		}
		if keys[i].RetiredAt == nil && ka == string(alg) {
			return &keys[i]
		}
	}
	return nil
}

func (p *Provider) publicKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	keys, err := p.S.States.ListSigningKeys(ctx, p.S.Now())
	if err != nil {
		return set, err
	}
	for _, k := range keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return set, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	return set, nil
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	for _, alg := range idTokenAlgs { // make sure every algorithm has a key
		if _, err := p.signer(r.Context(), alg); err != nil {
			p.S.Fail(w, r, http.StatusInternalServerError, "Keys unavailable.", err)
			return
		}
	}
	set, err := p.publicKeys(r.Context())
	if err != nil {
		p.S.Fail(w, r, http.StatusInternalServerError, "Keys unavailable.", err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpx.WriteJSON(w, http.StatusOK, "application/jwk-set+json", set)
}

// ---- clients ----

// ClientSecretPrefix starts every client secret so that secret scanners can spot it.
const ClientSecretPrefix = "sbcs_"

// CreateClient registers an application; the secret (empty for public clients) is shown
// once, only its SHA-256 is stored.
func CreateClient(ctx context.Context, states provisioning.Store, name string, redirectURIs, postLogout []string, public bool, now time.Time) (*provisioning.OAuthClient, string, error) {
	return RegisterClient(ctx, states, ClientRegistration{Name: name, RedirectURIs: redirectURIs, PostLogoutRedirectURIs: postLogout,
		Public: public}, now)
}

// ClientRegistration is what an operator registers for an application.
type ClientRegistration struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	// BackchannelLogoutURI receives logout tokens (OpenID Connect Back-Channel Logout).
	BackchannelLogoutURI string
	// IDTokenSignedResponseAlg is the JWS algorithm of the client's ID tokens (OpenID
	// Connect Dynamic Client Registration): RS256 (the default when empty) or ES256.
	IDTokenSignedResponseAlg string
}

// RegisterClient is CreateClient with every registration field.
func RegisterClient(ctx context.Context, states provisioning.Store, reg ClientRegistration, now time.Time) (*provisioning.OAuthClient, string, error) {
	name, redirectURIs, postLogout, public := reg.Name, reg.RedirectURIs, reg.PostLogoutRedirectURIs, reg.Public
	if len(redirectURIs) == 0 {
		return nil, "", provisioning.Invalid("redirectUri", "at least one redirect URI is required")
	}
	for _, u := range append(append([]string{}, redirectURIs...), postLogout...) {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && !(pu.Scheme == "http" && isLoopback(pu.Hostname()))) || pu.Fragment != "" || pu.Host == "" {
			return nil, "", provisioning.Invalid("redirectUri", "%q must be an absolute https URL (http only for localhost) without fragment", u)
		}
	}
	alg := reg.IDTokenSignedResponseAlg
	if alg == "" {
		alg = provisioning.DefaultIDTokenAlg
	}
	if !slices.Contains(idTokenAlgs, jose.SignatureAlgorithm(alg)) {
		return nil, "", provisioning.Invalid("idTokenSignedResponseAlg", "%q is not supported (want one of %v)", alg, idTokenAlgs)
	}
	id, err := sso.RandomToken(16)
	if err != nil {
		return nil, "", err
	}
	c := &provisioning.OAuthClient{IDTokenAlg: alg, ID: "sbc_" + id, Name: strings.TrimSpace(name), Public: public, RedirectURIs: redirectURIs,
		PostLogoutRedirectURIs: postLogout, BackchannelLogoutURI: reg.BackchannelLogoutURI, CreatedAt: now}
	if u := reg.BackchannelLogoutURI; u != "" {
		// The spec forbids a fragment; the query is allowed and kept.
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && !(pu.Scheme == "http" && isLoopback(pu.Hostname()))) || pu.Fragment != "" || pu.Host == "" {
			return nil, "", provisioning.Invalid("backchannelLogoutUri", "%q must be an absolute https URL (http only for localhost) without fragment", u)
		}
	}
	if c.Name == "" {
		c.Name = "platform"
	}
	secret := ""
	if !public {
		raw, err := sso.RandomToken(32)
		if err != nil {
			return nil, "", err
		}
		secret = ClientSecretPrefix + raw
		sum := sha256.Sum256([]byte(secret))
		c.SecretHash = sum[:]
	}
	if err := states.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func isLoopback(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// ---- authorize ----

type codeData struct {
	ClientID      string    `json:"clientId"`
	RedirectURI   string    `json:"redirectUri"`
	Nonce         string    `json:"nonce,omitempty"`
	Challenge     string    `json:"challenge,omitempty"`
	Scope         string    `json:"scope"`
	AuthTime      time.Time `json:"authTime"`
	AuthorizeTime time.Time `json:"authorizeTime"`
}

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	client, err := p.S.States.GetClient(ctx, q.Get("client_id"))
	if err != nil {
		p.S.Fail(w, r, http.StatusBadRequest, "Unknown application.", notFound(err))
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		// Never redirect to an unregistered URI.
		p.S.Fail(w, r, http.StatusBadRequest, "The application's redirect address is not registered.", nil)
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		u, _ := url.Parse(redirectURI)
		v := u.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if state != "" {
			v.Set("state", state)
		}
		v.Set("iss", p.Issuer())
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only the code flow is supported")
		return
	}
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		fail("invalid_scope", "scope must include openid")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method != "S256" {
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	if challenge == "" && client.Public {
		fail("invalid_request", "PKCE (S256) is required for public clients")
		return
	}
	if challenge != "" && (len(challenge) < 43 || len(challenge) > 128) {
		fail("invalid_request", "bad code_challenge")
		return
	}
	wantTenant := q.Get("tenant")
	access, err := p.S.CurrentAccess(r)
	if err != nil && !errors.Is(err, provisioning.ErrSessionEnded) {
		p.S.Fail(w, r, http.StatusInternalServerError, "Sign-in is unavailable right now.", err)
		return
	}
	if access != nil && wantTenant != "" && access.Tenant.Slug != wantTenant {
		access = nil
	}
	if access == nil || q.Get("prompt") == "login" && !fresh(access, p.S.Now()) {
		if q.Get("prompt") == "none" {
			fail("login_required", "no session")
			return
		}
		if wantTenant == "" {
			p.askTenant(w, r)
			return
		}
		rt := "/oauth2/authorize?" + stripPromptLogin(q).Encode()
		v := url.Values{"return_to": {rt}}
		if hint := q.Get("login_hint"); hint != "" {
			v.Set("email", hint)
		}
		http.Redirect(w, r, "/sso/"+url.PathEscape(wantTenant)+"/login?"+v.Encode(), http.StatusFound)
		return
	}
	code, err := sso.RandomToken(32)
	if err != nil {
		p.S.Fail(w, r, http.StatusInternalServerError, "Sign-in failed.", err)
		return
	}
	now := p.S.Now()
	data, _ := json.Marshal(codeData{ClientID: client.ID, RedirectURI: redirectURI, Nonce: q.Get("nonce"), Challenge: challenge,
		Scope: q.Get("scope"), AuthTime: access.Session.CreatedAt, AuthorizeTime: now})
	if err := p.S.States.PutState(ctx, &provisioning.AuthState{Kind: provisioning.StateAuthCode, Key: sso.HashKey(code),
		TenantID: access.Tenant.ID, SessionID: access.Session.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(p.CodeTTL)}); err != nil {
		p.S.Fail(w, r, http.StatusInternalServerError, "Sign-in failed.", err)
		return
	}
	u, _ := url.Parse(redirectURI)
	v := u.Query()
	v.Set("code", code)
	if state != "" {
		v.Set("state", state)
	}
	v.Set("iss", p.Issuer())
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// fresh: a session created within the last minute counts as a fresh login (prompt=login
// after the redirect round trip).
func fresh(a *provisioning.Access, now time.Time) bool {
	return now.Sub(a.Session.CreatedAt) < time.Minute
}

func stripPromptLogin(q url.Values) url.Values {
	v := url.Values{}
	for k, vals := range q {
		v[k] = vals
	}
	return v
}

func (p *Provider) askTenant(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	q.Del("tenant")
	q.Del("login_hint")
	p.S.Render(w, http.StatusOK, sso.Page{Title: "Sign in", Form: "tenant", Action: "/oauth2/authorize", Fields: q})
}

// ---- token ----

type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (p *Provider) tokenFail(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="seatbridge"`)
	}
	httpx.WriteJSON(w, status, "", tokenError{Error: code, Description: desc})
}

// authenticateClient checks client_secret_basic / client_secret_post, or a public client.
func (p *Provider) authenticateClient(r *http.Request) (*provisioning.OAuthClient, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, false
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" || len(id) > 128 {
		return nil, false
	}
	c, err := p.S.States.GetClient(r.Context(), id)
	if err != nil {
		return nil, false
	}
	if c.Public {
		return c, secret == ""
	}
	sum := sha256.Sum256([]byte(secret))
	if secret == "" || subtle.ConstantTimeCompare(sum[:], c.SecretHash) != 1 {
		return nil, false
	}
	return c, true
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.tokenFail(w, http.StatusBadRequest, "invalid_request", "cannot parse form")
		return
	}
	client, ok := p.authenticateClient(r)
	if !ok {
		p.tokenFail(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		p.tokenFail(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	now := p.S.Now()
	codeKey := sso.HashKey(r.PostForm.Get("code"))
	st, err := p.S.States.TakeState(ctx, provisioning.StateAuthCode, codeKey, now)
	if err != nil {
		if errors.Is(err, provisioning.ErrNotFound) {
			p.revokeReusedCode(ctx, codeKey, now)
		} else {
			p.S.Log.ErrorContext(ctx, "token: take code", "err", err)
		}
		p.tokenFail(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	}
	var cd codeData
	if err := json.Unmarshal(st.Data, &cd); err != nil {
		p.tokenFail(w, http.StatusBadRequest, "invalid_grant", "")
		return
	}
	if cd.ClientID != client.ID || cd.RedirectURI != r.PostForm.Get("redirect_uri") {
		p.tokenFail(w, http.StatusBadRequest, "invalid_grant", "code was issued to another client or redirect URI")
		return
	}
	verifier := r.PostForm.Get("code_verifier")
	if cd.Challenge != "" || verifier != "" {
		sum := sha256.Sum256([]byte(verifier))
		got := base64.RawURLEncoding.EncodeToString(sum[:])
		if verifier == "" || cd.Challenge == "" || subtle.ConstantTimeCompare([]byte(got), []byte(cd.Challenge)) != 1 {
			p.tokenFail(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
	}
	access, err := p.S.Engine.SessionAccessByID(ctx, st.SessionID)
	if err != nil {
		if !errors.Is(err, provisioning.ErrSessionEnded) {
			p.S.Log.ErrorContext(ctx, "token: session access", "err", err)
			p.tokenFail(w, http.StatusInternalServerError, "server_error", "")
			return
		}
		p.tokenFail(w, http.StatusBadRequest, "invalid_grant", "the session has ended")
		return
	}
	claims := Claims(access)
	claims["iss"] = p.Issuer()
	claims["aud"] = client.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(p.IDTokenTTL).Unix()
	claims["auth_time"] = cd.AuthTime.Unix()
	claims["sid"] = access.Session.ID
	if cd.Nonce != "" {
		claims["nonce"] = cd.Nonce
	}
	signer, err := p.signer(ctx, clientAlg(client))
	if err != nil {
		p.S.Log.ErrorContext(ctx, "token: signer", "err", err)
		p.tokenFail(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	idToken, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		p.S.Log.ErrorContext(ctx, "token: sign", "err", err)
		p.tokenFail(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	at, err := sso.RandomToken(32)
	if err != nil {
		p.tokenFail(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	atKey := sso.HashKey(at)
	// Record what this redemption issues before issuing it, so that a second redemption
	// of the code can revoke it (revokeReusedCode).
	usedData, _ := json.Marshal(redeemedCode{AccessTokenKey: atKey})
	if err := p.S.States.PutState(ctx, &provisioning.AuthState{Kind: stateCodeRedeemed, Key: codeKey, TenantID: access.Tenant.ID,
		SessionID: access.Session.ID, Data: usedData, CreatedAt: now, ExpiresAt: now.Add(p.AccessTokenTTL)}); err != nil {
		p.S.Log.ErrorContext(ctx, "token: record redemption", "err", err)
		p.tokenFail(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	atData, _ := json.Marshal(map[string]string{"clientId": client.ID, "scope": cd.Scope})
	if err := p.S.States.PutState(ctx, &provisioning.AuthState{Kind: provisioning.StateAccessToken, Key: atKey,
		TenantID: access.Tenant.ID, SessionID: access.Session.ID, Data: atData, CreatedAt: now, ExpiresAt: now.Add(p.AccessTokenTTL)}); err != nil {
		p.S.Log.ErrorContext(ctx, "token: store access token", "err", err)
		p.tokenFail(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	// A second redemption racing this one may have looked for the record above before it
	// was written; it leaves a mark, and this redemption then revokes its own token.
	if _, err := p.S.States.GetState(ctx, stateCodeReused, codeKey, now); err == nil || !errors.Is(err, provisioning.ErrNotFound) {
		p.revokeAccessToken(ctx, atKey)
		p.tokenFail(w, http.StatusBadRequest, "invalid_grant", "code was used twice")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	httpx.WriteJSON(w, http.StatusOK, "", map[string]any{"access_token": at, "token_type": "Bearer",
		"expires_in": int(p.AccessTokenTTL.Seconds()), "id_token": idToken, "scope": cd.Scope})
}

// State kinds of code redemption: what a redeemed code issued, and the mark a second
// redemption leaves.
const (
	stateCodeRedeemed = "auth_code_redeemed"
	stateCodeReused   = "auth_code_reused"
)

type redeemedCode struct {
	AccessTokenKey string `json:"accessTokenKey"`
}

// revokeReusedCode handles a code presented again after it was redeemed: RFC 6749 §4.1.2
// (and the OAuth 2.0 Security BCP) says the tokens issued on its first redemption should
// be revoked, since one of the two presenters stole it. The access token is deleted (the
// ID token is a signed statement that cannot be recalled; it expires on its own). Both
// sides of a race leave a record before looking for the other's, so one of them revokes.
func (p *Provider) revokeReusedCode(ctx context.Context, codeKey string, now time.Time) {
	if err := p.S.States.PutState(ctx, &provisioning.AuthState{Kind: stateCodeReused, Key: codeKey, CreatedAt: now,
		ExpiresAt: now.Add(p.AccessTokenTTL)}); err != nil && !errors.Is(err, provisioning.ErrConflict) {
		p.S.Log.ErrorContext(ctx, "token: mark reused code", "err", err)
	}
	st, err := p.S.States.GetState(ctx, stateCodeRedeemed, codeKey, now)
	if errors.Is(err, provisioning.ErrNotFound) {
		return // an unknown or expired code, or a redemption that issued nothing
	}
	if err != nil {
		p.S.Log.ErrorContext(ctx, "token: look up redeemed code", "err", err)
		return
	}
	var rc redeemedCode
	if err := json.Unmarshal(st.Data, &rc); err != nil || rc.AccessTokenKey == "" {
		p.S.Log.ErrorContext(ctx, "token: redeemed code record", "err", err)
		return
	}
	p.S.Log.WarnContext(ctx, "authorization code redeemed twice: revoking its access token", "tenant", st.TenantID, "session", st.SessionID)
	p.revokeAccessToken(ctx, rc.AccessTokenKey)
}

func (p *Provider) revokeAccessToken(ctx context.Context, key string) {
	if _, err := p.S.States.TakeState(ctx, provisioning.StateAccessToken, key, p.S.Now()); err != nil && !errors.Is(err, provisioning.ErrNotFound) {
		p.S.Log.ErrorContext(ctx, "token: revoke access token", "err", err)
	}
}

// Claims are the user claims of ID tokens and userinfo.
func Claims(a *provisioning.Access) map[string]any {
	u := a.User
	name := u.DisplayName
	if name == "" {
		name = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	if name == "" {
		name = u.UserName
	}
	amr := a.Session.AMR
	if amr == "" {
		amr = "sso"
	}
	return map[string]any{
		"sub":         u.ID,
		"email":       u.PrimaryEmail(),
		"name":        name,
		"given_name":  u.Name.GivenName,
		"family_name": u.Name.FamilyName,
		"tenant":      a.Tenant.Slug,
		"tenant_id":   a.Tenant.ID,
		"roles":       nonNil(a.Roles),
		"permissions": nonNil(a.Permissions),
		"teams":       nonNil(a.Teams),
		"seat":        u.Seat,
		"amr":         []string{amr},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ---- userinfo ----

func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	deny := func() {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		httpx.WriteJSON(w, http.StatusUnauthorized, "", tokenError{Error: "invalid_token"})
	}
	if !ok || tok == "" || len(tok) > 256 {
		deny()
		return
	}
	st, err := p.S.States.GetState(ctx, provisioning.StateAccessToken, sso.HashKey(tok), p.S.Now())
	if err != nil {
		deny()
		return
	}
	access, err := p.S.Engine.SessionAccessByID(ctx, st.SessionID)
	if err != nil {
		if !errors.Is(err, provisioning.ErrSessionEnded) {
			p.S.Log.ErrorContext(ctx, "userinfo: session access", "err", err)
		}
		deny()
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, "", Claims(access))
}

// ---- logout ----

func (p *Provider) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if access, err := p.S.CurrentAccess(r); err == nil {
		if err := p.S.Engine.EndSession(ctx, access.Session.ID); err != nil {
			p.S.Fail(w, r, http.StatusInternalServerError, "Sign-out failed.", err)
			return
		}
		if err := p.S.States.DeleteSessionStates(ctx, access.Session.ID); err != nil {
			p.S.Log.ErrorContext(ctx, "logout: delete session states", "err", err)
		}
	}
	p.S.ClearSession(w)
	target := q.Get("post_logout_redirect_uri")
	if target == "" {
		p.S.Render(w, http.StatusOK, sso.Page{Title: "Signed out", Message: "You are signed out."})
		return
	}
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		aud, err := p.hintAudience(ctx, hint)
		if err != nil || (clientID != "" && clientID != aud) {
			p.S.Fail(w, r, http.StatusBadRequest, "The sign-out request is not valid.", err)
			return
		}
		clientID = aud
	}
	c, err := p.S.States.GetClient(ctx, clientID)
	if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, target) {
		p.S.Fail(w, r, http.StatusBadRequest, "The sign-out return address is not registered.", nil)
		return
	}
	u, _ := url.Parse(target)
	if st := q.Get("state"); st != "" {
		v := u.Query()
		v.Set("state", st)
		u.RawQuery = v.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// hintAudience verifies an id_token_hint's signature with our keys (expiry is not
// checked, as the spec allows) and returns its audience.
func (p *Provider) hintAudience(ctx context.Context, hint string) (string, error) {
	tok, err := jwt.ParseSigned(hint, idTokenAlgs)
	if err != nil {
		return "", err
	}
	set, err := p.publicKeys(ctx)
	if err != nil {
		return "", err
	}
	var c jwt.Claims
	if err := tok.Claims(set, &c); err != nil {
		return "", err
	}
	if c.Issuer != p.Issuer() || len(c.Audience) != 1 {
		return "", errors.New("id_token_hint not issued here")
	}
	return c.Audience[0], nil
}

func notFound(err error) error {
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil
	}
	return err
}
