package sso_test

import (
	"errors"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// An invitation to a domain served by an SSO connection is accepted by the invitee's first
// successful sign-in, not by the click on its link: until then the link keeps working.
func TestInvitationAcceptedByFirstSSOLogin(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModePreProvisioned, provisioning.Mapping{})
		acc := provisioning.NewAccounts(e.engine, e.box)
		inv, err := acc.CreateInvitation(e.ctx, admin, e.tenant.ID, provisioning.InvitationRequest{Email: "ivy@acme.com", DisplayName: "Ivy", Seat: true})
		if err != nil {
			t.Fatal(err)
		}
		mails, err := acc.ClaimMail(e.ctx, "test", 10)
		if err != nil || len(mails) != 1 {
			t.Fatalf("invitation mail: %d, %v", len(mails), err)
		}
		token := mails[0].Data.Token
		view, err := acc.InvitationByToken(e.ctx, token)
		if err != nil || view.Mode != provisioning.AcceptSSO || view.ConnectionID != c.ID {
			t.Fatalf("view: %+v, %v", view, err)
		}
		for range 2 { // following the link twice (say, an abandoned first attempt) is fine
			res, err := acc.AcceptInvitation(e.ctx, token, provisioning.AcceptRequest{})
			if err != nil || res.Mode != provisioning.AcceptSSO || res.ConnectionID != c.ID {
				t.Fatalf("accept in SSO mode: %+v, %v", res, err)
			}
		}
		if got, _ := acc.GetInvitation(e.ctx, e.tenant.ID, inv.ID); got.State != provisioning.InvitePending {
			t.Fatalf("invitation used up before the sign-in: %s", got.State)
		}
		var observed []string
		e.engine.LoginObserver = func(method, result string) { observed = append(observed, method+"/"+result) }
		cl := e.samlLogin(c, "ivy@acme.com")
		if len(observed) != 1 || observed[0] != "saml/success" {
			t.Fatalf("login observer heard %v", observed)
		}
		if cl.Sub != inv.UserID || !cl.Seat {
			t.Fatalf("first sign-in: %s", mustJSON(cl))
		}
		got, _ := acc.GetInvitation(e.ctx, e.tenant.ID, inv.ID)
		if got.State != provisioning.InviteAccepted || got.AcceptedAt == nil {
			t.Fatalf("invitation after the sign-in: %s", got.State)
		}
		var ue *provisioning.InvitationUnusableError
		if _, err := acc.InvitationByToken(e.ctx, token); !errors.As(err, &ue) {
			t.Fatalf("link after acceptance: %v", err)
		}
	})
}
