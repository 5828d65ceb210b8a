package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/seatbridge/seatbridge/internal/httpx"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The console's page of one SSO connection: its settings, enable/disable, delete, and its
// mapping rules with a preview of what a change would do. The engine audits every change.

type connData struct {
	Conn     *provisioning.Connection
	ACS      string
	EntityID string
	Redirect string
	Example  string
	Preview  *provisioning.MappingPreview
	Refusal  string
	// Certs are the extra IdP signing certificates (rotation), as SHA-256 fingerprints.
	Certs []string
	// SecretSet: the OIDC client secret is stored (it is never shown).
	SecretSet bool
}

const mappingExample = `{
  "seat": false,
  "rules": [
    {"group": "Support", "seat": true, "roles": ["Agent"], "teams": ["Tier 1"]},
    {"group": "Support Leads", "roles": ["Supervisor"]}
  ]
}`

func (h *Handler) connection(w http.ResponseWriter, r *http.Request, rq *request) {
	h.connPage(w, r, rq, http.StatusOK, nil, nil, nil, "")
}

func (h *Handler) connPage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string, pv *provisioning.MappingPreview, refusal string) {
	c, err := h.eng.GetConnection(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if form == nil {
		form = storedForm(c)
	}
	d := connData{Conn: provisioning.ConnectionView(c), Example: mappingExample, Preview: pv, Refusal: refusal}
	if c.SAML != nil {
		for _, pc := range c.SAML.IdPCertificatesPEM {
			d.Certs = append(d.Certs, certFingerprint(pc))
		}
	}
	if c.OIDC != nil {
		d.SecretSet = len(c.OIDC.ClientSecretSealed) > 0
		form = withDefault(form, "issuer", c.OIDC.Issuer)
		form = withDefault(form, "client_id", c.OIDC.ClientID)
	}
	acs, entityID, redirect := h.spURLs(rq.p.Tenant.Slug, c.ID)
	if c.Type == provisioning.ConnSAML {
		d.ACS, d.EntityID = acs, entityID
	} else {
		d.Redirect = redirect
	}
	v := &view{Title: "Connection " + c.Name, Nav: "sso", Notice: notice(r), Form: form, Errors: errs, Data: d}
	if len(errs) > 0 {
		v.Error = "Nothing was saved: check the marked fields."
		if m := errs["_"]; m != "" {
			v.Error = m
		}
	}
	h.render(w, rq, status, "connection", v)
}

// storedForm is the page's forms filled from the stored connection.
func storedForm(c *provisioning.Connection) url.Values {
	m, _ := json.MarshalIndent(c.Mapping, "", "  ")
	form := url.Values{"name": {c.Name}, "domains": {strings.Join(c.Domains, "\n")}, "mode": {string(c.Mode)}, "mapping": {string(m)}}
	if c.SAML != nil && c.SAML.AllowIdPInitiated {
		form.Set("idpInitiated", "on")
	}
	return form
}

func (h *Handler) updateConnection(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	c, err := h.eng.GetConnection(r.Context(), rq.p.Tenant.ID, id)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	mode := provisioning.Mode(r.PostFormValue("mode"))
	domains := []string{}
	for _, d := range strings.FieldsFunc(r.PostFormValue("domains"), func(c rune) bool { return c == ',' || c == '\n' || c == '\r' || c == ' ' }) {
		domains = append(domains, strings.ToLower(d))
	}
	spec := provisioning.ConnectionSpec{Name: &name, Mode: &mode, Domains: &domains}
	if c.Type == provisioning.ConnSAML {
		idp := r.PostFormValue("idpInitiated") == "on"
		spec.AllowIdPInitiated = &idp
	}
	if _, err := h.eng.UpdateConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, spec, nil); err != nil {
		errs, ok := h.formErrors(w, r, rq, err, "name", "mode", "domains")
		if !ok {
			return
		}
		h.connPage(w, r, rq, http.StatusBadRequest, h.keepMapping(c, r.PostForm), errs, nil, "")
		return
	}
	http.Redirect(w, r, rq.base+"/sso/connections/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
}

// keepMapping adds the stored mapping to a settings form shown again.
func (h *Handler) keepMapping(c *provisioning.Connection, form url.Values) url.Values {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if f.Get("mapping") == "" {
		m, _ := json.MarshalIndent(c.Mapping, "", "  ")
		f.Set("mapping", string(m))
	}
	if f.Get("name") == "" && form.Get("mapping") != "" {
		f.Set("name", c.Name)
		f.Set("domains", strings.Join(c.Domains, "\n"))
		f.Set("mode", string(c.Mode))
		if c.SAML != nil && c.SAML.AllowIdPInitiated {
			f.Set("idpInitiated", "on")
		}
	}
	return f
}

// fetchMetadata reads an IdP's SAML metadata from its URL for the connection forms (the
// console's and the set-up wizard's); when it fails, msg says why, for the field.
func (h *Handler) fetchMetadata(ctx context.Context, u string) (b []byte, msg string) {
	b, err := httpx.Fetch(ctx, u, httpx.FetchOptions{MaxBytes: 2 << 20, AllowPrivate: h.FetchPrivate})
	if err == nil {
		return b, ""
	}
	var fe *httpx.FetchError
	if errors.As(err, &fe) {
		return nil, "The metadata URL did not work: " + fe.Reason + "."
	}
	return nil, "The metadata could not be fetched."
}

// stateChoice reads the state field of an enable/disable form: true for on, false for
// off; any other value is answered with a 400 and ok is false.
func (h *Handler) stateChoice(w http.ResponseWriter, r *http.Request, rq *request, on, off string) (choice, ok bool) {
	switch r.PostFormValue("state") {
	case on:
		return true, true
	case off:
		return false, true
	}
	h.message(w, rq, http.StatusBadRequest, "Check your input", "Unknown state.")
	return false, false
}

func (h *Handler) connectionState(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	disabled, ok := h.stateChoice(w, r, rq, "disable", "enable")
	if !ok {
		return
	}
	_, err := h.eng.UpdateConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.ConnectionSpec{Disabled: &disabled}, nil)
	h.afterChange(w, r, rq, err, rq.base+"/sso/connections/"+url.PathEscape(id)+"?done=saved")
}

func (h *Handler) deleteConnection(w http.ResponseWriter, r *http.Request, rq *request) {
	c, err := h.eng.GetConnection(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if !h.confirmed(w, r, rq, "Delete connection "+c.Name+"?", "Nobody can sign in through it any more; its users stay users of the organisation.",
		"Delete connection", rq.base+"/sso/connections/"+url.PathEscape(c.ID), nil) {
		return
	}
	h.afterChange(w, r, rq, h.eng.DeleteConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, c.ID), rq.base+"/sso?done=deleted")
}

// parseMapping reads the mapping textarea: the JSON the API takes, nothing unknown.
func parseMapping(s string) (*provisioning.Mapping, error) {
	var m provisioning.Mapping
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not valid mapping JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not valid mapping JSON: text after the closing brace")
	}
	return &m, nil
}

// mappingError puts an engine error about the mapping next to the textarea.
func mappingError(err error) (map[string]string, bool) {
	var ve *provisioning.ValidationError
	var re *provisioning.RuleError
	switch {
	case errors.As(err, &ve):
		return map[string]string{"mapping": ve.Field + ": " + ve.Reason}, true
	case errors.As(err, &re):
		return map[string]string{"mapping": re.Field + ": " + re.Reason}, true
	}
	return nil, false
}

// connectionMapping previews (action=preview) or saves (action=save) the mapping.
func (h *Handler) connectionMapping(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	c, err := h.eng.GetConnection(r.Context(), rq.p.Tenant.ID, id)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	form := h.keepMapping(c, r.PostForm)
	m, err := parseMapping(r.PostFormValue("mapping"))
	if err != nil {
		h.connPage(w, r, rq, http.StatusBadRequest, form, map[string]string{"mapping": err.Error()}, nil, "")
		return
	}
	if r.PostFormValue("action") == "preview" {
		pv, err := h.eng.PreviewMapping(r.Context(), rq.p.Tenant.ID, id, *m)
		var se *provisioning.SeatLimitError
		switch {
		case errors.As(err, &se):
			h.connPage(w, r, rq, http.StatusConflict, form, nil, nil,
				fmt.Sprintf("Refused: this mapping would give %d users without a seat one, but only %d of %d seats are free.", se.Requested, se.Free, se.Limit))
			return
		case err != nil:
			if errs, ok := mappingError(err); ok {
				h.connPage(w, r, rq, http.StatusBadRequest, form, errs, nil, "")
				return
			}
			h.fail(w, r, rq, err)
			return
		}
		h.connPage(w, r, rq, http.StatusOK, form, nil, pv, "")
		return
	}
	if _, err := h.eng.UpdateConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.ConnectionSpec{Mapping: m}, nil); err != nil {
		if errs, ok := mappingError(err); ok {
			h.connPage(w, r, rq, http.StatusBadRequest, form, errs, nil, "")
			return
		}
		h.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, rq.base+"/sso/connections/"+url.PathEscape(id)+"?done=saved#mapping", http.StatusSeeOther)
}

// withDefault sets key in a copy of form when it is absent.
func withDefault(form url.Values, key, val string) url.Values {
	if _, ok := form[key]; ok {
		return form
	}
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set(key, val)
	return f
}

// certFingerprint is a PEM certificate's SHA-256 fingerprint (of its DER), for the page.
func certFingerprint(pemCert string) string {
	b, _ := pem.Decode([]byte(pemCert))
	if b == nil {
		return "(unreadable certificate)"
	}
	sum := sha256.Sum256(b.Bytes)
	parts := make([]string, 0, 8)
	for _, x := range sum[:8] {
		parts = append(parts, fmt.Sprintf("%02X", x))
	}
	return "SHA-256 " + strings.Join(parts, ":") + "…"
}

// connectionIdP changes what the connection trusts of its identity provider: for SAML,
// new IdP metadata (pasted or by URL, action=metadata) and the extra signing certificate
// of a rotation (action=add-cert / remove-cert); for OIDC, the issuer (or its discovery
// URL), the client ID and a new client secret (write-only). The spec and the engine calls
// are the admin API's (provisioning.ConnectionSpec, Engine.UpdateConnection with the SSO
// door's preparer): a refusal is shown next to its field and nothing is stored.
func (h *Handler) connectionIdP(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	c, err := h.eng.GetConnection(r.Context(), rq.p.Tenant.ID, id)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if h.Connections == nil {
		h.message(w, rq, http.StatusNotImplemented, "Not available", "SSO connections are not served by this server.")
		return
	}
	f := r.PostForm
	form := storedForm(c)
	for _, k := range []string{"metadata_xml", "metadata_url", "certificate", "issuer", "client_id"} {
		if v, ok := f[k]; ok {
			form[k] = v
		}
	}
	bad := func(field, msg string) {
		h.connPage(w, r, rq, http.StatusBadRequest, form, map[string]string{field: msg}, nil, "")
	}
	var spec provisioning.ConnectionSpec
	errField := "issuer"
	if c.Type == provisioning.ConnSAML {
		extra := []string{}
		if c.SAML != nil {
			extra = append(extra, c.SAML.IdPCertificatesPEM...)
		}
		switch f.Get("action") {
		case "metadata":
			md, mdURL := strings.TrimSpace(f.Get("metadata_xml")), strings.TrimSpace(f.Get("metadata_url"))
			errField = "metadata_xml"
			switch {
			case md != "" && mdURL != "":
				bad("metadata_url", "Paste the metadata or give its URL, not both.")
				return
			case md != "":
				spec.SAMLMetadata = []byte(md)
			case mdURL != "":
				errField = "metadata_url"
				b, msg := h.fetchMetadata(r.Context(), mdURL)
				if msg != "" {
					bad("metadata_url", msg)
					return
				}
				spec.SAMLMetadata, spec.SAMLMetadataURL = b, mdURL
			default:
				bad("metadata_xml", "Paste the IdP metadata XML or give its URL.")
				return
			}
		case "add-cert":
			errField = "certificate"
			pc := strings.TrimSpace(f.Get("certificate"))
			if pc == "" {
				bad("certificate", "Paste the new certificate (PEM, -----BEGIN CERTIFICATE-----).")
				return
			}
			extra = append(extra, pc)
			spec.SAMLCertificates = &extra
		case "remove-cert":
			i, err := strconv.Atoi(f.Get("index"))
			if err != nil || i < 0 || i >= len(extra) {
				h.message(w, rq, http.StatusBadRequest, "Check your input", "Unknown certificate.")
				return
			}
			extra = append(extra[:i:i], extra[i+1:]...)
			spec.SAMLCertificates = &extra
		default:
			h.message(w, rq, http.StatusBadRequest, "Check your input", "Unknown action.")
			return
		}
	} else {
		issuer, clientID := strings.TrimSpace(f.Get("issuer")), strings.TrimSpace(f.Get("client_id"))
		if issuer == "" {
			bad("issuer", "Give the issuer or its discovery URL.")
			return
		}
		if strings.HasSuffix(issuer, httpx.WellKnownOIDC) {
			iss, err := httpx.DiscoverIssuer(r.Context(), issuer, httpx.FetchOptions{MaxBytes: 2 << 20, AllowPrivate: h.FetchPrivate})
			if err != nil {
				var de *httpx.DiscoveryError
				if errors.As(err, &de) {
					bad("issuer", "The discovery URL did not work: "+de.Reason+".")
					return
				}
				h.fail(w, r, rq, err)
				return
			}
			issuer = iss
		}
		spec.OIDCIssuer, spec.OIDCClientID, spec.OIDCClientSecret = &issuer, &clientID, f.Get("client_secret")
	}
	if _, err := h.eng.UpdateConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, spec, h.Connections); err != nil {
		var ve *provisioning.ValidationError
		if !errors.As(err, &ve) {
			h.fail(w, r, rq, err)
			return
		}
		field := errField
		switch {
		case strings.HasPrefix(ve.Field, "saml.certificates"):
			field = "certificate"
		case ve.Field == "oidc.clientId":
			field = "client_id"
		case ve.Field == "oidc.clientSecret":
			field = "client_secret"
		}
		bad(field, ve.Reason)
		return
	}
	http.Redirect(w, r, rq.base+"/sso/connections/"+url.PathEscape(id)+"?done=saved#idp", http.StatusSeeOther)
}
