package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
		m, _ := json.MarshalIndent(c.Mapping, "", "  ")
		form = url.Values{"name": {c.Name}, "domains": {strings.Join(c.Domains, "\n")}, "mode": {string(c.Mode)}, "mapping": {string(m)}}
		if c.SAML != nil && c.SAML.AllowIdPInitiated {
			form.Set("idpInitiated", "on")
		}
	}
	d := connData{Conn: provisioning.ConnectionView(c), Example: mappingExample, Preview: pv, Refusal: refusal}
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
		errs, ok := fieldErrors(err, "name", "mode", "domains")
		if !ok {
			h.fail(w, r, rq, err)
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

func (h *Handler) connectionState(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	var disabled bool
	switch r.PostFormValue("state") {
	case "disable":
		disabled = true
	case "enable":
	default:
		h.message(w, rq, http.StatusBadRequest, "Check your input", "Unknown state.")
		return
	}
	if _, err := h.eng.UpdateConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.ConnectionSpec{Disabled: &disabled}, nil); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, rq.base+"/sso/connections/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
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
	if err := h.eng.DeleteConnection(r.Context(), rq.p.Actor, rq.p.Tenant.ID, c.ID); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, rq.base+"/sso?done=deleted", http.StatusSeeOther)
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
