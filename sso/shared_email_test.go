package sso_test

import (
	"errors"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// E-mails are not unique (issue 11): a directory may push two accounts with one address.
// A sign-in then links by e-mail only when exactly one account holds the address, and a
// stored e-mail value without "@" never links anything.
func TestLoginLinksByEmailOnlyWhenUnambiguous(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeDirectory, provisioning.Mapping{Seat: true})
		scim := provisioning.Actor{Kind: provisioning.ActorSCIMToken, ID: "okta", Name: "okta"}
		push := func(userName, email string) *provisioning.User {
			u, err := e.engine.CreateUser(e.ctx, scim, e.tenant.ID, &provisioning.User{UserName: userName, Source: provisioning.SourceSCIM,
				ManagedByIdP: true, Emails: []provisioning.MultiValue{{Value: email, Type: "work", Primary: true}}})
			if err != nil {
				t.Fatalf("push %s: %v", userName, err)
			}
			return u
		}
		push("ann.one", "ann@acme.com")
		push("ann.two", "ANN@acme.com")
		solo := push("solo.user", "solo@acme.com")
		push("nina", "nina")
		login := func(subject, email string) (*provisioning.LoginResult, error) {
			return e.engine.Login(e.ctx, provisioning.LoginRequest{TenantID: e.tenant.ID, ConnectionID: c.ID, Method: "saml",
				Claims: provisioning.Claims{Subject: subject, Email: email, EmailVerified: true}})
		}
		var r *provisioning.LoginRefusedError
		if _, err := login("s-ann", "ann@acme.com"); !errors.As(err, &r) || r.Reason != provisioning.RefuseAmbiguous {
			t.Errorf("shared address: %v, want %s", err, provisioning.RefuseAmbiguous)
		}
		res, err := login("s-solo", "solo@acme.com")
		if err != nil || res.User.ID != solo.ID {
			t.Errorf("unique address: %v, want a link to %s", err, solo.ID)
		}
		if _, err := login("s-nina", "nina"); !errors.As(err, &r) || r.Reason != provisioning.RefuseNotInDirectory {
			t.Errorf("a value without @: %v, want %s", err, provisioning.RefuseNotInDirectory)
		}
	})
}
