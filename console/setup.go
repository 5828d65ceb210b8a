package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// The set-up wizard at /setup/{token}: the customer's IT admin configures the tenant's
// SSO connection and SCIM token from a link, without an account. It lives here for the
// console's page shell, stylesheet and templates; its authentication is the link itself
// (provisioning.Engine.OpenSetupLink on every request), checked instead of a session, and
// it can do nothing else than what the wizard offers for that one tenant. Forms are
// refused unless the browser says they come from this origin (http.CrossOriginProtection):
// there is no session cookie to derive a form token from, and the link is the secret.

// SetupPrefix is where the wizard is mounted.
const SetupPrefix = "/setup/"

// provider is an IdP the wizard knows, with the names its admin screens use.
type provider struct {
	Key, Name, Protocol string
	// Labels of the values to paste, as the IdP's screens name them.
	ACS, EntityID, Redirect, SCIMBase, SCIMToken string
}

var providers = []provider{
	{Key: "okta", Name: "Okta", Protocol: "saml", ACS: "Single sign-on URL", EntityID: "Audience URI (SP Entity ID)",
		SCIMBase: "SCIM connector base URL", SCIMToken: "API token (HTTP Header: Authorization, Bearer)"},
	{Key: "entra", Name: "Microsoft Entra ID", Protocol: "saml", ACS: "Reply URL (Assertion Consumer Service URL)",
		EntityID: "Identifier (Entity ID)", SCIMBase: "Tenant URL", SCIMToken: "Secret Token"},
	{Key: "google", Name: "Google Workspace", Protocol: "saml", ACS: "ACS URL", EntityID: "Entity ID",
		SCIMBase: "SCIM base URL", SCIMToken: "Bearer token"},
	{Key: "saml", Name: "Generic SAML 2.0", Protocol: "saml", ACS: "Assertion Consumer Service (ACS) URL",
		EntityID: "SP Entity ID (Audience)", SCIMBase: "SCIM base URL", SCIMToken: "Bearer token"},
	{Key: "oidc", Name: "Generic OpenID Connect", Protocol: "oidc", Redirect: "Redirect URI (sign-in redirect URI)",
		SCIMBase: "SCIM base URL", SCIMToken: "Bearer token"},
}

func providerByKey(k string) *provider {
	for i := range providers {
		if providers[i].Key == k {
			return &providers[i]
		}
	}
	return nil
}

// setupData is what the wizard page shows.
type setupData struct {
	Path       string // /setup/{token}
	Tenant     *provisioning.Tenant
	Link       *provisioning.SetupLink
	Providers  []provider
	Provider   *provider
	Conn       *provisioning.Connection
	ACS        string
	EntityID   string
	Metadata   string
	Redirect   string
	SCIMBase   string
	SCIMToken  string // shown once, right after it was created
	Test       *provisioning.TestLoginResult
	Log        []provisioning.ProvisioningLogEntry
	Logins     []provisioning.LoginEvent
	ExpiresIn  string
	StepsDone  int
	StepsTotal int
}

func (h *Handler) mountSetup(mux *http.ServeMux) {
	for _, rt := range []struct {
		pattern string
		fn      func(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant)
	}{
		{"GET " + SetupPrefix + "{token}", h.setupPage},
		{"POST " + SetupPrefix + "{token}/provider", h.setupProvider},
		{"POST " + SetupPrefix + "{token}/connection", h.setupConnection},
		{"POST " + SetupPrefix + "{token}/scim-token", h.setupSCIMToken},
		{"GET " + SetupPrefix + "{token}/test", h.setupTest},
		{"GET " + SetupPrefix + "{token}/test/{ticket}", h.setupTestResult},
		{"POST " + SetupPrefix + "{token}/activate", h.setupActivate},
	} {
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(httpx.RequestIDHeader, httpx.RequestID(r))
			// The link is the credential: no cache may keep its pages (SCIM token shown once).
			w.Header().Set("Cache-Control", "no-store")
			l, t, err := h.eng.OpenSetupLink(r.Context(), r.PathValue("token"))
			if err != nil {
				if !errors.Is(err, provisioning.ErrBadSetupLink) {
					h.Log.ErrorContext(r.Context(), "setup: open link", "err", err)
				}
				h.message(w, nil, http.StatusNotFound, "This set-up link does not work",
					"It is invalid, has expired or was revoked. Ask the person who sent it for a new one.")
				return
			}
			httpx.SetTenant(r.Context(), t.ID)
			if r.Method == http.MethodPost {
				if err := h.csrf.Check(r); err != nil {
					h.message(w, nil, http.StatusForbidden, "Request refused", "This form was sent from another site. Nothing was changed.")
					return
				}
				r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
				if err := r.ParseForm(); err != nil {
					h.message(w, nil, http.StatusBadRequest, "Check your input", "The form could not be read (too large or malformed).")
					return
				}
			}
			rt.fn(w, r, l, t)
		})
	}
}

func (h *Handler) setupPath(r *http.Request) string {
	return SetupPrefix + url.PathEscape(r.PathValue("token"))
}

func (h *Handler) base() string { return strings.TrimSuffix(h.BaseURL, "/") }

// spURLs are the values an IdP is given for connection id of a tenant: the SAML ACS URL and
// entity ID (also where its SP metadata is served), and the OIDC redirect URI. The sso
// door serves exactly these paths.
func (h *Handler) spURLs(tenantSlug, id string) (acs, entityID, redirect string) {
	prefix := h.base() + "/sso/" + url.PathEscape(tenantSlug)
	return prefix + "/saml/" + id + "/acs", prefix + "/saml/" + id + "/metadata", prefix + "/oidc/" + id + "/callback"
}

// renderSetup shows the wizard with the link's progress.
func (h *Handler) renderSetup(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant, status int, v *view, d *setupData) {
	if d == nil {
		d = &setupData{}
	}
	d.Path, d.Tenant, d.Link, d.Providers = h.setupPath(r), t, l, providers
	d.Provider = providerByKey(l.Progress.Provider)
	if id := l.Progress.ConnectionID; id != "" {
		d.ACS, d.EntityID, d.Redirect = h.spURLs(t.Slug, id)
		if c, err := h.eng.GetConnection(r.Context(), t.ID, id); err == nil {
			d.Conn = provisioning.ConnectionView(c)
			if c.Type == provisioning.ConnSAML {
				d.Metadata = d.EntityID
			}
		}
	}
	d.SCIMBase = h.base() + "/scim/v2/" + url.PathEscape(t.Slug)
	if d.Test == nil && l.Progress.TestedAt != nil {
		d.Test = &provisioning.TestLoginResult{OK: l.Progress.TestOK, At: *l.Progress.TestedAt}
	}
	d.Log, _ = h.eng.ListProvisioningLog(r.Context(), t.ID, provisioning.ProvisioningLogQuery{Limit: 10})
	d.Logins, _ = h.eng.Store.ListLogins(r.Context(), t.ID, provisioning.LoginQuery{Limit: 10})
	d.ExpiresIn = until(l.ExpiresAt, h.eng.Now())
	d.StepsTotal = 5
	for _, done := range []bool{d.Provider != nil, d.Conn != nil, l.Progress.SCIMTokenID != "", l.Progress.TestOK, l.Progress.ActivatedAt != nil} {
		if done {
			d.StepsDone++
		}
	}
	if v == nil {
		v = &view{}
	}
	v.Title, v.Data = "Set up single sign-on for "+t.Name, d
	h.render(w, nil, status, "setup", v)
}

func until(at, now time.Time) string {
	d := at.Sub(now)
	switch {
	case d >= 48*time.Hour:
		return itoa(int(d.Hours()/24)) + " days"
	case d >= 2*time.Hour:
		return itoa(int(d.Hours())) + " hours"
	}
	return itoa(int(d.Minutes())) + " minutes"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	h.renderSetup(w, r, l, t, http.StatusOK, nil, nil)
}

func (h *Handler) setupProvider(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	p := providerByKey(r.PostFormValue("provider"))
	if p == nil {
		h.renderSetup(w, r, l, t, http.StatusBadRequest, &view{Error: "Pick one of the identity providers."}, nil)
		return
	}
	if l.Progress.ConnectionID != "" {
		if c, err := h.eng.GetConnection(r.Context(), t.ID, l.Progress.ConnectionID); err == nil && string(c.Type) != p.Protocol {
			h.renderSetup(w, r, l, t, http.StatusConflict, &view{Error: "The connection already made uses " + strings.ToUpper(string(c.Type)) + "; pick a provider of that protocol."}, nil)
			return
		}
	}
	l.Progress.Provider = p.Key
	if l.Progress.ConnectionID == "" {
		// The connection's ID is chosen now: the URLs the IdP needs are built from it
		// before the IdP's metadata exists.
		l.Progress.ConnectionID = h.eng.NewID()
	}
	if err := h.eng.SaveSetupProgress(r.Context(), l); err != nil {
		h.setupFail(w, r, err)
		return
	}
	http.Redirect(w, r, h.setupPath(r)+"#values", http.StatusSeeOther)
}

func (h *Handler) setupFail(w http.ResponseWriter, r *http.Request, err error) {
	h.Log.ErrorContext(r.Context(), "setup", "err", err, "request_id", w.Header().Get(httpx.RequestIDHeader))
	h.message(w, nil, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
}

// setupConnection creates (or updates) the link's connection, not active until Activate.
func (h *Handler) setupConnection(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	p := providerByKey(l.Progress.Provider)
	if p == nil || l.Progress.ConnectionID == "" {
		h.renderSetup(w, r, l, t, http.StatusBadRequest, &view{Error: "Pick your identity provider first."}, nil)
		return
	}
	f := r.PostForm
	domains := strings.FieldsFunc(f.Get("domains"), func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' })
	mode := provisioning.Mode(f.Get("mode"))
	if mode == "" {
		mode = provisioning.ModeJIT
	}
	name, disabled := p.Name, l.Progress.ActivatedAt == nil
	spec := provisioning.ConnectionSpec{ID: l.Progress.ConnectionID, Type: provisioning.ConnectionType(p.Protocol), Name: &name,
		Mode: &mode, Domains: &domains, Disabled: &disabled}
	formErr := func(field, msg string) {
		h.renderSetup(w, r, l, t, http.StatusBadRequest, &view{Errors: map[string]string{field: msg}, Form: f}, nil)
	}
	if p.Protocol == "saml" {
		md, mdURL := strings.TrimSpace(f.Get("metadata_xml")), strings.TrimSpace(f.Get("metadata_url"))
		switch {
		case md != "":
			spec.SAMLMetadata = []byte(md)
		case mdURL != "":
			b, msg := h.fetchMetadata(r.Context(), mdURL)
			if msg != "" {
				formErr("metadata_url", msg)
				return
			}
			spec.SAMLMetadata, spec.SAMLMetadataURL = b, mdURL
		default:
			formErr("metadata_xml", "Paste the IdP metadata XML or give its URL.")
			return
		}
	} else {
		issuer, clientID := strings.TrimSpace(f.Get("issuer")), strings.TrimSpace(f.Get("client_id"))
		if strings.HasSuffix(issuer, httpx.WellKnownOIDC) { // a discovery URL, as the API takes
			iss, err := httpx.DiscoverIssuer(r.Context(), issuer, httpx.FetchOptions{MaxBytes: 2 << 20, AllowPrivate: h.FetchPrivate})
			var de *httpx.DiscoveryError
			switch {
			case errors.As(err, &de):
				formErr("issuer", "The discovery URL did not work: "+de.Reason+".")
				return
			case err != nil:
				h.setupFail(w, r, err)
				return
			}
			issuer = iss
		}
		spec.OIDCIssuer, spec.OIDCClientID, spec.OIDCClientSecret = &issuer, &clientID, f.Get("client_secret")
	}
	actor := provisioning.SetupActor(l, httpx.ClientIP(r, h.TrustForwarded))
	var err error
	if _, gerr := h.eng.GetConnection(r.Context(), t.ID, l.Progress.ConnectionID); gerr == nil {
		spec.Type = ""
		_, err = h.eng.UpdateConnection(r.Context(), actor, t.ID, l.Progress.ConnectionID, spec, h.Connections)
	} else {
		_, err = h.eng.CreateConnectionFrom(r.Context(), actor, t.ID, spec, h.Connections)
	}
	var ve *provisioning.ValidationError
	if errors.As(err, &ve) {
		field := "metadata_xml"
		switch {
		case strings.HasPrefix(ve.Field, "domains"):
			field = "domains"
		case ve.Field == "mode":
			field = "mode"
		case strings.HasPrefix(ve.Field, "oidc"):
			field = "issuer"
		}
		formErr(field, ve.Reason)
		return
	}
	if err != nil {
		h.setupFail(w, r, err)
		return
	}
	l.Progress.TestOK, l.Progress.TestedAt = false, nil // a changed connection is tested again
	if err := h.eng.SaveSetupProgress(r.Context(), l); err != nil {
		h.setupFail(w, r, err)
		return
	}
	http.Redirect(w, r, h.setupPath(r)+"#test", http.StatusSeeOther)
}

func (h *Handler) setupSCIMToken(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	p := providerByKey(l.Progress.Provider)
	name := "set-up link"
	if p != nil {
		name = p.Name
	}
	secret, tok, err := h.eng.CreateToken(r.Context(), provisioning.SetupActor(l, httpx.ClientIP(r, h.TrustForwarded)), t.ID, provisioning.TokenSCIM, name)
	if err != nil {
		h.setupFail(w, r, err)
		return
	}
	l.Progress.SCIMTokenID = tok.ID
	if err := h.eng.SaveSetupProgress(r.Context(), l); err != nil {
		h.setupFail(w, r, err)
		return
	}
	// Shown in this response only: the store keeps its hash.
	h.renderSetup(w, r, l, t, http.StatusOK, &view{Notice: "SCIM token created. Copy it now: it is shown only once."}, &setupData{SCIMToken: secret})
}

// setupTest starts a test sign-in through the connection (a link, not a form: the IdP is
// another origin and form-action would stop the redirect).
func (h *Handler) setupTest(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	ticket, err := h.eng.StartTestSignIn(r.Context(), l, func(key string) string { return h.setupPath(r) + "/test/" + key })
	var ve *provisioning.ValidationError
	if errors.As(err, &ve) {
		h.renderSetup(w, r, l, t, http.StatusBadRequest, &view{Error: "Save the connection before testing it."}, nil)
		return
	}
	if err != nil {
		h.setupFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/sso/"+url.PathEscape(t.Slug)+"/test/"+ticket, http.StatusSeeOther)
}

func (h *Handler) setupTestResult(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	res, err := h.eng.TestResult(r.Context(), t.ID, r.PathValue("ticket"))
	if err != nil {
		h.renderSetup(w, r, l, t, http.StatusNotFound, &view{Error: "This test result has expired. Run the test again."}, nil)
		return
	}
	at := res.At
	l.Progress.TestedAt, l.Progress.TestOK = &at, res.OK
	if err := h.eng.SaveSetupProgress(r.Context(), l); err != nil {
		h.setupFail(w, r, err)
		return
	}
	h.renderSetup(w, r, l, t, http.StatusOK, nil, &setupData{Test: res})
}

func (h *Handler) setupActivate(w http.ResponseWriter, r *http.Request, l *provisioning.SetupLink, t *provisioning.Tenant) {
	if l.Progress.ConnectionID == "" || !l.Progress.TestOK {
		h.renderSetup(w, r, l, t, http.StatusConflict, &view{Error: "Run a successful test sign-in before activating."}, nil)
		return
	}
	f := false
	if _, err := h.eng.UpdateConnection(r.Context(), provisioning.SetupActor(l, httpx.ClientIP(r, h.TrustForwarded)), t.ID,
		l.Progress.ConnectionID, provisioning.ConnectionSpec{Disabled: &f}, h.Connections); err != nil {
		h.setupFail(w, r, err)
		return
	}
	now := h.eng.Now().UTC()
	l.Progress.ActivatedAt = &now
	if err := h.eng.SaveSetupProgress(r.Context(), l); err != nil {
		h.setupFail(w, r, err)
		return
	}
	http.Redirect(w, r, h.setupPath(r)+"#done", http.StatusSeeOther)
}
