package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The console's webhook screens: the list of endpoints, creating one (its signing secret
// shown once), and an endpoint's page (edit, disable/enable, rotate the secret, delete,
// recent deliveries with their attempts, replay). Every change is the engine's
// provisioning.Webhooks call the admin API makes too; the engine audits it.

// recentDeliveries is how many deliveries an endpoint's page lists with their attempts.
const recentDeliveries = 20

// eventFamily is one kind of event ("user") with its types, for the filter checkboxes.
type eventFamily struct {
	Kind  string // "user"; the filter "user.*" selects the family
	Label string
	Types []string
}

// familyLabels name the event kinds in the console; a kind the engine adds later shows
// under its own name until it gets one here.
var familyLabels = map[string]string{
	"user": "Users", "seat": "Seats", "role": "Roles", "team": "Teams", "group": "Directory groups",
	"invitation": "Invitations", "login": "Sign-ins", "session": "Sessions", "connection": "SSO connections",
	"webhook": "Webhooks",
}

// eventFamilies groups the engine's event types by kind, in the engine's order.
func eventFamilies() []eventFamily {
	var out []eventFamily
	for _, t := range provisioning.EventTypes {
		kind, _, _ := strings.Cut(t, ".")
		if n := len(out); n > 0 && out[n-1].Kind == kind {
			out[n-1].Types = append(out[n-1].Types, t)
			continue
		}
		label := familyLabels[kind]
		if label == "" {
			label = kind
		}
		out = append(out, eventFamily{Kind: kind, Label: label, Types: []string{t}})
	}
	return out
}

// eventsFromForm turns the checked boxes into the endpoint's filter: "*" alone when
// everything is checked, a family's "kind.*" instead of its single types. Unknown values
// go to the engine, which refuses them next to the field.
func eventsFromForm(form url.Values) []string {
	picked := form["events"]
	if slices.Contains(picked, "*") {
		return []string{"*"}
	}
	out := []string{}
	for _, f := range picked {
		kind, typ, _ := strings.Cut(f, ".")
		if typ != "*" && slices.Contains(picked, kind+".*") {
			continue
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

type webhookRow struct {
	Endpoint provisioning.WebhookEndpoint
	Last     *provisioning.WebhookDelivery
}

type webhookListData struct {
	Rows []webhookRow
}

type webhookFormData struct {
	Families []eventFamily
	Endpoint *provisioning.WebhookEndpoint // nil on the create page
}

// deliveryView is a delivery with its attempt log (Tries: the delivery's Attempts field
// already counts them).
type deliveryView struct {
	provisioning.WebhookDelivery
	Tries []provisioning.WebhookAttempt
}

type webhookPageData struct {
	webhookFormData
	Deliveries []deliveryView
	Overlap    string
}

// hooks returns the webhook service, or tells the admin the server runs without one.
func (h *Handler) hooks(w http.ResponseWriter, rq *request) *provisioning.Webhooks {
	if h.Webhooks == nil {
		h.message(w, rq, http.StatusNotImplemented, "Webhooks are not available", "This server runs without webhook delivery.")
	}
	return h.Webhooks
}

// endpoint loads the endpoint of the path ({id}) in the signed-in tenant; when it
// cannot, it has answered and returns a nil endpoint.
func (h *Handler) endpoint(w http.ResponseWriter, r *http.Request, rq *request) (*provisioning.Webhooks, *provisioning.WebhookEndpoint) {
	wh := h.hooks(w, rq)
	if wh == nil {
		return nil, nil
	}
	ep, err := wh.GetWebhook(r.Context(), rq.p.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, rq, err)
		return nil, nil
	}
	return wh, ep
}

func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request, rq *request) {
	wh := h.hooks(w, rq)
	if wh == nil {
		return
	}
	eps, err := wh.ListWebhooks(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	d := webhookListData{}
	for _, ep := range eps {
		row := webhookRow{Endpoint: ep}
		last, err := wh.ListDeliveries(r.Context(), rq.p.Tenant.ID, ep.ID, 1)
		if err != nil {
			h.fail(w, r, rq, err)
			return
		}
		if len(last) > 0 {
			row.Last = &last[0]
		}
		d.Rows = append(d.Rows, row)
	}
	h.render(w, rq, http.StatusOK, "webhooks", &view{Title: "Webhooks", Nav: "webhooks", Notice: notice(r), Data: d})
}

func (h *Handler) newWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	if h.hooks(w, rq) == nil {
		return
	}
	h.render(w, rq, http.StatusOK, "webhooknew", &view{Title: "New webhook endpoint", Nav: "webhooks",
		Form: url.Values{"events": {"*"}}, Data: webhookFormData{Families: eventFamilies()}})
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	wh := h.hooks(w, rq)
	if wh == nil {
		return
	}
	u, desc, events := r.PostFormValue("url"), r.PostFormValue("description"), eventsFromForm(r.PostForm)
	ep, secret, err := wh.CreateWebhook(r.Context(), rq.p.Actor, rq.p.Tenant.ID, provisioning.WebhookRequest{URL: &u, Description: &desc, Events: &events})
	if err != nil {
		errs, ok := h.formErrors(w, r, rq, err, "url", "description", "events")
		if !ok {
			return
		}
		h.render(w, rq, http.StatusBadRequest, "webhooknew", &view{Title: "New webhook endpoint", Nav: "webhooks", Form: r.PostForm, Errors: errs,
			Error: "Nothing was saved: check the marked fields.", Data: webhookFormData{Families: eventFamilies()}})
		return
	}
	h.render(w, rq, http.StatusCreated, "secret", &view{Title: "Webhook endpoint created", Nav: "webhooks", Data: secretData{
		Intro:  "Deliveries to " + ep.URL + " are signed with this secret (Standard Webhooks). Give it to the receiving application now.",
		Label:  "Signing secret",
		Secret: secret, Note: "Copy it now: it is shown only once. If you lose it, rotate the secret on the endpoint's page.",
		Next: rq.base + "/webhooks/" + url.PathEscape(ep.ID), NextLabel: "Go to the endpoint"}})
}

// webhookPage renders an endpoint's page; form and errs are a refused edit shown again.
func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, rq *request, status int, form url.Values, errs map[string]string) {
	wh, ep := h.endpoint(w, r, rq)
	if ep == nil {
		return
	}
	ds, err := h.deliveries(r.Context(), wh, rq.p.Tenant.ID, ep.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	if form == nil {
		form = url.Values{"url": {ep.URL}, "description": {ep.Description}, "events": ep.Events}
	}
	v := &view{Title: "Webhook endpoint", Nav: "webhooks", Notice: notice(r), Form: form, Errors: errs,
		Data: webhookPageData{webhookFormData: webhookFormData{Families: eventFamilies(), Endpoint: ep}, Deliveries: ds, Overlap: durationLabel(wh.RotationOverlap)}}
	if len(errs) > 0 {
		v.Error = "Nothing was saved: check the marked fields."
	}
	h.render(w, rq, status, "webhook", v)
}

// deliveries lists an endpoint's newest deliveries with their attempts.
func (h *Handler) deliveries(ctx context.Context, wh *provisioning.Webhooks, tenant, id string) ([]deliveryView, error) {
	ds, err := wh.ListDeliveries(ctx, tenant, id, recentDeliveries)
	if err != nil {
		return nil, err
	}
	out := make([]deliveryView, 0, len(ds))
	for _, d := range ds {
		as, err := wh.ListAttempts(ctx, tenant, d.ID)
		if err != nil {
			return nil, fmt.Errorf("attempts of %s: %w", d.ID, err)
		}
		out = append(out, deliveryView{WebhookDelivery: d, Tries: as})
	}
	return out, nil
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	wh := h.hooks(w, rq)
	if wh == nil {
		return
	}
	id := r.PathValue("id")
	u, desc, events := r.PostFormValue("url"), r.PostFormValue("description"), eventsFromForm(r.PostForm)
	_, err := wh.UpdateWebhook(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.WebhookRequest{URL: &u, Description: &desc, Events: &events})
	h.afterForm(w, r, rq, err, rq.base+"/webhooks/"+url.PathEscape(id)+"?done=saved", h.webhookPage, "url", "description", "events")
}

func (h *Handler) webhookState(w http.ResponseWriter, r *http.Request, rq *request) {
	wh := h.hooks(w, rq)
	if wh == nil {
		return
	}
	enabled, ok := h.stateChoice(w, r, rq, "enable", "disable")
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := wh.UpdateWebhook(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, provisioning.WebhookRequest{Enabled: &enabled}); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	done := "hookoff"
	if enabled {
		done = "hookon"
	}
	http.Redirect(w, r, rq.base+"/webhooks/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

func (h *Handler) rotateWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	wh, ep := h.endpoint(w, r, rq)
	if ep == nil {
		return
	}
	back := rq.base + "/webhooks/" + url.PathEscape(ep.ID)
	overlap := durationLabel(wh.RotationOverlap)
	if !h.confirmed(w, r, rq, "Rotate the signing secret?", "A new secret signs every delivery from now on. The current one keeps signing as well for "+overlap+
		", so the receiver can switch without missing a delivery; then it stops.", "Rotate secret", back, nil) {
		return
	}
	secret, err := wh.RotateWebhookSecret(r.Context(), rq.p.Actor, rq.p.Tenant.ID, ep.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusOK, "secret", &view{Title: "New signing secret", Nav: "webhooks", Data: secretData{
		Intro: "Deliveries to " + ep.URL + " now carry a signature with this secret, and for " + overlap + " one with the previous secret too.",
		Label: "New signing secret", Secret: secret,
		Note: "Copy it now: it is shown only once. Switch the receiver to it within " + overlap + ".",
		Next: back, NextLabel: "Back to the endpoint"}})
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, rq *request) {
	wh, ep := h.endpoint(w, r, rq)
	if ep == nil {
		return
	}
	if !h.confirmed(w, r, rq, "Delete this webhook endpoint?", "Events are no longer sent to "+ep.URL+", and its delivery log is deleted. This cannot be undone.",
		"Delete endpoint", rq.base+"/webhooks/"+url.PathEscape(ep.ID), nil) {
		return
	}
	h.afterChange(w, r, rq, wh.DeleteWebhook(r.Context(), rq.p.Actor, rq.p.Tenant.ID, ep.ID), rq.base+"/webhooks?done=deleted")
}

func (h *Handler) replayDelivery(w http.ResponseWriter, r *http.Request, rq *request) {
	wh := h.hooks(w, rq)
	if wh == nil {
		return
	}
	id := r.PathValue("id")
	if _, err := wh.ReplayDelivery(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id, r.PathValue("did")); err != nil {
		if errors.Is(err, provisioning.ErrNotFound) {
			h.message(w, rq, http.StatusNotFound, "Not found", "This endpoint has no such delivery (it may have been purged).")
			return
		}
		h.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, rq.base+"/webhooks/"+url.PathEscape(id)+"?done=replayed#deliveries", http.StatusSeeOther)
}

// durationLabel writes a duration for people: "24 hours", "3 days", "90 minutes".
func durationLabel(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "1 hour"
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	}
	return d.String()
}

// Picked reports whether the form checks one of the family's single types (its list is
// then shown open).
func (f eventFamily) Picked(form url.Values) bool {
	return slices.ContainsFunc(f.Types, func(t string) bool { return slices.Contains(form["events"], t) })
}

// failedOut reports whether the delivery worker disabled the endpoint after persistent
// failure (not an admin).
func failedOut(ep *provisioning.WebhookEndpoint) bool {
	return ep.State == provisioning.WebhookDisabled && ep.DisabledReason != provisioning.WebhookDisabledByAdmin
}

// FailedOut: the row's endpoint was disabled after persistent failure.
func (r webhookRow) FailedOut() bool { return failedOut(&r.Endpoint) }

// FailedOut: the page's endpoint was disabled after persistent failure.
func (d webhookFormData) FailedOut() bool { return d.Endpoint != nil && failedOut(d.Endpoint) }
