package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// This file serves SSO connections, their mapping rules and SCIM tokens. Metadata and
// discovery documents given by URL are fetched here with httpx.Fetch: bounded, and never
// to a private or local address unless the operator allowed it (Options.FetchPrivate).

// connectionBody is a connection create or change. Absent fields stay as they are.
type connectionBody struct {
	Name     *string                     `json:"name"`
	Type     provisioning.ConnectionType `json:"type"`
	Mode     *provisioning.Mode          `json:"mode"`
	Domains  *[]string                   `json:"domains"`
	Disabled *bool                       `json:"disabled"`
	Mapping  *provisioning.Mapping       `json:"mapping"`
	SAML     *struct {
		MetadataXML       string    `json:"metadataXml"`
		MetadataURL       string    `json:"metadataUrl"`
		Certificates      *[]string `json:"certificates"`
		AllowIdPInitiated *bool     `json:"allowIdpInitiated"`
		SignRequests      *bool     `json:"signRequests"`
		SubjectHint       *bool     `json:"subjectHint"`
	} `json:"saml"`
	OIDC *struct {
		Issuer       *string   `json:"issuer"`
		DiscoveryURL string    `json:"discoveryUrl"`
		ClientID     *string   `json:"clientId"`
		ClientSecret string    `json:"clientSecret"`
		Scopes       *[]string `json:"scopes"`
		UseUserinfo  *bool     `json:"useUserinfo"`
	} `json:"oidc"`
}

// spec turns the body into the engine's spec, fetching metadata or discovery by URL.
func (a *API) connectionSpec(r *http.Request, b *connectionBody) (provisioning.ConnectionSpec, error) {
	s := provisioning.ConnectionSpec{Name: b.Name, Type: b.Type, Mode: b.Mode, Domains: b.Domains, Disabled: b.Disabled, Mapping: b.Mapping}
	if x := b.SAML; x != nil {
		s.SAMLCertificates, s.AllowIdPInitiated, s.SignRequests, s.SubjectHint = x.Certificates, x.AllowIdPInitiated, x.SignRequests, x.SubjectHint
		switch {
		case x.MetadataXML != "" && x.MetadataURL != "":
			return s, badf("saml.metadataUrl", "give metadataXml or metadataUrl, not both")
		case x.MetadataXML != "":
			s.SAMLMetadata = []byte(x.MetadataXML)
		case x.MetadataURL != "":
			md, err := a.fetch(r, x.MetadataURL)
			if err != nil {
				return s, badf("saml.metadataUrl", "%s", fetchReason(err))
			}
			s.SAMLMetadata, s.SAMLMetadataURL = md, x.MetadataURL
		}
	}
	if x := b.OIDC; x != nil {
		s.OIDCIssuer, s.OIDCClientID, s.OIDCClientSecret, s.OIDCScopes, s.OIDCUseUserinfo = x.Issuer, x.ClientID, x.ClientSecret, x.Scopes, x.UseUserinfo
		if x.DiscoveryURL != "" {
			issuer, err := a.discover(r, x.DiscoveryURL)
			if err != nil {
				return s, err
			}
			if x.Issuer != nil && strings.TrimSuffix(*x.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
				return s, badf("oidc.issuer", "the discovery document names issuer %q", issuer)
			}
			s.OIDCIssuer = &issuer
		}
	}
	return s, nil
}

// discover reads an OpenID Provider's discovery document and returns its issuer
// (httpx.DiscoverIssuer, shared with the console).
func (a *API) discover(r *http.Request, u string) (string, error) {
	issuer, err := httpx.DiscoverIssuer(r.Context(), u, httpx.FetchOptions{MaxBytes: 2 << 20, AllowPrivate: a.opts.FetchPrivate})
	if err != nil {
		var de *httpx.DiscoveryError
		if errors.As(err, &de) {
			return "", badf("oidc.discoveryUrl", "%s", de.Reason)
		}
		return "", err
	}
	return issuer, nil
}

func (a *API) fetch(r *http.Request, u string) ([]byte, error) {
	return httpx.Fetch(r.Context(), u, httpx.FetchOptions{MaxBytes: 2 << 20, AllowPrivate: a.opts.FetchPrivate})
}

func fetchReason(err error) string {
	var fe *httpx.FetchError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return "could not be fetched"
}

// preparer returns the SSO door's connection preparer, or a 501 when the server runs
// without one.
func (a *API) preparer() (provisioning.ConnectionPreparer, error) {
	return configured(a.opts.Connections, "not_implemented", "SSO connections are not served by this server")
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	cs, err := a.eng.ListConnections(r.Context(), p.Tenant.ID)
	if err != nil {
		return err
	}
	out := make([]*provisioning.Connection, 0, len(cs))
	for i := range cs {
		out = append(out, provisioning.ConnectionView(&cs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
	return nil
}

func (a *API) createConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	prep, err := a.preparer()
	if err != nil {
		return err
	}
	var b connectionBody
	if err := a.decode(w, r, &b); err != nil {
		return err
	}
	if b.Type == "" {
		return badf("type", "is required (saml or oidc)")
	}
	spec, err := a.connectionSpec(r, &b)
	if err != nil {
		return err
	}
	c, err := a.eng.CreateConnectionFrom(r.Context(), p.Actor, p.Tenant.ID, spec, prep)
	if err != nil {
		return err
	}
	return created(w, "/connections/"+c.ID, provisioning.ConnectionView(c))
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	c, err := a.eng.GetConnection(r.Context(), p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, provisioning.ConnectionView(c))
	return nil
}

func (a *API) updateConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var b connectionBody
	if err := a.decode(w, r, &b); err != nil {
		return err
	}
	return a.changeConnection(w, r, p, &b)
}

func (a *API) changeConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, b *connectionBody) error {
	prep, err := a.preparer()
	if err != nil {
		return err
	}
	spec, err := a.connectionSpec(r, b)
	if err != nil {
		return err
	}
	c, err := a.eng.UpdateConnection(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), spec, prep)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, provisioning.ConnectionView(c))
	return nil
}

func (a *API) setConnectionMapping(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var m provisioning.Mapping
	if err := a.decode(w, r, &m); err != nil {
		return err
	}
	return a.changeConnection(w, r, p, &connectionBody{Mapping: &m})
}

func (a *API) disableConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	t := true
	return a.changeConnection(w, r, p, &connectionBody{Disabled: &t})
}

func (a *API) enableConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	f := false
	return a.changeConnection(w, r, p, &connectionBody{Disabled: &f})
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	return noContent(w, a.eng.DeleteConnection(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func (a *API) listSCIMTokens(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	ts, err := a.eng.Store.ListTokens(r.Context(), p.Tenant.ID)
	if err != nil {
		return err
	}
	out := []provisioning.APIToken{}
	for _, t := range ts {
		if t.Kind == provisioning.TokenSCIM {
			out = append(out, t)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (a *API) createSCIMToken(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var b struct {
		Name string `json:"name"`
	}
	if err := a.decode(w, r, &b); err != nil {
		return err
	}
	secret, t, err := a.eng.CreateToken(r.Context(), p.Actor, p.Tenant.ID, provisioning.TokenSCIM, b.Name)
	if err != nil {
		return err
	}
	// The secret is in this response only; the store keeps its hash.
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "createdAt": t.CreatedAt, "token": secret})
	return nil
}

func (a *API) revokeSCIMToken(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	ts, err := a.eng.Store.ListTokens(r.Context(), p.Tenant.ID)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	found := false
	for _, t := range ts {
		found = found || (t.ID == id && t.Kind == provisioning.TokenSCIM)
	}
	if !found {
		return provisioning.ErrNotFound
	}
	return noContent(w, a.eng.RevokeToken(r.Context(), p.Actor, p.Tenant.ID, id))
}

// previewMapping answers what a mapping (the body) would change for the directory's users,
// without applying it; 409 seat_limit when it would need more seats than are free.
func (a *API) previewMapping(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var m provisioning.Mapping
	if err := a.decode(w, r, &m); err != nil {
		return err
	}
	pv, err := a.eng.PreviewMapping(r.Context(), p.Tenant.ID, r.PathValue("id"), m)
	var se *provisioning.SeatLimitError
	if errors.As(err, &se) && pv != nil {
		httpx.WriteJSON(w, http.StatusConflict, "", errorBody{Error: errorDetail{Code: "seat_limit", Field: "mapping",
			Message: fmt.Sprintf("this mapping would give %d users without a seat one, but only %d of %d seats are free", se.Requested, se.Free, se.Limit),
			Details: map[string]any{"requested": se.Requested, "free": se.Free, "limit": se.Limit, "preview": pv}}})
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pv)
	return nil
}
