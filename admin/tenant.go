package admin

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/seatbridge/seatbridge/provisioning"
)

// policyView is every tenant setting. passwordLoginEffective says whether passwords sign
// in right now: allowPasswordLogin, or no enabled SSO connection.
type policyView struct {
	Slug                   string   `json:"slug"`
	Name                   string   `json:"name"`
	SeatLimit              int      `json:"seatLimit"`
	SeatsUsed              int      `json:"seatsUsed"`
	AllowedDomains         []string `json:"allowedDomains"`
	BlockedDomains         []string `json:"blockedDomains"`
	BlockFreeMail          bool     `json:"blockFreeMail"`
	FreeMailDomains        []string `json:"freeMailDomains"`
	DefaultRole            string   `json:"defaultRole"`
	AllowPasswordLogin     bool     `json:"allowPasswordLogin"`
	PasswordLoginEffective bool     `json:"passwordLoginEffective"`
	InvitationTTL          string   `json:"invitationTTL"`
	RequireTwoFactor       bool     `json:"requireTwoFactor"`
	AppURL                 string   `json:"appUrl"`
}

func (a *API) viewPolicy(r *http.Request, t *provisioning.Tenant) (policyView, error) {
	conns, err := a.eng.ListConnections(r.Context(), t.ID)
	if err != nil {
		return policyView{}, err
	}
	return policyView{Slug: t.Slug, Name: t.Name, SeatLimit: t.SeatLimit, SeatsUsed: t.SeatsUsed, AllowedDomains: nonNil(t.Policy.AllowedDomains),
		BlockedDomains: nonNil(t.Policy.BlockedDomains), BlockFreeMail: t.Policy.BlockFreeMail,
		FreeMailDomains: provisioning.FreeMailDomains(), DefaultRole: t.Policy.DefaultRole,
		AllowPasswordLogin: t.Policy.AllowPasswordLogin, PasswordLoginEffective: t.PasswordLoginAllowed(conns),
		InvitationTTL: provisioning.FormatTTL(provisioning.InvitationTTLOf(t)), RequireTwoFactor: t.Policy.RequireTwoFactor,
		AppURL: t.Policy.AppURL}, nil
}

func (a *API) writePolicy(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant) error {
	v, err := a.viewPolicy(r, t)
	return reply(w, http.StatusOK, v, err)
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	t, err := a.eng.GetTenant(r.Context(), p.Tenant.ID)
	if err != nil {
		return err
	}
	return a.writePolicy(w, r, t)
}

// policyReq is a PATCH of the settings: absent fields stay as they are.
type policyReq struct {
	Name               *string   `json:"name"`
	SeatLimit          *int      `json:"seatLimit"`
	AllowedDomains     *[]string `json:"allowedDomains"`
	BlockedDomains     *[]string `json:"blockedDomains"`
	BlockFreeMail      *bool     `json:"blockFreeMail"`
	DefaultRole        *string   `json:"defaultRole"`
	AllowPasswordLogin *bool     `json:"allowPasswordLogin"`
	InvitationTTL      *string   `json:"invitationTTL"`
	RequireTwoFactor   *bool     `json:"requireTwoFactor"`
	AppURL             *string   `json:"appUrl"`
}

func (a *API) updatePolicy(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in policyReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.eng.UpdatePolicy(r.Context(), p.Actor, p.Tenant.ID, provisioning.PolicyInput(in))
	if err != nil {
		return err
	}
	return a.writePolicy(w, r, t)
}

type auditView struct {
	provisioning.AuditEvent
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	limit, before, err := pageParams(r, 100)
	if err != nil {
		return err
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	until, err := timeParam(r, "until")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	evs, err := a.eng.ListAudit(r.Context(), p.Tenant.ID, provisioning.AuditQuery{ActorID: q.Get("actor"), Action: q.Get("action"),
		TargetKind: q.Get("targetKind"), TargetID: q.Get("target"), Since: since, Until: until, BeforeID: before, Limit: limit})
	if err != nil {
		return err
	}
	out := struct {
		Events []auditView `json:"events"`
		Next   string      `json:"next,omitempty"`
	}{Events: make([]auditView, len(evs))}
	for i, e := range evs {
		out.Events[i] = auditView{AuditEvent: e, Before: e.Before, After: e.After}
	}
	if len(evs) == limit {
		out.Next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// importCSV: POST /users/import?dryRun=true&invite=true with a text/csv body. A rejected
// import is a 422 with the per-row report; nothing is applied. invite sends every imported
// user an invitation in the same transaction.
func (a *API) importCSV(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "text/csv" && mt != "application/csv") {
		return apiErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the file as text/csv", "Content-Type")
	}
	dry := false
	if v := r.URL.Query().Get("dryRun"); v != "" {
		var err error
		if dry, err = strconv.ParseBool(v); err != nil {
			return badf("dryRun", "must be true or false")
		}
	}
	invite := false
	if v := r.URL.Query().Get("invite"); v != "" {
		var err error
		if invite, err = strconv.ParseBool(v); err != nil {
			return badf("invite", "must be true or false")
		}
	}
	body := http.MaxBytesReader(w, r.Body, 8*a.opts.MaxBodyBytes)
	var rep *provisioning.ImportReport
	var err error
	if invite {
		acc, aerr := a.accounts()
		if aerr != nil {
			return aerr
		}
		rep, err = acc.ImportCSV(r.Context(), p.Actor, p.Tenant.ID, body, dry, true)
	} else {
		rep, err = a.eng.ImportCSV(r.Context(), p.Actor, p.Tenant.ID, body, dry)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return apiErr(http.StatusRequestEntityTooLarge, "too_large", "the file is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes", "body")
	case errors.Is(err, provisioning.ErrImportRejected):
		writeJSON(w, http.StatusUnprocessableEntity, rep)
	case err != nil:
		return err
	default:
		writeJSON(w, http.StatusOK, rep)
	}
	return nil
}

func (a *API) bulk(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in struct {
		Action  provisioning.BulkAction `json:"action"`
		UserIDs []string                `json:"userIds"`
		Roles   []string                `json:"roles"`
		Teams   []string                `json:"teams"`
		Seat    *bool                   `json:"seat"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	n, err := a.eng.Bulk(r.Context(), p.Actor, p.Tenant.ID, provisioning.BulkChange(in))
	return reply(w, http.StatusOK, map[string]any{"action": in.Action, "applied": n}, err)
}
