package sso

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/seatbridge/seatbridge/provisioning"
)

func (s *Service) showInvite(w http.ResponseWriter, r *http.Request) {
	v, err := s.Accounts.InvitationByToken(r.Context(), r.PathValue("token"))
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	d := Page{Title: "Join " + v.Tenant.Name, Tenant: v.Tenant.Name, Email: v.Invitation.Email, DisplayName: v.User.DisplayName, Form: "invite"}
	if v.Mode == provisioning.AcceptSSO {
		d.Form = "invite-sso"
	}
	s.Render(w, http.StatusOK, d)
}

func (s *Service) acceptInvite(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.Render(w, http.StatusBadRequest, Page{Title: "Check your input", Message: "The form could not be read."})
		return
	}
	token := r.PathValue("token")
	v, err := s.Accounts.InvitationByToken(r.Context(), token)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	pw := r.PostFormValue("password")
	if v.Mode == provisioning.AcceptPassword && pw != r.PostFormValue("password2") {
		s.Render(w, http.StatusBadRequest, Page{Title: "Join " + v.Tenant.Name, Error: "The passwords do not match.", Form: "invite",
			Tenant: v.Tenant.Name, Email: v.Invitation.Email, DisplayName: r.PostFormValue("display_name")})
		return
	}
	res, err := s.Accounts.AcceptInvitation(r.Context(), token, provisioning.AcceptRequest{
		DisplayName: r.PostFormValue("display_name"), Password: pw, IP: s.ip(r), UserAgent: provisioning.Truncate(r.UserAgent(), 512)})
	var ve *provisioning.ValidationError
	if errors.As(err, &ve) {
		s.Render(w, http.StatusBadRequest, Page{Title: "Join " + v.Tenant.Name, Error: ve.Error(), Form: "invite",
			Tenant: v.Tenant.Name, Email: v.Invitation.Email, DisplayName: r.PostFormValue("display_name")})
		return
	}
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	q := url.Values{"email": {res.Invitation.Email}}
	if res.Mode == provisioning.AcceptSSO {
		q.Set("connection", res.ConnectionID)
		http.Redirect(w, r, "/sso/"+url.PathEscape(res.Tenant.Slug)+"/login?"+q.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login/"+url.PathEscape(res.Tenant.Slug)+"?"+q.Encode(), http.StatusSeeOther)
}
