package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The console's single sign-on pages: the tenant's connections, set-up links for the
// customer's IT admin, and the provisioning log.

type ssoData struct {
	Connections []provisioning.Connection
	Links       []linkRow
}

type linkRow struct {
	provisioning.SetupLink
	State string
}

func (h *Handler) ssoPage(w http.ResponseWriter, r *http.Request, rq *request) {
	cs, err := h.eng.ListConnections(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	ls, err := h.eng.ListSetupLinks(r.Context(), rq.p.Tenant.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	d := ssoData{Connections: cs}
	now := h.eng.Now()
	for _, l := range ls {
		d.Links = append(d.Links, linkRow{SetupLink: l, State: l.State(now)})
	}
	h.render(w, rq, http.StatusOK, "sso", &view{Title: "Single sign-on", Nav: "sso", Notice: notice(r), Data: d})
}

func (h *Handler) createSetupLink(w http.ResponseWriter, r *http.Request, rq *request) {
	days := 7
	switch r.PostFormValue("days") {
	case "1":
		days = 1
	case "30":
		days = 30
	}
	token, _, err := h.eng.CreateSetupLink(r.Context(), rq.p.Actor, rq.p.Tenant.ID, time.Duration(days)*24*time.Hour)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusCreated, "secret", &view{Title: "Set-up link created", Nav: "sso", Data: secretData{
		Intro: "Send this link to the IT admin who manages your identity provider. It opens a wizard for single sign-on and provisioning of " +
			rq.p.Tenant.Name + ", without an account.", Label: "Set-up link",
		Secret: h.base() + SetupPrefix + url.PathEscape(token),
		Note:   "It is shown only now and works for " + itoa(days) + " days or until you revoke it.",
		Next:   rq.base + "/sso", NextLabel: "Back to single sign-on"}})
}

func (h *Handler) revokeSetupLink(w http.ResponseWriter, r *http.Request, rq *request) {
	if !h.confirmed(w, r, rq, "Revoke this set-up link?", "It stops working at once.", "Revoke link", rq.base+"/sso", nil) {
		return
	}
	h.afterChange(w, r, rq, h.eng.RevokeSetupLink(r.Context(), rq.p.Actor, rq.p.Tenant.ID, r.PathValue("id")), rq.base+"/sso")
}

type provLogData struct {
	Status  string
	Entries []provisioning.ProvisioningLogEntry
	Logins  []provisioning.LoginEvent
}

func (h *Handler) provisioningLog(w http.ResponseWriter, r *http.Request, rq *request) {
	status := r.URL.Query().Get("status")
	if status != "error" {
		status = ""
	}
	es, err := h.eng.ListProvisioningLog(r.Context(), rq.p.Tenant.ID, provisioning.ProvisioningLogQuery{Status: status, Limit: 100})
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	ls, err := h.eng.Store.ListLogins(r.Context(), rq.p.Tenant.ID, provisioning.LoginQuery{Limit: 50})
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, rq, http.StatusOK, "provlog", &view{Title: "Provisioning log", Nav: "provlog", Data: provLogData{Status: status, Entries: es, Logins: ls}})
}
