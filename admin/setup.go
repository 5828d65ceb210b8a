package admin

import (
	"net/http"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// setupLinkView is a set-up link without its hash, with its state.
type setupLinkView struct {
	*provisioning.SetupLink
	State string `json:"state"`
	URL   string `json:"url,omitempty"`
}

func (a *API) createSetupLink(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var b struct {
		// ExpiresIn is the lifetime in hours (default 168, at most 720).
		ExpiresInHours int `json:"expiresInHours"`
	}
	if err := a.decode(w, r, &b); err != nil {
		return err
	}
	token, l, err := a.eng.CreateSetupLink(r.Context(), p.Actor, p.Tenant.ID, time.Duration(b.ExpiresInHours)*time.Hour)
	if err != nil {
		return err
	}
	// The token is in this response only; the store keeps its hash.
	writeJSON(w, http.StatusCreated, map[string]any{"id": l.ID, "token": token, "path": "/setup/" + token,
		"expiresAt": l.ExpiresAt})
	return nil
}

func (a *API) listSetupLinks(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	ls, err := a.eng.ListSetupLinks(r.Context(), p.Tenant.ID)
	if err != nil {
		return err
	}
	now := a.eng.Now()
	out := make([]setupLinkView, len(ls))
	for i := range ls {
		out[i] = setupLinkView{SetupLink: &ls[i], State: ls[i].State(now)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"setupLinks": out})
	return nil
}

func (a *API) revokeSetupLink(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	return noContent(w, a.eng.RevokeSetupLink(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

// provisioningLog serves the tenant's SCIM requests (kind=scim, the default) or sign-in
// attempts with their refusal reasons (kind=signin), newest first.
func (a *API) provisioningLog(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	q := r.URL.Query()
	limit, _, err := pageParams(r, 100)
	if err != nil {
		return err
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	switch q.Get("kind") {
	case "", "scim":
		es, err := a.eng.ListProvisioningLog(r.Context(), p.Tenant.ID, provisioning.ProvisioningLogQuery{TokenID: q.Get("token"),
			Method: q.Get("method"), Status: q.Get("status"), Since: since, Limit: limit})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "scim", "entries": es})
	case "signin":
		es, err := a.eng.Store.ListLogins(r.Context(), p.Tenant.ID, provisioning.LoginQuery{Result: q.Get("result"), Since: since, Limit: limit})
		if err != nil {
			return err
		}
		if es == nil {
			es = []provisioning.LoginEvent{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "signin", "entries": es})
	default:
		return badf("kind", "must be scim or signin")
	}
	return nil
}
