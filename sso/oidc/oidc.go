// Package oidc is Seatbridge's OpenID Connect relying party on github.com/coreos/go-oidc
// and golang.org/x/oauth2: discovery, the authorization code flow with PKCE (S256), state
// and nonce stored server-side and bound to the browser by a signed cookie, ID token
// verification (issuer, audience, expiry, signature by go-oidc; the nonce by us, since
// go-oidc does not), optional userinfo, and iss + sub as the identity key.
//
// It is a verifier behind provisioning.SignInProtocol: Begin builds the authorization
// request (state, nonce, PKCE), Verify exchanges the code and checks the ID token. The
// sign-in door (package sso) owns the callback route, keeps the state row and binds it to
// the browser. It imports provisioning only (where that contract lives); it must not
// import sso, store, scim or admin.
package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/seatbridge/seatbridge/provisioning"
)

// RP implements provisioning.SignInProtocol for OIDC connections.
type RP struct {
	// Box opens the connections' sealed client secrets.
	Box interface {
		Open([]byte, string) ([]byte, error)
	}
	// HTTPClient talks to IdPs (default: 15 s timeout).
	HTTPClient *http.Client
}

// New returns the OIDC protocol over box.
func New(box interface {
	Open([]byte, string) ([]byte, error)
}) *RP {
	return &RP{Box: box, HTTPClient: &http.Client{Timeout: 15 * time.Second}}
}

// ClientSecretContext is the secretbox context of a connection's client secret.
func ClientSecretContext(connectionID string) string { return "oidc-client-secret:" + connectionID }

func (p *RP) ctx(ctx context.Context) context.Context { return gooidc.ClientContext(ctx, p.HTTPClient) }

// config discovers the IdP and builds the OAuth2 config of a connection.
func (p *RP) config(ctx context.Context, c *provisioning.Connection, redirectURL string) (*gooidc.Provider, *oauth2.Config, error) {
	if c.OIDC == nil {
		return nil, nil, errors.New("connection has no OIDC settings")
	}
	prov, err := gooidc.NewProvider(p.ctx(ctx), c.OIDC.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery %s: %w", c.OIDC.Issuer, err)
	}
	secret := ""
	if len(c.OIDC.ClientSecretSealed) > 0 {
		b, err := p.Box.Open(c.OIDC.ClientSecretSealed, ClientSecretContext(c.ID))
		if err != nil {
			return nil, nil, fmt.Errorf("open client secret: %w", err)
		}
		secret = string(b)
	}
	scopes := c.OIDC.Scopes
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "email", "profile"}
	}
	return prov, &oauth2.Config{ClientID: c.OIDC.ClientID, ClientSecret: secret, Endpoint: prov.Endpoint(),
		RedirectURL: redirectURL, Scopes: scopes}, nil
}

// loginState is what Begin keeps for Verify (in the door's state row).
type loginState struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// Begin builds the redirect to the IdP's authorization endpoint, with the e-mail the user
// typed as login_hint (OpenID Connect Core §3.1.2.1). The login's key is the hash of the
// state: the door keeps it and binds it to the browser.
func (p *RP) Begin(ctx context.Context, br provisioning.BeginRequest) (*provisioning.Start, error) {
	_, cfg, err := p.config(ctx, br.Conn, br.Endpoints.Answer)
	if err != nil {
		return nil, err
	}
	state, err := provisioning.RandomToken(32)
	if err != nil {
		return nil, err
	}
	nonce, err := provisioning.RandomToken(32)
	if err != nil {
		return nil, err
	}
	ls := loginState{Nonce: nonce, Verifier: oauth2.GenerateVerifier()}
	data, err := json.Marshal(ls)
	if err != nil {
		return nil, fmt.Errorf("encode login state: %w", err)
	}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(ls.Verifier)}
	if br.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", br.LoginHint))
	}
	return &provisioning.Start{Redirect: cfg.AuthCodeURL(state, opts...), Key: provisioning.StateKey(state), Data: data}, nil
}

// answer is the callback's query.
type answer struct{ key, code, idpError string }

func (a *answer) Key() string { return a.key }

// ReadAnswer reads state, code and error from the callback.
func (p *RP) ReadAnswer(r *http.Request) (provisioning.Answer, error) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 256 {
		return nil, errors.New("missing state")
	}
	return &answer{key: provisioning.StateKey(state), code: q.Get("code"), idpError: q.Get("error")}, nil
}

// Verify exchanges the code (with the PKCE verifier), verifies the ID token (go-oidc:
// issuer, audience, expiry, signature; the nonce here), optionally adds userinfo, and
// maps the claims.
func (p *RP) Verify(ctx context.Context, vr provisioning.VerifyRequest) (*provisioning.Verified, error) {
	a, ok := vr.Answer.(*answer)
	if !ok || a.key == "" || vr.Data == nil {
		return nil, errors.New("not an answer to a started OIDC login")
	}
	c := vr.Conn
	var ls loginState
	if err := json.Unmarshal(vr.Data, &ls); err != nil {
		return nil, fmt.Errorf("state data: %w", err)
	}
	if a.idpError != "" {
		return nil, fmt.Errorf("IdP error %q", provisioning.Truncate(a.idpError, 64))
	}
	prov, cfg, err := p.config(ctx, c, vr.Endpoints.Answer)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.Exchange(p.ctx(ctx), a.code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, errors.New("token response has no id_token")
	}
	idt, err := prov.Verifier(&gooidc.Config{ClientID: c.OIDC.ClientID}).Verify(p.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		return nil, errors.New("ID token nonce does not match")
	}
	all := map[string]any{}
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("ID token claims: %w", err)
	}
	if c.OIDC.UseUserinfo {
		ui, err := prov.UserInfo(p.ctx(ctx), oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, fmt.Errorf("userinfo: %w", err)
		}
		if ui.Subject != idt.Subject {
			return nil, errors.New("userinfo subject differs from the ID token's")
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return nil, fmt.Errorf("userinfo claims: %w", err)
		}
		for k, v := range extra {
			if _, ok := all[k]; !ok {
				all[k] = v
			}
		}
	}
	return &provisioning.Verified{Claims: claimsOf(c, idt.Issuer, idt.Subject, all), Attributes: claimStrings(all)}, nil
}

func claimsOf(c *provisioning.Connection, iss, sub string, all map[string]any) provisioning.Claims {
	m := c.Mapping
	str := func(name, def string) string {
		if name == "" {
			name = def
		}
		s, _ := all[name].(string)
		return strings.TrimSpace(s)
	}
	cl := provisioning.Claims{
		// The identity key is issuer and subject: a subject is only unique per issuer.
		Subject:     iss + "|" + sub,
		Email:       str(m.EmailAttr, "email"),
		GivenName:   str(m.GivenNameAttr, "given_name"),
		FamilyName:  str(m.FamilyNameAttr, "family_name"),
		DisplayName: str(m.DisplayNameAttr, "name"),
	}
	switch v := all["email_verified"].(type) {
	case bool:
		cl.EmailVerified = v
	case string:
		cl.EmailVerified = v == "true"
	}
	gname := m.GroupsAttr
	if gname == "" {
		gname = "groups"
	}
	switch v := all[gname].(type) {
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok && s != "" {
				cl.Groups = append(cl.Groups, s)
			}
		}
	case string:
		cl.Groups = []string{v}
	}
	return cl
}

// claimStrings renders claims for the test sign-in's table: strings as they are, lists
// element by element, anything else in its JSON form.
func claimStrings(all map[string]any) map[string][]string {
	out := make(map[string][]string, len(all))
	for k, v := range all {
		switch x := v.(type) {
		case string:
			out[k] = []string{x}
		case []any:
			for _, e := range x {
				out[k] = append(out[k], fmt.Sprint(e))
			}
		default:
			b, _ := json.Marshal(x)
			out[k] = []string{string(b)}
		}
	}
	return out
}

// Prepare fills the OIDC settings of a new connection and seals its client secret for
// the connection's ID (given one here when it has none).
func Prepare(box interface {
	Seal([]byte, string) ([]byte, error)
}, c *provisioning.Connection, issuer, clientID, clientSecret string, newID func() string) error {
	if c.ID == "" {
		c.ID = newID()
	}
	c.Type = provisioning.ConnOIDC
	if c.OIDC == nil {
		c.OIDC = &provisioning.OIDCSettings{}
	}
	c.OIDC.Issuer, c.OIDC.ClientID = strings.TrimSpace(issuer), strings.TrimSpace(clientID)
	if clientSecret != "" {
		sealed, err := box.Seal([]byte(clientSecret), ClientSecretContext(c.ID))
		if err != nil {
			return err
		}
		c.OIDC.ClientSecretSealed = sealed
	}
	return nil
}

// Preparer seals the OIDC side of connections made through the admin API and the set-up
// wizard (provisioning.ConnectionPreparer, together with saml.Preparer).
type Preparer struct {
	Box interface {
		Seal([]byte, string) ([]byte, error)
	}
}

// PrepareOIDC sets issuer and client ID and seals a new client secret (empty: unchanged).
func (p Preparer) PrepareOIDC(c *provisioning.Connection, issuer, clientID, clientSecret string) error {
	return Prepare(p.Box, c, issuer, clientID, clientSecret, func() string { return c.ID })
}
