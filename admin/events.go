package admin

import (
	"fmt"
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

func (a *API) listEvents(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badf("after", "must be a non-negative event cursor")
		}
		after = n
	}
	limit, err := intParam(q, "limit", 100, 1, 1000, "must be between 1 and 1000")
	if err != nil {
		return err
	}
	maxWait := int(maxEventWait.Seconds())
	waitSeconds, err := intParam(q, "wait", 0, 0, maxWait, fmt.Sprintf("must be between 0 and %d seconds", maxWait))
	if err != nil {
		return err
	}
	wait := time.Duration(waitSeconds) * time.Second
	evs, err := a.eng.WaitEvents(r.Context(), p.Tenant.ID, after, limit, wait, 250*time.Millisecond)
	if err != nil {
		return err
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, eventPage{Events: nonNil(evs), Next: next})
	return nil
}

func (a *API) eventTypes(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"types": provisioning.EventTypes})
	return nil
}

// webhooks returns the webhook service, or a 501 when the server runs without one.
func (a *API) webhooks() (*provisioning.Webhooks, error) {
	return configured(a.opts.Webhooks, "not_configured", "webhooks are not configured on this server")
}

// createdWebhook carries the signing secret: the only answer that shows it.
type createdWebhook struct {
	*provisioning.WebhookEndpoint
	Secret string `json:"secret"`
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	var in provisioning.WebhookRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	if in.Enabled != nil {
		return badf("enabled", "a new endpoint is enabled; disable it with PATCH")
	}
	ep, secret, err := wh.CreateWebhook(r.Context(), p.Actor, p.Tenant.ID, in)
	if err != nil {
		return err
	}
	return created(w, "/webhooks/"+ep.ID, createdWebhook{WebhookEndpoint: ep, Secret: secret})
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	eps, err := wh.ListWebhooks(r.Context(), p.Tenant.ID)
	return reply(w, http.StatusOK, map[string]any{"webhooks": nonNil(eps)}, err)
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	ep, err := wh.GetWebhook(r.Context(), p.Tenant.ID, r.PathValue("id"))
	return reply(w, http.StatusOK, ep, err)
}

func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	var in provisioning.WebhookRequest
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	ep, err := wh.UpdateWebhook(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), in)
	return reply(w, http.StatusOK, ep, err)
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	return noContent(w, wh.DeleteWebhook(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	secret, err := wh.RotateWebhookSecret(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"))
	return reply(w, http.StatusOK, map[string]any{"secret": secret, "previousSecretValidFor": wh.RotationOverlap.String()}, err)
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	limit, err := intParam(r.URL.Query(), "limit", 100, 1, 500, "must be between 1 and 500")
	if err != nil {
		return err
	}
	ds, err := wh.ListDeliveries(r.Context(), p.Tenant.ID, r.PathValue("id"), limit)
	return reply(w, http.StatusOK, map[string]any{"deliveries": nonNil(ds)}, err)
}

func (a *API) listAttempts(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	as, err := wh.ListAttempts(r.Context(), p.Tenant.ID, r.PathValue("deliveryId"))
	return reply(w, http.StatusOK, map[string]any{"attempts": nonNil(as)}, err)
}

func (a *API) replayDelivery(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, wh *provisioning.Webhooks) error {
	d, err := wh.ReplayDelivery(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), r.PathValue("deliveryId"))
	return reply(w, http.StatusOK, d, err)
}
