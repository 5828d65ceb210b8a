package ssotest

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// OIDCProvider is an in-process OpenID provider issuing real RS256-signed ID tokens. It
// auto-approves every authorization request for the user in Claims.
type OIDCProvider struct {
	Server       *httptest.Server
	Key          *rsa.PrivateKey
	ClientID     string
	ClientSecret string

	mu sync.Mutex
	// Claims are the user claims of the next tokens (sub, email, groups, …).
	Claims map[string]any
	// Tweak changes the ID token claims before signing (wrong nonce, issuer, audience,
	// expiry); SignWith signs with another key.
	Tweak    func(claims map[string]any)
	SignWith *rsa.PrivateKey
	codes    map[string]authRequest
}

type authRequest struct {
	Nonce, Challenge, RedirectURI string
}

// NewOIDCProvider starts a provider with the key in keyFile (PKCS#8 PEM).
func NewOIDCProvider(keyFile, clientID, clientSecret string) (*OIDCProvider, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("oidc key: not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("oidc key: not RSA")
	}
	p := &OIDCProvider{Key: rk, ClientID: clientID, ClientSecret: clientSecret, codes: map[string]authRequest{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.Server = httptest.NewServer(mux)
	return p, nil
}

// Issuer is the provider's issuer URL.
func (p *OIDCProvider) Issuer() string { return p.Server.URL }

// Close stops the server.
func (p *OIDCProvider) Close() { p.Server.Close() }

// SetUser sets the claims of the next logins and clears tweaks.
func (p *OIDCProvider) SetUser(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Claims, p.Tweak, p.SignWith = claims, nil, nil
}

// SetTweak sets a change applied to the next ID tokens.
func (p *OIDCProvider) SetTweak(f func(map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Tweak = f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *OIDCProvider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.Issuer()
	writeJSON(w, 200, map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
		"jwks_uri": iss + "/jwks", "userinfo_endpoint": iss + "/userinfo", "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported": []string{"S256"}})
}

func (p *OIDCProvider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.Key.PublicKey, KeyID: "test-1", Algorithm: "RS256", Use: "sig"}}})
}

func (p *OIDCProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := randomID()
	p.mu.Lock()
	p.codes[code] = authRequest{Nonce: q.Get("nonce"), Challenge: q.Get("code_challenge"), RedirectURI: q.Get("redirect_uri")}
	p.mu.Unlock()
	u, _ := url.Parse(q.Get("redirect_uri"))
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *OIDCProvider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	ar, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	claims := map[string]any{}
	for k, v := range p.Claims {
		claims[k] = v
	}
	tweak, signWith := p.Tweak, p.SignWith
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || ar.RedirectURI != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != ar.Challenge {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	claims["iss"], claims["aud"], claims["iat"], claims["exp"] = p.Issuer(), p.ClientID, now.Unix(), now.Add(10*time.Minute).Unix()
	if ar.Nonce != "" {
		claims["nonce"] = ar.Nonce
	}
	if tweak != nil {
		tweak(claims)
	}
	key := p.Key
	if signWith != nil {
		key = signWith
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "test-1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error"})
		return
	}
	idt, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": "server_error"})
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": "at-" + randomID(), "token_type": "Bearer", "expires_in": 600, "id_token": idt})
}

func (p *OIDCProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	writeJSON(w, 200, p.Claims)
}

// SetSignWith makes the next ID tokens signed by another key (nil: the published one).
func (p *OIDCProvider) SetSignWith(k *rsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.SignWith = k
}
