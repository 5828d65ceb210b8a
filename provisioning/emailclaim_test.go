package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

var directory = provisioning.Actor{Kind: provisioning.ActorSCIMToken, ID: "scim", Name: "okta"}

// scimUser creates a user the way the SCIM door does: no uniqueness but the userName.
func (f *fixture) scimUser(t *testing.T, userName string, emails ...string) *provisioning.User {
	t.Helper()
	u := &provisioning.User{UserName: userName, Source: provisioning.SourceSCIM, ManagedByIdP: true}
	for i, e := range emails {
		u.Emails = append(u.Emails, provisioning.MultiValue{Value: e, Type: "work", Primary: i == 0})
	}
	created, err := f.acc.CreateUser(f.ctx, directory, f.tenant.ID, u)
	if err != nil {
		t.Fatalf("SCIM create %s: %v", userName, err)
	}
	return created
}

func wantEmailConflict(t *testing.T, what string, err error) {
	t.Helper()
	var ce *provisioning.ConflictError
	if !errors.As(err, &ce) || ce.Field != "email" {
		t.Errorf("%s: got %v, want a conflict on email", what, err)
	}
}

// E-mails are not unique for the directory, but the admin door and invitations refuse an
// address that another account already uses (its userName or any of its e-mails).
func TestEmailsSharedByDirectoryRefusedByAdminDoor(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 10)
		a := f.scimUser(t, "ann.one", "ann@acme.example", "shared@acme.example")
		b := f.scimUser(t, "ann.two", "ANN@acme.example") // same primary address: accepted
		if a.ID == b.ID {
			t.Fatal("one user")
		}
		for _, addr := range []string{"Ann@Acme.example", "shared@ACME.example"} {
			_, err := f.acc.CreateAdminUser(f.ctx, admin, f.tenant.ID, provisioning.NewUser{Email: addr, UserName: "new-" + addr})
			wantEmailConflict(t, "admin create "+addr, err)
			_, err = f.acc.CreateInvitation(f.ctx, admin, f.tenant.ID, provisioning.InvitationRequest{Email: addr, Roles: []string{"Agent"}})
			wantEmailConflict(t, "invitation "+addr, err)
			_, _, err = f.acc.CreateLocalUser(f.ctx, admin, f.tenant.ID, provisioning.LocalUserRequest{Email: addr, DisplayName: "Ann"})
			wantEmailConflict(t, "local account "+addr, err)
		}
		// Only a whole address counts: ann.one (a userName) does not claim ann.one@….
		if _, err := f.acc.CreateAdminUser(f.ctx, admin, f.tenant.ID, provisioning.NewUser{Email: "ann.one@acme.example"}); err != nil {
			t.Errorf("admin create with a free address: %v", err)
		}
		// An admin-created user may keep its own address but not take another's.
		c, err := f.acc.CreateAdminUser(f.ctx, admin, f.tenant.ID, provisioning.NewUser{Email: "cy@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		own, other := "CY@acme.example", "shared@acme.example"
		if _, err := f.acc.EditUser(f.ctx, admin, f.tenant.ID, c.ID, provisioning.AnyVersion, provisioning.UserEdit{Email: &own}); err != nil {
			t.Errorf("edit to its own address: %v", err)
		}
		_, err = f.acc.EditUser(f.ctx, admin, f.tenant.ID, c.ID, provisioning.AnyVersion, provisioning.UserEdit{Email: &other})
		wantEmailConflict(t, "edit to another's address", err)
		// An invited address gets the hint to resend.
		if _, err := f.acc.CreateInvitation(f.ctx, admin, f.tenant.ID, provisioning.InvitationRequest{Email: "dee@acme.example", Roles: []string{"Agent"}}); err != nil {
			t.Fatal(err)
		}
		_, err = f.acc.CreateAdminUser(f.ctx, admin, f.tenant.ID, provisioning.NewUser{Email: "dee@acme.example", UserName: "dee2"})
		var ce *provisioning.ConflictError
		if !errors.As(err, &ce) || ce.Value != "dee@acme.example" || ce.Hint != "already invited: resend the invitation instead" {
			t.Errorf("invited address: %v", err)
		}
	})
}

// Two admins creating accounts with one address at the same time: the tenant lock makes the
// second see the first, so exactly one succeeds (no unique index does it any more).
func TestEmailClaimConcurrent(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 10)
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.acc.CreateAdminUser(context.Background(), admin, f.tenant.ID,
					provisioning.NewUser{Email: "race@acme.example", UserName: fmt.Sprintf("racer-%d", i)})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantEmailConflict(t, "concurrent create", err)
		}
		if ok != 1 {
			t.Fatalf("%d creates succeeded, want 1: %v", ok, errs)
		}
	})
}

// An e-mail value without "@" is stored as the directory sends it, but it is no address:
// it is never mailed, never found as an address (so it never links a sign-in) and never
// blocks the admin door.
func TestEmailWithoutAtStoredNeverMailedNorLinked(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 10)
		u := f.scimUser(t, "emp357", "emailName357")
		got, err := f.acc.GetUser(f.ctx, f.tenant.ID, u.ID)
		if err != nil || got.PrimaryEmail() != "emailName357" {
			t.Fatalf("stored %q, %v", got.PrimaryEmail(), err)
		}
		found, err := db.FindUsersByEmail(f.ctx, f.tenant.ID, "emailname357")
		if err != nil || len(found) != 0 {
			t.Errorf("FindUsersByEmail found %d, %v: a value without @ must never link", len(found), err)
		}
		// A local (not IdP-managed) user with such an address gets no mail.
		local, err := f.acc.CreateUser(f.ctx, admin, f.tenant.ID, &provisioning.User{UserName: "kiosk", Source: provisioning.SourceAdmin,
			Emails: []provisioning.MultiValue{{Value: "front-desk", Primary: true}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.acc.ResetPassword(f.ctx, admin, f.tenant.ID, local.ID, provisioning.ResetPasswordRequest{SendMail: true})
		var ve *provisioning.ValidationError
		if !errors.As(err, &ve) || ve.Field != "email" {
			t.Errorf("reset with mail to %q: %v, want a validation error on email", "front-desk", err)
		}
		if n := outboxLen(t, f, db); n != 0 {
			t.Errorf("%d messages queued", n)
		}
	})
}

func outboxLen(t *testing.T, f *fixture, db *store.DB) int {
	t.Helper()
	mails, err := f.acc.ClaimMail(f.ctx, "test", 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(mails)
}
