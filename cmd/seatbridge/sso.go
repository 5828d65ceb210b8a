package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	"github.com/seatbridge/seatbridge/sso/provider"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
)

// defaultSAMLClockSkew is the clock skew allowed on SAML assertions unless
// --saml-clock-skew says otherwise (crewjam/saml keeps it in a package variable).
const defaultSAMLClockSkew = 60 * time.Second

// ssoService builds the shared SSO flow of an opened app.
func ssoService(a *app) (*sso.Service, error) {
	box, err := a.secretBox()
	if err != nil {
		return nil, err
	}
	base := a.cfg.BaseURL
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	bu, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || bu.Host == "" || (bu.Scheme != "http" && bu.Scheme != "https") {
		return nil, usagef("--base-url %q: want http(s)://host[:port]", base)
	}
	if bu.Path != "" {
		return nil, usagef("--base-url %q: a path prefix is not supported for SSO; serve Seatbridge at the root of its host", base)
	}
	return sso.New(a.eng, a.db, box, a.log.With("door", "sso"), sso.Config{BaseURL: bu, CookieKey: box.Derive("sso-cookie"),
		TrustForwarded: a.cfg.TrustForwardedFor})
}

// mountSSO serves the sign-in door: /sso/{tenant}/login, the SAML SP and OIDC RP
// endpoints, the password and invitation pages (/login/{tenant}, /invite/{token}, /,
// /account), and the OIDC provider for the platform app (/.well-known/openid-configuration,
// /oauth2/…).
func mountSSO(mux *http.ServeMux, a *app) error {
	svc, err := ssoService(a)
	if err != nil {
		return err
	}
	if svc.Accounts, err = a.accounts(); err != nil {
		return err
	}
	svc.Config.AttemptsPerSecond, svc.Config.AttemptsBurst = a.cfg.LoginRate, a.cfg.LoginBurst
	svc.Register(provisioning.ConnSAML, ssaml.New(svc.Box, samlSkew(a.cfg)))
	svc.Register(provisioning.ConnOIDC, ssooidc.New(svc.Box))
	svc.Mount(mux)
	provider.New(svc).Mount(mux)
	return nil
}

// purgeLoop removes expired SSO state every ten minutes until ctx ends (any replica may
// do it: the deletes are idempotent).
func purgeLoop(ctx context.Context, a *app) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := a.db.PurgeExpired(pctx, time.Now().UTC()); err != nil {
			a.log.Warn("purge expired SSO state", "err", err)
		}
		cancel()
	}
}

// connPreparer is the SSO door's provisioning.ConnectionPreparer: SAML metadata and SP keys
// from sso/saml, OIDC client secrets from sso/oidc.
type connPreparer struct {
	saml ssaml.Preparer
	oidc ssooidc.Preparer
}

func newConnPreparer(box *secretbox.Box) connPreparer {
	return connPreparer{ssaml.Preparer{Box: box}, ssooidc.Preparer{Box: box}}
}

func (p connPreparer) PrepareSAML(c *provisioning.Connection, md []byte) error {
	return p.saml.PrepareSAML(c, md)
}
func (p connPreparer) CheckSAMLCertificate(pc string) error { return p.saml.CheckSAMLCertificate(pc) }
func (p connPreparer) PrepareOIDC(c *provisioning.Connection, issuer, clientID, secret string) error {
	return p.oidc.PrepareOIDC(c, issuer, clientID, secret)
}

type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func readSource(ctx context.Context, file, rawURL string) ([]byte, error) {
	switch {
	case file != "" && rawURL != "":
		return nil, usagef("give --metadata-file or --metadata-url, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		return b, nil
	case rawURL != "":
		if !strings.HasPrefix(rawURL, "https://") && !strings.HasPrefix(rawURL, "http://") {
			return nil, usagef("--metadata-url must be an http(s) URL")
		}
		// The operator may name an IdP on the internal network: private addresses allowed.
		b, err := httpx.Fetch(ctx, rawURL, httpx.FetchOptions{MaxBytes: 2 << 20, Timeout: 20 * time.Second, AllowPrivate: true})
		if err != nil {
			return nil, fmt.Errorf("fetch metadata: %w", err)
		}
		return b, nil
	}
	return nil, usagef("SAML needs --metadata-file or --metadata-url")
}

func runConnectionCreate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var tenant, typ, mode, name, metaFile, metaURL, spKey, spCert, issuer, clientID, secretFile, mappingFile string
	var domains, scopes stringList
	var idpInitiated, signRequests, subjectHint, seat, userinfo, disabled bool
	fs, b := newFlags("connection create", env, &cfg)
	b.str(&cfg.BaseURL, "base-url", "", "public URL of the server (to print the URLs to give the IdP)")
	fs.StringVar(&tenant, "tenant", "", "tenant slug")
	fs.StringVar(&typ, "type", "", "saml or oidc")
	fs.StringVar(&mode, "mode", "jit", "jit, pre_provisioned or directory")
	fs.StringVar(&name, "name", "", "display name (e.g. okta, entra)")
	fs.Var(&domains, "domains", "e-mail domains served, comma-separated (repeatable)")
	fs.StringVar(&metaFile, "metadata-file", "", "SAML: IdP metadata XML file")
	fs.StringVar(&metaURL, "metadata-url", "", "SAML: IdP metadata URL")
	fs.StringVar(&spKey, "sp-key", "", "SAML: SP private key (PKCS#8 PEM); default: generated")
	fs.StringVar(&spCert, "sp-cert", "", "SAML: SP certificate PEM (with --sp-key)")
	fs.BoolVar(&idpInitiated, "allow-idp-initiated", false, "SAML: accept IdP-initiated logins (unbound to the browser: see README, Security)")
	fs.BoolVar(&signRequests, "sign-requests", false, "SAML: sign AuthnRequests")
	fs.BoolVar(&subjectHint, "subject-hint", false, "SAML: send the typed e-mail as the AuthnRequest's Subject/NameID (Keycloak, Shibboleth, ADFS; not Entra ID)")
	fs.StringVar(&issuer, "issuer", "", "OIDC: issuer URL")
	fs.StringVar(&clientID, "client-id", "", "OIDC: client ID at the IdP")
	b.str(&secretFile, "client-secret-file", "", "OIDC: file holding the client secret (or env SEATBRIDGE_CLIENT_SECRET)")
	fs.Var(&scopes, "scopes", "OIDC: scopes (default openid,email,profile)")
	fs.BoolVar(&userinfo, "userinfo", false, "OIDC: also read the userinfo endpoint")
	fs.BoolVar(&seat, "seat", false, "give every user of this connection a seat on login while seats are left")
	fs.StringVar(&mappingFile, "mapping-file", "", `JSON mapping: {"seat":true,"groupsAttr":"groups","rules":[{"group":"Support","seat":true,"roles":["Agent"],"teams":["Tier 1"]}]}`)
	fs.BoolVar(&disabled, "disabled", false, "create the connection disabled")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := b.err(); err != nil {
		return err
	}
	if tenant == "" || typ == "" {
		return usagef("--tenant and --type are required")
	}
	c := &provisioning.Connection{Name: name, Mode: provisioning.Mode(mode), Domains: domains, Disabled: disabled}
	if mappingFile != "" {
		mb, err := os.ReadFile(mappingFile)
		if err != nil {
			return fmt.Errorf("read mapping: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(mb)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c.Mapping); err != nil {
			return usagef("--mapping-file: %v", err)
		}
	}
	c.Mapping.Seat = c.Mapping.Seat || seat
	a, err := openApp(ctx, cfg, env)
	if err != nil {
		return err
	}
	defer a.Close()
	t, err := tenantBySlug(ctx, a, tenant)
	if err != nil {
		return err
	}
	box, err := a.secretBox()
	if err != nil {
		return err
	}
	switch provisioning.ConnectionType(typ) {
	case provisioning.ConnSAML:
		md, err := readSource(ctx, metaFile, metaURL)
		if err != nil {
			return err
		}
		var keyPEM, certPEM []byte
		if spKey != "" || spCert != "" {
			if spKey == "" || spCert == "" {
				return usagef("give both --sp-key and --sp-cert")
			}
			if keyPEM, err = os.ReadFile(spKey); err != nil {
				return err
			}
			if certPEM, err = os.ReadFile(spCert); err != nil {
				return err
			}
		}
		c.SAML = &provisioning.SAMLSettings{IdPMetadataURL: metaURL, AllowIdPInitiated: idpInitiated, SignRequests: signRequests,
			SubjectHint: subjectHint}
		c.ID = a.eng.NewID()
		if err := ssaml.Prepare(box, c, md, keyPEM, certPEM); err != nil {
			return err
		}
	case provisioning.ConnOIDC:
		secret := strings.TrimSpace(env.getenv("SEATBRIDGE_CLIENT_SECRET"))
		if secretFile != "" {
			sb, err := os.ReadFile(secretFile)
			if err != nil {
				return fmt.Errorf("read client secret: %w", err)
			}
			secret = strings.TrimSpace(string(sb))
		}
		c.OIDC = &provisioning.OIDCSettings{Scopes: scopes, UseUserinfo: userinfo}
		if err := ssooidc.Prepare(box, c, issuer, clientID, secret, a.eng.NewID); err != nil {
			return err
		}
	default:
		return usagef("--type must be saml or oidc")
	}
	created, err := a.eng.CreateConnection(ctx, cliActor(), t.ID, c)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	urls := map[string]string{"login": base + "/sso/" + t.Slug + "/login?connection=" + created.ID}
	if created.Type == provisioning.ConnSAML {
		urls["spEntityId"] = base + "/sso/" + t.Slug + "/saml/" + created.ID + "/metadata"
		urls["spMetadata"] = urls["spEntityId"]
		urls["acs"] = base + "/sso/" + t.Slug + "/saml/" + created.ID + "/acs"
	} else {
		urls["redirectUri"] = base + "/sso/" + t.Slug + "/oidc/" + created.ID + "/callback"
	}
	if cfg.JSON {
		return printJSON(env.stdout, map[string]any{"id": created.ID, "tenant": t.Slug, "type": created.Type, "mode": created.Mode,
			"domains": created.Domains, "urls": urls})
	}
	fmt.Fprintf(env.stdout, "created %s connection %s for tenant %s (mode %s, domains %s)\n", created.Type, created.ID, t.Slug,
		created.Mode, strings.Join(created.Domains, ", "))
	for _, k := range []string{"spEntityId", "acs", "spMetadata", "redirectUri", "login"} {
		if v, ok := urls[k]; ok {
			fmt.Fprintf(env.stdout, "  %-12s %s\n", k, v)
		}
	}
	return nil
}

func runConnectionList(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("connection list", env, &cfg)
	_, a, t, err := openTenantCommand(ctx, env, fs, b, &cfg, args, func([]string) error { return nil })
	if err != nil {
		return err
	}
	defer a.Close()
	cs, err := a.eng.ListConnections(ctx, t.ID)
	if err != nil {
		return err
	}
	type row struct {
		ID       string                      `json:"id"`
		Name     string                      `json:"name"`
		Type     provisioning.ConnectionType `json:"type"`
		Mode     provisioning.Mode           `json:"mode"`
		Domains  []string                    `json:"domains"`
		Disabled bool                        `json:"disabled"`
		Issuer   string                      `json:"issuer,omitempty"`
		Rules    int                         `json:"rules"`
	}
	rows := []row{}
	for _, c := range cs {
		r := row{ID: c.ID, Name: c.Name, Type: c.Type, Mode: c.Mode, Domains: c.Domains, Disabled: c.Disabled, Rules: len(c.Mapping.Rules)}
		if c.SAML != nil {
			if md, err := ssaml.ParseMetadata([]byte(c.SAML.IdPMetadataXML)); err == nil {
				r.Issuer = md.EntityID
			}
		}
		if c.OIDC != nil {
			r.Issuer = c.OIDC.Issuer
		}
		rows = append(rows, r)
	}
	return printList(env, &cfg, rows, "ID\tNAME\tTYPE\tMODE\tDOMAINS\tISSUER\tRULES\tDISABLED", func(w io.Writer, r row) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%t\n", r.ID, r.Name, r.Type, r.Mode, strings.Join(r.Domains, ","), r.Issuer, r.Rules, r.Disabled)
	})
}

func runConnectionDelete(ctx context.Context, env *cliEnv, args []string) error {
	id, a, t, err := openTenantItem(ctx, env, "connection delete", args)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.eng.DeleteConnection(ctx, cliActor(), t.ID, id); err != nil {
		if errors.Is(err, provisioning.ErrNotFound) {
			return fmt.Errorf("tenant %s has no connection %s", t.Slug, id)
		}
		return err
	}
	fmt.Fprintf(env.stdout, "deleted connection %s\n", id)
	return nil
}

func runClientCreate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	var name string
	var redirects, postLogout stringList
	var public bool
	var backchannel, idTokenAlg string
	fs, b := newFlags("client create", env, &cfg)
	b.str(&cfg.BaseURL, "base-url", "", "public URL of the server (the OIDC issuer)")
	fs.StringVar(&name, "name", "platform", "client name")
	fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&postLogout, "post-logout-uri", "post-logout redirect URI (repeatable)")
	fs.BoolVar(&public, "public", false, "public client (no secret; PKCE required)")
	fs.StringVar(&backchannel, "backchannel-logout-uri", "", "where the client receives OpenID Connect back-channel logout tokens")
	fs.StringVar(&idTokenAlg, "id-token-alg", "RS256", "JWS algorithm of the client's ID tokens (id_token_signed_response_alg): RS256 or ES256")
	a, err := openCommand(ctx, env, fs, b, &cfg, args)
	if err != nil {
		return err
	}
	defer a.Close()
	c, secret, err := provider.RegisterClient(ctx, a.db, provider.ClientRegistration{Name: name, RedirectURIs: redirects,
		PostLogoutRedirectURIs: postLogout, Public: public, BackchannelLogoutURI: backchannel,
		IDTokenSignedResponseAlg: idTokenAlg}, time.Now().UTC())
	if err != nil {
		return err
	}
	issuer := strings.TrimSuffix(cfg.BaseURL, "/")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	if cfg.JSON {
		return printJSON(env.stdout, map[string]any{"clientId": c.ID, "clientSecret": secret, "issuer": issuer,
			"redirectUris": c.RedirectURIs, "public": c.Public, "idTokenSignedResponseAlg": c.IDTokenAlg})
	}
	fmt.Fprintf(env.stdout, "client_id:     %s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(env.stdout, "client_secret: %s   (shown once; only a hash is stored)\n", secret)
	}
	fmt.Fprintf(env.stdout, "issuer:        %s   (discovery: %s/.well-known/openid-configuration)\n", issuer, issuer)
	fmt.Fprintf(env.stdout, "authorize with ?tenant=SLUG (and login_hint=EMAIL) to skip the organisation prompt\n")
	return nil
}

func runClientList(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("client list", env, &cfg)
	a, err := openCommand(ctx, env, fs, b, &cfg, args)
	if err != nil {
		return err
	}
	defer a.Close()
	cs, err := a.db.ListClients(ctx)
	if err != nil {
		return err
	}
	type row struct {
		ID           string    `json:"clientId"`
		Name         string    `json:"name"`
		Public       bool      `json:"public"`
		RedirectURIs []string  `json:"redirectUris"`
		CreatedAt    time.Time `json:"createdAt"`
	}
	rows := []row{}
	for _, c := range cs {
		rows = append(rows, row{c.ID, c.Name, c.Public, c.RedirectURIs, c.CreatedAt})
	}
	return printList(env, &cfg, rows, "CLIENT ID\tNAME\tPUBLIC\tREDIRECT URIS", func(w io.Writer, r row) {
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\n", r.ID, r.Name, r.Public, strings.Join(r.RedirectURIs, " "))
	})
}

func runKeyRotate(ctx context.Context, env *cliEnv, args []string) error {
	var cfg Config
	fs, b := newFlags("signing-key rotate", env, &cfg)
	a, err := openCommand(ctx, env, fs, b, &cfg, args)
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := ssoService(a)
	if err != nil {
		return err
	}
	kid, err := provider.New(svc).RotateKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "ID tokens are now signed with new keys (RS256 key %s, and a new ES256 key); older keys stay in the JWKS for 24h\n", kid)
	return nil
}

func samlSkew(cfg Config) time.Duration {
	if cfg.SAMLClockSkew > 0 {
		return cfg.SAMLClockSkew
	}
	return defaultSAMLClockSkew
}
