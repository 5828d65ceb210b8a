// Package oidc is Seatbridge's OpenID Connect relying party on github.com/coreos/go-oidc
// and golang.org/x/oauth2: discovery, the authorization code flow with PKCE (S256), state
// and nonce stored server-side and bound to the browser by a signed cookie, ID token
// verification (issuer, audience, expiry, signature by go-oidc; the nonce by us, since
// go-oidc does not), optional userinfo, and iss + sub as the identity key.
//
// It imports sso and provisioning; it must not import store, scim or admin.
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
	"github.com/seatbridge/seatbridge/sso"
)

// RP implements sso.Protocol for OIDC connections.
type RP struct {
	S *sso.Service
	// HTTPClient talks to IdPs (default: 15 s timeout).
	HTTPClient *http.Client
}

// New returns the OIDC protocol of s.
func New(s *sso.Service) *RP {
	return &RP{S: s, HTTPClient: &http.Client{Timeout: 15 * time.Second}}
}

// ClientSecretContext is the secretbox context of a connection's client secret.
func ClientSecretContext(connectionID string) string { return "oidc-client-secret:" + connectionID }

// Mount registers the callback.
func (p *RP) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /sso/{tenant}/oidc/{conn}/callback", p.handleCallback)
}

func callbackPath(t *provisioning.Tenant, c *provisioning.Connection) string {
	return "/sso/" + t.Slug + "/oidc/" + c.ID + "/callback"
}

func (p *RP) ctx(ctx context.Context) context.Context { return gooidc.ClientContext(ctx, p.HTTPClient) }

// config discovers the IdP and builds the OAuth2 config of a connection.
func (p *RP) config(ctx context.Context, t *provisioning.Tenant, c *provisioning.Connection) (*gooidc.Provider, *oauth2.Config, error) {
	if c.OIDC == nil {
		return nil, nil, errors.New("connection has no OIDC settings")
	}
	prov, err := gooidc.NewProvider(p.ctx(ctx), c.OIDC.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery %s: %w", c.OIDC.Issuer, err)
	}
	secret := ""
	if len(c.OIDC.ClientSecretSealed) > 0 {
		b, err := p.S.Box.Open(c.OIDC.ClientSecretSealed, ClientSecretContext(c.ID))
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
		RedirectURL: p.S.URL(callbackPath(t, c)), Scopes: scopes}, nil
}

type loginState struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	ReturnTo string `json:"returnTo"`
	// TestTicket marks the set-up wizard's test sign-in (sso.TestTicket).
	TestTicket string `json:"testTicket,omitempty"`
}

func bindName(stateKey string) string { return "sb_oidc_" + stateKey[:16] }

// Begin redirects to the IdP's authorization endpoint, with the e-mail the user typed as
// login_hint (OpenID Connect Core §3.1.2.1). The state is bound to this browser by a
// signed SameSite=Lax cookie, which the callback (a top-level GET) carries.
func (p *RP) Begin(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, c *provisioning.Connection, returnTo, loginHint string) error {
	_, cfg, err := p.config(r.Context(), t, c)
	if err != nil {
		return err
	}
	state, err := sso.RandomToken(32)
	if err != nil {
		return err
	}
	nonce, err := sso.RandomToken(32)
	if err != nil {
		return err
	}
	ls := loginState{Nonce: nonce, Verifier: oauth2.GenerateVerifier(), ReturnTo: returnTo, TestTicket: sso.TestTicket(r.Context())}
	data, err := json.Marshal(ls)
	if err != nil {
		return err
	}
	key := sso.HashKey(state)
	now := p.S.Now()
	if err := p.S.States.PutState(r.Context(), &provisioning.AuthState{Kind: provisioning.StateOIDCLogin, Key: key, TenantID: t.ID,
		ConnectionID: c.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(p.S.Config.StateTTL)}); err != nil {
		return err
	}
	p.S.BindCookie(w, bindName(key), callbackPath(t, c), key)
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.S256ChallengeOption(ls.Verifier)}
	if loginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	http.Redirect(w, r, cfg.AuthCodeURL(state, opts...), http.StatusFound)
	return nil
}

func (p *RP) handleCallback(w http.ResponseWriter, r *http.Request) {
	t, err := p.S.Tenant(r)
	if err != nil {
		p.S.Fail(w, r, http.StatusNotFound, "Unknown organisation.", err)
		return
	}
	// A connection that is not active yet answers only the wizard's test sign-in (verify
	// refuses any other callback to it).
	c, err := p.S.Engine.GetConnection(r.Context(), t.ID, r.PathValue("conn"))
	if err == nil && c.Type != provisioning.ConnOIDC {
		err = provisioning.ErrNotFound
	}
	if err != nil {
		p.S.Fail(w, r, http.StatusNotFound, "Unknown sign-in connection.", err)
		return
	}
	claims, all, ls, err := p.verify(r, t, c)
	if err != nil {
		p.S.Fail(w, r, http.StatusForbidden, "The sign-in response from your identity provider was not accepted.", err)
		return
	}
	if ls.TestTicket != "" {
		p.S.CompleteTest(w, r, t, c, claims, claimStrings(all), ls.TestTicket, ls.ReturnTo)
		return
	}
	p.S.Complete(w, r, t, c, claims, ls.ReturnTo)
}

func (p *RP) verify(r *http.Request, t *provisioning.Tenant, c *provisioning.Connection) (provisioning.Claims, map[string]any, loginState, error) {
	var none provisioning.Claims
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 256 {
		return none, nil, loginState{}, errors.New("missing state")
	}
	key := sso.HashKey(state)
	if !p.S.CheckBinding(r, bindName(key), key) {
		return none, nil, loginState{}, errors.New("state is not bound to this browser")
	}
	st, err := p.S.States.TakeState(ctx, provisioning.StateOIDCLogin, key, p.S.Now())
	if err != nil {
		return none, nil, loginState{}, fmt.Errorf("state: %w", err)
	}
	if st.TenantID != t.ID || st.ConnectionID != c.ID {
		return none, nil, loginState{}, errors.New("state belongs to another connection")
	}
	var ls loginState
	if err := json.Unmarshal(st.Data, &ls); err != nil {
		return none, nil, loginState{}, fmt.Errorf("state data: %w", err)
	}
	if c.Disabled && ls.TestTicket == "" {
		return none, nil, loginState{}, errors.New("the connection is not active")
	}
	if e := q.Get("error"); e != "" {
		return none, nil, loginState{}, fmt.Errorf("IdP error %q", truncate(e, 64))
	}
	prov, cfg, err := p.config(ctx, t, c)
	if err != nil {
		return none, nil, loginState{}, err
	}
	tok, err := cfg.Exchange(p.ctx(ctx), q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return none, nil, loginState{}, fmt.Errorf("code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return none, nil, loginState{}, errors.New("token response has no id_token")
	}
	idt, err := prov.Verifier(&gooidc.Config{ClientID: c.OIDC.ClientID}).Verify(p.ctx(ctx), raw)
	if err != nil {
		return none, nil, loginState{}, fmt.Errorf("ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		return none, nil, loginState{}, errors.New("ID token nonce does not match")
	}
	all := map[string]any{}
	if err := idt.Claims(&all); err != nil {
		return none, nil, loginState{}, fmt.Errorf("ID token claims: %w", err)
	}
	if c.OIDC.UseUserinfo {
		ui, err := prov.UserInfo(p.ctx(ctx), oauth2.StaticTokenSource(tok))
		if err != nil {
			return none, nil, loginState{}, fmt.Errorf("userinfo: %w", err)
		}
		if ui.Subject != idt.Subject {
			return none, nil, loginState{}, errors.New("userinfo subject differs from the ID token's")
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return none, nil, loginState{}, fmt.Errorf("userinfo claims: %w", err)
		}
		for k, v := range extra {
			if _, ok := all[k]; !ok {
				all[k] = v
			}
		}
	}
	returnTo := p.S.Config.DefaultReturnTo
	if safe, ok := p.S.SafeReturnTo(ls.ReturnTo); ok {
		returnTo = safe
	}
	ls.ReturnTo = returnTo
	return claimsOf(c, idt.Issuer, idt.Subject, all), all, ls, nil
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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
