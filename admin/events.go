package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file serves the event log (pull) and the webhook endpoints.

// maxEventWait bounds long polling, below the server's write timeout.
const maxEventWait = 30 * time.Second

// eventPage is one page of the event log; next is the cursor to ask from next time.
type eventPage struct {
	Events []provisioning.Event `json:"events"`
	Next   int64                `json:"next"`
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			a.fail(w, r, badf("after", "must be a non-negative event cursor"))
			return
		}
		after = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			a.fail(w, r, badf("limit", "must be between 1 and 1000"))
			return
		}
		limit = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || time.Duration(n)*time.Second > maxEventWait {
			a.fail(w, r, badf("wait", "must be between 0 and %d seconds", int(maxEventWait.Seconds())))
			return
		}
		wait = time.Duration(n) * time.Second
	}
	evs, err := a.eng.WaitEvents(r.Context(), p.Tenant.ID, after, limit, wait, 250*time.Millisecond)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, eventPage{Events: nonNil(evs), Next: next})
}

func (a *API) eventTypes(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"types": provisioning.EventTypes})
}

// webhooks returns the webhook service, or answers 501 when the server runs without one.
func (a *API) webhooks(w http.ResponseWriter) *provisioning.Webhooks {
	if a.opts.Webhooks == nil {
		writeError(w, http.StatusNotImplemented, "not_configured", "webhooks are not configured on this server", "")
	}
	return a.opts.Webhooks
}

// createdWebhook carries the signing secret: the only answer that shows it.
type createdWebhook struct {
	*provisioning.WebhookEndpoint
	Secret string `json:"secret"`
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	var in provisioning.WebhookRequest
	if err := a.decode(w, r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if in.Enabled != nil {
		a.fail(w, r, badf("enabled", "a new endpoint is enabled; disable it with PATCH"))
		return
	}
	ep, secret, err := wh.CreateWebhook(r.Context(), p.Actor, p.Tenant.ID, in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/webhooks/"+ep.ID)
	writeJSON(w, http.StatusCreated, createdWebhook{WebhookEndpoint: ep, Secret: secret})
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	eps, err := wh.ListWebhooks(r.Context(), p.Tenant.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": nonNil(eps)})
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	ep, err := wh.GetWebhook(r.Context(), p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	var in provisioning.WebhookRequest
	if err := a.decode(w, r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	ep, err := wh.UpdateWebhook(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	if err := wh.DeleteWebhook(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	secret, err := wh.RotateWebhookSecret(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"secret": secret, "previousSecretValidFor": wh.RotationOverlap.String()})
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			a.fail(w, r, badf("limit", "must be between 1 and 500"))
			return
		}
		limit = n
	}
	ds, err := wh.ListDeliveries(r.Context(), p.Tenant.ID, r.PathValue("id"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": nonNil(ds)})
}

func (a *API) listAttempts(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	as, err := wh.ListAttempts(r.Context(), p.Tenant.ID, r.PathValue("deliveryId"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": nonNil(as)})
}

func (a *API) replayDelivery(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) {
	wh := a.webhooks(w)
	if wh == nil {
		return
	}
	d, err := wh.ReplayDelivery(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), r.PathValue("deliveryId"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
