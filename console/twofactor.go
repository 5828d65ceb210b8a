package console

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"

	"github.com/seatbridge/seatbridge/provisioning"
)

// totpData is the enrolment page: the QR code (a PNG the engine made, inlined as a data:
// URL, which the CSP's img-src allows), the secret for typing in, and the code field.
type totpData struct {
	QR     template.URL
	Secret string
}

// beginTOTP starts enrolling an authenticator app for the signed-in user.
func (h *Handler) beginTOTP(w http.ResponseWriter, r *http.Request, rq *request) {
	en, err := h.Accounts.BeginTOTP(r.Context(), rq.p.Tenant.ID, rq.acc.User.ID)
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.renderTOTP(w, rq, http.StatusOK, en, nil)
}

func (h *Handler) renderTOTP(w http.ResponseWriter, rq *request, status int, en *provisioning.TOTPEnrolment, errs map[string]string) {
	d := totpData{Secret: en.Secret}
	if len(en.QRPNG) > 0 {
		// The bytes are the engine's PNG, never user input: a data URL of them is safe.
		d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRPNG))
	}
	h.render(w, rq, status, "totp", &view{Title: "Set up an authenticator app", Nav: "me", Errors: errs, Data: d})
}

// confirmTOTP finishes the enrolment with the app's current code and shows the recovery
// codes once.
func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request, rq *request) {
	codes, err := h.Accounts.ConfirmTOTP(r.Context(), rq.p.Actor, rq.p.Tenant.ID, rq.acc.User.ID, r.PostFormValue("code"))
	if err != nil {
		errs, ok := h.formErrors(w, r, rq, err, "code")
		if !ok {
			return
		}
		// A new enrolment would change the secret the user just scanned: show the same one.
		en := &provisioning.TOTPEnrolment{Secret: r.PostFormValue("secret")}
		h.renderTOTP(w, rq, http.StatusBadRequest, en, map[string]string{"code": errs["code"] + errs["_"]})
		return
	}
	h.render(w, rq, http.StatusOK, "recovery", &view{Title: "Two-factor sign-in is on", Nav: "me", Data: codes})
}

// removeTOTP turns the second factor off with a current code.
func (h *Handler) removeTOTP(w http.ResponseWriter, r *http.Request, rq *request) {
	h.afterChange(w, r, rq, h.Accounts.RemoveTOTP(r.Context(), rq.p.Actor, rq.p.Tenant.ID, rq.acc.User.ID, r.PostFormValue("code")), rq.base+"/me?done=2faoff")
}

// resetTwoFactor lets an admin clear a user's lost authenticator.
func (h *Handler) resetTwoFactor(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	back := rq.base + "/users/" + url.PathEscape(id)
	if !h.confirmed(w, r, rq, "Reset the second factor?", "The user's authenticator app and recovery codes stop working; they set up a new one at their next sign-in if the organisation requires it.", "Reset second factor", back, nil) {
		return
	}
	h.afterChange(w, r, rq, h.Accounts.ResetTwoFactor(r.Context(), rq.p.Actor, rq.p.Tenant.ID, id), back+"?done=2fareset")
}
