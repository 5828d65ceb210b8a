package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
)

// Opener returns a fresh, migrated, empty database.
type Opener func(testing.TB) *store.DB

// Run is the conformance suite: the same named sub-tests for every dialect.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, eng *provisioning.Engine)
	}{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"UserRoundTrip", testUserRoundTrip},
		{"DeleteUserEffects", testDeleteUserEffects},
		{"DeleteUserLogout", testDeleteUserLogout},
		{"UserNameCaseInsensitiveUnique", testCaseInsensitiveUnique},
		{"UniquenessRace", testUniquenessRace},
		{"SeatLimitUnderConcurrency", testSeatRace},
		{"DeactivationFreesSeat", testDeactivationFreesSeat},
		{"TenantIsolation", testTenantIsolation},
		{"PaginationOrder", testPagination},
		{"Filters", testFilters},
		{"Groups", testGroups},
		{"AuditEvents", testAudit},
		{"VersionCheck", testVersionCheck},
		{"UserIdentities", testUserIdentities},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			tc.fn(t, provisioning.NewEngine(db, nil))
		})
	}
}

var cli = provisioning.Actor{Kind: provisioning.ActorCLI, ID: "test", Name: "conformance"}

func mustTenant(t *testing.T, eng *provisioning.Engine, slug string, seats int) *provisioning.Tenant {
	t.Helper()
	tn, err := eng.CreateTenant(context.Background(), cli, slug, slug+" Inc", seats)
	if err != nil {
		t.Fatalf("create tenant %s: %v", slug, err)
	}
	return tn
}

func mustUser(t *testing.T, eng *provisioning.Engine, tenantID, userName string, mod ...func(*provisioning.User)) *provisioning.User {
	t.Helper()
	u := &provisioning.User{UserName: userName, Emails: []provisioning.MultiValue{{Value: userName, Type: "work", Primary: true}}}
	for _, m := range mod {
		m(u)
	}
	got, err := eng.CreateUser(context.Background(), cli, tenantID, u)
	if err != nil {
		t.Fatalf("create user %s: %v", userName, err)
	}
	return got
}

func testTenants(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 10)
	_, err := eng.CreateTenant(ctx, cli, "acme", "again", 1)
	if !errors.Is(err, provisioning.ErrConflict) {
		t.Fatalf("duplicate slug: got %v, want ErrConflict", err)
	}
	got, err := eng.Store.GetTenantBySlug(ctx, "acme")
	if err != nil || got.ID != a.ID || got.SeatLimit != 10 || got.Policy.DefaultRole != provisioning.RoleAgent {
		t.Fatalf("get by slug: %+v, %v", got, err)
	}
	if _, err := eng.Store.GetTenantBySlug(ctx, "nope"); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("unknown slug: got %v", err)
	}
	roles, err := eng.Store.ListRoles(ctx, a.ID)
	if err != nil || len(roles) != 4 {
		t.Fatalf("built-in roles: %v, %v", roles, err)
	}
	if _, err := eng.CreateTenant(ctx, cli, "Bad Slug", "x", 1); err == nil {
		t.Fatal("bad slug accepted")
	}
}

func testTokens(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 1)
	secret, tok, err := eng.CreateToken(ctx, cli, a.ID, provisioning.TokenSCIM, "okta")
	if err != nil {
		t.Fatal(err)
	}
	got, tn, err := eng.AuthenticateToken(ctx, secret, provisioning.TokenSCIM)
	if err != nil || got.ID != tok.ID || tn.ID != a.ID {
		t.Fatalf("authenticate: %v", err)
	}
	for name, bad := range map[string]string{
		"wrong kind":   secret,
		"tampered":     secret[:len(secret)-2] + "xx",
		"no prefix":    secret[4:],
		"empty":        "",
		"unknown id":   provisioning.TokenPrefix + "ffff_abc",
		"only id part": provisioning.TokenPrefix + tok.ID,
	} {
		kind := provisioning.TokenSCIM
		if name == "wrong kind" {
			kind = provisioning.TokenAdmin
		}
		if _, _, err := eng.AuthenticateToken(ctx, bad, kind); !errors.Is(err, provisioning.ErrBadToken) {
			t.Errorf("%s: got %v, want ErrBadToken", name, err)
		}
	}
	if err := eng.RevokeToken(ctx, cli, a.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.AuthenticateToken(ctx, secret, provisioning.TokenSCIM); !errors.Is(err, provisioning.ErrBadToken) {
		t.Fatalf("revoked token accepted: %v", err)
	}
}

func testUserRoundTrip(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	boss := mustUser(t, eng, a.ID, "boss@acme.test", func(u *provisioning.User) { u.DisplayName = "The Boss" })
	in := &provisioning.User{
		UserName: "Jane.Doe@acme.test", ExternalID: "00u1", DisplayName: "Jane Doe", Title: "Agent", PreferredLanguage: "nl-NL",
		Name:         provisioning.Name{GivenName: "Jane", FamilyName: "Doe", Formatted: "Jane Doe"},
		Emails:       []provisioning.MultiValue{{Value: "jane@acme.test", Type: "work", Primary: true}, {Value: "jd@home.test", Type: "home"}},
		PhoneNumbers: []provisioning.MultiValue{{Value: "+31 20 123", Type: "work"}},
		Addresses:    []provisioning.Address{{StreetAddress: "Main 1", Locality: "Amsterdam", Country: "NL", Type: "work", Primary: true}},
		Enterprise:   provisioning.Enterprise{EmployeeNumber: "42", Department: "Support", ManagerID: boss.ID},
		Source:       provisioning.SourceSCIM, ManagedByIdP: true, Seat: true,
	}
	created, err := eng.CreateUser(ctx, cli, a.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := eng.GetUser(ctx, a.ID, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserName != "Jane.Doe@acme.test" || got.Name.GivenName != "Jane" || len(got.Emails) != 2 || !got.Emails[0].Primary ||
		got.Emails[1].Value != "jd@home.test" || len(got.PhoneNumbers) != 1 || len(got.Addresses) != 1 || got.Addresses[0].Locality != "Amsterdam" ||
		got.Enterprise.ManagerID != boss.ID || got.Enterprise.ManagerDisplayName != "The Boss" || !got.Seat || !got.ManagedByIdP ||
		got.Source != provisioning.SourceSCIM || got.Version != 1 || got.Status != provisioning.StatusActive || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("round trip lost data: %+v", got)
	}
	byName, err := eng.Store.GetUserByUserName(ctx, a.ID, "JANE.DOE@ACME.TEST")
	if err != nil || byName.ID != created.ID {
		t.Fatalf("lookup by folded userName: %v", err)
	}
	upd, err := eng.UpdateUser(ctx, cli, a.ID, created.ID, provisioning.AnyVersion, func(u *provisioning.User) error {
		u.Emails = u.Emails[:1]
		u.Title = "Supervisor"
		return nil
	})
	if err != nil || upd.Version != 2 {
		t.Fatalf("update: %v (version %d)", err, upd.Version)
	}
	got, _ = eng.GetUser(ctx, a.ID, created.ID)
	if len(got.Emails) != 1 || got.Title != "Supervisor" || got.Version != 2 {
		t.Fatalf("update not stored: %+v", got)
	}
	if err := eng.DeleteUser(ctx, cli, a.ID, created.ID, provisioning.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.GetUser(ctx, a.ID, created.ID); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("deleted user still readable: %v", err)
	}
	tn, _ := eng.Store.GetTenant(ctx, a.ID)
	if tn.SeatsUsed != 0 {
		t.Fatalf("seat not freed by delete: %d used", tn.SeatsUsed)
	}
}

// testDeleteUserEffects checks every effect of a delete (PostgreSQL does them in one
// statement): the seat is freed, reports lose their manager, a self-managed user goes, the
// tombstone is written, other tenants are untouched, and a second delete is not found.
func testDeleteUserEffects(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	b := mustTenant(t, eng, "beta", 5)
	boss := mustUser(t, eng, a.ID, "boss@acme.test", func(u *provisioning.User) { u.Seat = true })
	report := mustUser(t, eng, a.ID, "report@acme.test", func(u *provisioning.User) { u.Enterprise.ManagerID = boss.ID })
	other := mustUser(t, eng, b.ID, "boss@acme.test", func(u *provisioning.User) { u.Seat = true })
	if !report.Enterprise.ManagerIsUser {
		t.Fatalf("manager not resolved: %+v", report.Enterprise)
	}
	if err := eng.DeleteUser(ctx, cli, a.ID, boss.ID, provisioning.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if got, err := eng.GetUser(ctx, a.ID, report.ID); err != nil || got.Enterprise.ManagerID != "" {
		t.Fatalf("manager reference kept after delete: %v %+v", err, got)
	}
	if tn, _ := eng.Store.GetTenant(ctx, a.ID); tn.SeatsUsed != 0 {
		t.Fatalf("seat not freed: %d used", tn.SeatsUsed)
	}
	if tn, _ := eng.Store.GetTenant(ctx, b.ID); tn.SeatsUsed != 1 {
		t.Fatalf("other tenant's seats changed: %d used", tn.SeatsUsed)
	}
	tombstoned := func(tenantID string) (dead bool) {
		t.Helper()
		if err := eng.Store.InTx(ctx, func(tx provisioning.Tx) (err error) {
			dead, err = tx.IsTombstoned(ctx, tenantID, "BOSS@acme.test")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return dead
	}
	if !tombstoned(a.ID) {
		t.Fatal("no tombstone")
	}
	if tombstoned(b.ID) {
		t.Fatal("tombstone in the other tenant")
	}
	if _, err := eng.GetUser(ctx, b.ID, other.ID); err != nil {
		t.Fatalf("other tenant's user: %v", err)
	}
	err := eng.Store.InTx(ctx, func(tx provisioning.Tx) error { _, _, err := tx.DeleteUser(ctx, a.ID, boss.ID); return err })
	if !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("second delete: %v, want not found", err)
	}
	// A user who is its own manager: one statement must not update and delete its row.
	if _, err := eng.UpdateUser(ctx, cli, a.ID, report.ID, provisioning.AnyVersion, func(u *provisioning.User) error {
		u.Enterprise.ManagerID = report.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := eng.GetUser(ctx, a.ID, report.ID); got.Enterprise.ManagerID != report.ID {
		t.Fatalf("self as manager not kept: %+v", got.Enterprise)
	}
	if err := eng.DeleteUser(ctx, cli, a.ID, report.ID, provisioning.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.GetUser(ctx, a.ID, report.ID); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("self-managed user not deleted: %v", err)
	}
}

// testDeleteUserLogout checks that a delete queues a back-channel logout only when it
// would end something: the user had a session (an ended one counts) and an OIDC client
// registered a backchannel_logout_uri. A deactivation still queues one as before.
func testDeleteUserLogout(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	session := func(u *provisioning.User, ended bool) {
		t.Helper()
		now := time.Now()
		if err := eng.Store.InTx(ctx, func(tx provisioning.Tx) error {
			id := "sess-" + u.ID
			if err := tx.CreateSession(ctx, &provisioning.Session{ID: id, TenantID: a.ID, UserID: u.ID, SecretHash: []byte{1},
				AMR: "oidc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
			if ended {
				return tx.EndSession(ctx, id, now)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	claimed := map[string]provisioning.LogoutReason{}
	// queued returns the users of the logouts queued since the last call.
	queued := func() map[string]provisioning.LogoutReason {
		t.Helper()
		ls, err := eng.Store.ClaimLogouts(ctx, "test", time.Now().Add(time.Minute), time.Hour, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]provisioning.LogoutReason{}
		for _, l := range ls {
			if _, seen := claimed[l.ID]; !seen {
				claimed[l.ID] = l.Reason
				out[l.UserID] = l.Reason
			}
		}
		return out
	}
	del := func(u *provisioning.User) {
		t.Helper()
		if err := eng.DeleteUser(ctx, cli, a.ID, u.ID, provisioning.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}

	// No client wants logouts: nothing is queued, sessions or not.
	signedIn := mustUser(t, eng, a.ID, "signed-in@acme.test")
	session(signedIn, false)
	del(signedIn)
	if got := queued(); len(got) != 0 {
		t.Fatalf("logouts queued with no back-channel client: %v", got)
	}

	if err := eng.Store.CreateClient(ctx, &provisioning.OAuthClient{ID: "platform", Name: "Platform",
		RedirectURIs: []string{"https://platform.test/cb"}, BackchannelLogoutURI: "https://platform.test/bcl", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	never := mustUser(t, eng, a.ID, "never@acme.test")
	open := mustUser(t, eng, a.ID, "open@acme.test")
	ended := mustUser(t, eng, a.ID, "ended@acme.test")
	deactivated := mustUser(t, eng, a.ID, "deactivated@acme.test")
	session(open, false)
	session(ended, true)
	for _, u := range []*provisioning.User{never, open, ended} {
		del(u)
	}
	want := map[string]provisioning.LogoutReason{open.ID: provisioning.LogoutDeleted, ended.ID: provisioning.LogoutDeleted}
	if got := queued(); !maps.Equal(got, want) {
		t.Fatalf("logouts queued by deletes = %v, want %v (none for the user who never signed in)", got, want)
	}
	// Deactivation is unchanged: its logout is queued whatever the sessions.
	if _, err := eng.UpdateUser(ctx, cli, a.ID, deactivated.ID, provisioning.AnyVersion, func(u *provisioning.User) error {
		u.Status = provisioning.StatusDeactivated
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := queued(); got[deactivated.ID] != provisioning.LogoutDeactivated {
		t.Fatalf("deactivation queued %v, want a logout", got)
	}
}

func testCaseInsensitiveUnique(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	b := mustTenant(t, eng, "beta", 5)
	mustUser(t, eng, a.ID, "Alice@Example.com")
	for _, name := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", " alice@Example.COM "} {
		_, err := eng.CreateUser(ctx, cli, a.ID, &provisioning.User{UserName: name})
		var ce *provisioning.ConflictError
		if !errors.As(err, &ce) || ce.Field != "userName" {
			t.Errorf("%q: got %v, want userName conflict", name, err)
		}
	}
	// Non-ASCII folding, which SQLite's lower() would miss.
	mustUser(t, eng, a.ID, "ÄNNE@example.com", func(u *provisioning.User) { u.Emails = nil })
	if _, err := eng.CreateUser(ctx, cli, a.ID, &provisioning.User{UserName: "änne@EXAMPLE.com"}); !errors.Is(err, provisioning.ErrConflict) {
		t.Errorf("unicode fold: got %v, want conflict", err)
	}
	// E-mails are not unique (RFC 7643, migration 00005): the same primary e-mail under
	// another userName is a second account, and both are found by the address.
	shared, err := eng.CreateUser(ctx, cli, a.ID, &provisioning.User{UserName: "alice2",
		Emails: []provisioning.MultiValue{{Value: "ALICE@example.com", Primary: true}}})
	if err != nil {
		t.Fatalf("a second account with the same primary e-mail: %v", err)
	}
	finder, ok := eng.Store.(interface {
		FindUsersByEmail(ctx context.Context, tenantID, emailKey string) ([]provisioning.User, error)
	})
	if !ok {
		t.Fatalf("%T has no FindUsersByEmail", eng.Store)
	}
	if found, err := finder.FindUsersByEmail(ctx, a.ID, "alice@EXAMPLE.com"); err != nil || len(found) != 2 {
		t.Errorf("FindUsersByEmail: %d users, %v; want alice and %s", len(found), err, shared.ID)
	}
	// Another tenant may use the same name.
	mustUser(t, eng, b.ID, "alice@example.com")
	// Renaming into a taken name conflicts as well.
	bob := mustUser(t, eng, a.ID, "bob@example.com")
	_, err = eng.UpdateUser(ctx, cli, a.ID, bob.ID, provisioning.AnyVersion, func(u *provisioning.User) error {
		u.UserName = "ALICE@example.com"
		return nil
	})
	if !errors.Is(err, provisioning.ErrConflict) {
		t.Errorf("rename into taken name: got %v", err)
	}
}

func testUniquenessRace(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := eng.CreateUser(ctx, cli, a.ID, &provisioning.User{UserName: fmt.Sprintf("Race@Example.com%s", []string{"", " "}[i%2])})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, conflicts := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, provisioning.ErrConflict):
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d created, %d conflicts; want 1 and %d", ok, conflicts, n-1)
	}
}

func testSeatRace(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	for i := range 4 {
		mustUser(t, eng, a.ID, fmt.Sprintf("seated%d@acme.test", i), func(u *provisioning.User) { u.Seat = true })
	}
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i] = mustUser(t, eng, a.ID, fmt.Sprintf("waiting%d@acme.test", i)).ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := eng.UpdateUser(ctx, cli, a.ID, id, provisioning.AnyVersion, func(u *provisioning.User) error { u.Seat = true; return nil })
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	ok, full := 0, 0
	for err := range errs {
		var se *provisioning.SeatLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &se):
			full++
			if se.Free != 0 || se.Limit != 5 {
				t.Errorf("seat error says %d free of %d", se.Free, se.Limit)
			}
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || full != n-1 {
		t.Fatalf("%d assigned, %d refused; want 1 and %d", ok, full, n-1)
	}
	tn, _ := eng.Store.GetTenant(ctx, a.ID)
	seated, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{Filter: provisioning.Compare{Field: "seat", Op: provisioning.OpEq, Value: true}})
	if err != nil || tn.SeatsUsed != 5 || seated.Total != 5 {
		t.Fatalf("seats used %d, seated users %d (%v); want 5", tn.SeatsUsed, seated.Total, err)
	}
	// Creating a seated user on a full tenant fails and stores nothing.
	_, err = eng.CreateUser(ctx, cli, a.ID, &provisioning.User{UserName: "late@acme.test", Seat: true})
	if !errors.Is(err, provisioning.ErrSeatLimit) {
		t.Fatalf("create on full tenant: %v", err)
	}
	if _, err := eng.Store.GetUserByUserName(ctx, a.ID, "late@acme.test"); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("failed create left a user behind: %v", err)
	}
}

func testDeactivationFreesSeat(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 1)
	u := mustUser(t, eng, a.ID, "one@acme.test", func(u *provisioning.User) { u.Seat = true })
	got, err := eng.UpdateUser(ctx, cli, a.ID, u.ID, provisioning.AnyVersion, func(u *provisioning.User) error {
		u.Status = provisioning.StatusDeactivated
		return nil
	})
	if err != nil || got.Seat {
		t.Fatalf("deactivate: %v, seat %v", err, got.Seat)
	}
	tn, _ := eng.Store.GetTenant(ctx, a.ID)
	if tn.SeatsUsed != 0 {
		t.Fatalf("seat not freed: %d", tn.SeatsUsed)
	}
	// The user is still readable, and the seat can go to someone else.
	if _, err := eng.GetUser(ctx, a.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	mustUser(t, eng, a.ID, "two@acme.test", func(u *provisioning.User) { u.Seat = true })
	ev, _ := eng.Store.ListAudit(ctx, a.ID, provisioning.AuditQuery{TargetID: u.ID})
	if len(ev) == 0 || ev[0].Action != "user.deactivate" {
		t.Fatalf("deactivation not audited: %+v", ev)
	}
}

func testTenantIsolation(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	b := mustTenant(t, eng, "beta", 5)
	ua := mustUser(t, eng, a.ID, "a@acme.test")
	mustUser(t, eng, b.ID, "b@beta.test")
	if _, err := eng.GetUser(ctx, b.ID, ua.ID); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("B reads A's user: %v", err)
	}
	if _, err := eng.UpdateUser(ctx, cli, b.ID, ua.ID, provisioning.AnyVersion, func(*provisioning.User) error { return nil }); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("B updates A's user: %v", err)
	}
	if err := eng.DeleteUser(ctx, cli, b.ID, ua.ID, provisioning.AnyVersion); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("B deletes A's user: %v", err)
	}
	page, err := eng.ListUsers(ctx, b.ID, provisioning.UserQuery{Limit: 100,
		Filter: provisioning.Compare{Field: "userName", Op: provisioning.OpEq, Value: "a@acme.test"}})
	if err != nil || page.Total != 0 {
		t.Errorf("B filters A's user: %d, %v", page.Total, err)
	}
	all, _ := eng.ListUsers(ctx, b.ID, provisioning.UserQuery{Limit: 100})
	if all.Total != 1 || all.Users[0].UserName != "b@beta.test" {
		t.Errorf("B lists %+v", all.Users)
	}
	gb, err := eng.CreateGroup(ctx, cli, b.ID, &provisioning.Group{DisplayName: "B team"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.PatchGroup(ctx, cli, b.ID, gb.ID, provisioning.AnyVersion, []provisioning.GroupOp{{Kind: provisioning.GroupAddMembers, Members: []string{ua.ID}}}, true)
	var ve *provisioning.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("B adds A's user to a group: %v", err)
	}
	if _, err := eng.GetGroup(ctx, a.ID, gb.ID, true); !errors.Is(err, provisioning.ErrNotFound) {
		t.Errorf("A reads B's group: %v", err)
	}
}

func testPagination(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	var want []string
	for i := range 25 {
		want = append(want, mustUser(t, eng, a.ID, fmt.Sprintf("user%02d@acme.test", (i*7)%25)).ID)
	}
	var got []string
	for off := 0; ; off += 10 {
		p, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{Offset: off, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 25 {
			t.Fatalf("total %d", p.Total)
		}
		for _, u := range p.Users {
			got = append(got, u.ID)
		}
		if len(p.Users) < 10 {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("offset pages out of creation order:\n got %v\nwant %v", got, want)
	}
	// Cursor pages sorted by userName descending visit every user once, in order.
	var names []string
	after := ""
	for range 10 {
		p, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{After: after, Limit: 7, Sort: provisioning.SortKey{Field: "userName", Descending: true}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Users {
			names = append(names, u.UserName)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(names) != 25 || !sort.SliceIsSorted(names, func(i, j int) bool { return names[i] > names[j] }) {
		t.Fatalf("cursor pages: %v", names)
	}
	if _, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{After: "garbage!", Limit: 5}); !errors.Is(err, provisioning.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	beyond, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{Offset: 40, Limit: 10})
	if err != nil || beyond.Total != 25 || len(beyond.Users) != 0 {
		t.Fatalf("page past the end: %d users, total %d, %v", len(beyond.Users), beyond.Total, err)
	}
	count, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{Limit: 0})
	if err != nil || count.Total != 25 || len(count.Users) != 0 {
		t.Fatalf("count only: %d users, total %d, %v", len(count.Users), count.Total, err)
	}
}

func testFilters(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	mustUser(t, eng, a.ID, "Ann@Acme.test", func(u *provisioning.User) {
		u.DisplayName, u.Title, u.ExternalID = "Ann Smith", "Agent", "ext-1"
		u.Emails = []provisioning.MultiValue{{Value: "ann@acme.test", Type: "work", Primary: true}, {Value: "ann@home.test", Type: "home"}}
		u.Enterprise.Department = "Sales"
	})
	mustUser(t, eng, a.ID, "bob@acme.test", func(u *provisioning.User) {
		u.DisplayName, u.Title = "Bob 50%_off", "Supervisor"
		u.Status = provisioning.StatusDeactivated
	})
	mustUser(t, eng, a.ID, "carol@other.test", func(u *provisioning.User) {
		u.DisplayName = "Carol"
		u.Emails = []provisioning.MultiValue{{Value: "carol@other.test", Type: "home"}}
	})
	cmp := func(f string, op provisioning.Op, v any) provisioning.Compare {
		return provisioning.Compare{Field: f, Op: op, Value: v}
	}
	tests := []struct {
		name   string
		filter provisioning.Filter
		want   string
	}{
		{"eq folds case", cmp("userName", provisioning.OpEq, "ANN@acme.TEST"), "[Ann@Acme.test]"},
		{"eq caseExact", provisioning.Compare{Field: "userName", Op: provisioning.OpEq, Value: "ann@acme.test", CaseExact: true}, "[]"},
		{"ne", cmp("userName", provisioning.OpNe, "ann@acme.test"), "[bob@acme.test carol@other.test]"},
		{"co", cmp("userName", provisioning.OpCo, "ACME"), "[Ann@Acme.test bob@acme.test]"},
		{"co caseExact", provisioning.Compare{Field: "displayName", Op: provisioning.OpCo, Value: "smith", CaseExact: true}, "[]"},
		{"sw", cmp("displayName", provisioning.OpSw, "car"), "[carol@other.test]"},
		{"ew", cmp("userName", provisioning.OpEw, "other.test"), "[carol@other.test]"},
		{"like wildcards are literal", cmp("displayName", provisioning.OpCo, "50%_"), "[bob@acme.test]"},
		{"like wildcard no match", cmp("displayName", provisioning.OpCo, "%"), "[bob@acme.test]"},
		{"pr", provisioning.Compare{Field: "externalId", Op: provisioning.OpPresent}, "[Ann@Acme.test]"},
		{"gt string", cmp("userName", provisioning.OpGt, "b"), "[bob@acme.test carol@other.test]"},
		{"active false", cmp("active", provisioning.OpEq, false), "[bob@acme.test]"},
		{"and/or/not", provisioning.Or{Left: provisioning.And{Left: cmp("title", provisioning.OpEq, "agent"), Right: cmp("enterprise.department", provisioning.OpEq, "sales")},
			Right: provisioning.Not{Inner: cmp("userName", provisioning.OpCo, "acme")}}, "[Ann@Acme.test carol@other.test]"},
		{"value path", provisioning.Any{Collection: "emails", Where: provisioning.And{Left: cmp("type", provisioning.OpEq, "work"), Right: cmp("value", provisioning.OpCo, "@ACME")}}, "[Ann@Acme.test bob@acme.test]"},
		{"value path excludes other types", provisioning.Any{Collection: "emails", Where: provisioning.And{Left: cmp("type", provisioning.OpEq, "home"), Right: cmp("value", provisioning.OpCo, "@ACME")}}, "[]"},
		{"value path home", provisioning.Any{Collection: "emails", Where: cmp("type", provisioning.OpEq, "home")}, "[Ann@Acme.test carol@other.test]"},
		{"emails pr", provisioning.Any{Collection: "emails"}, "[Ann@Acme.test bob@acme.test carol@other.test]"},
		{"meta.created gt", cmp("meta.created", provisioning.OpGt, time.Now().Add(-time.Hour)), "[Ann@Acme.test bob@acme.test carol@other.test]"},
		{"role", cmp("role", provisioning.OpEq, "agent"), "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{Filter: tc.filter, Limit: 100, Sort: provisioning.SortKey{Field: "userName"}})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, u := range p.Users {
				names = append(names, u.UserName)
			}
			if got := fmt.Sprint(names); got != tc.want && !(tc.want == "[]" && names == nil) {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if p.Total != len(names) {
				t.Fatalf("total %d for %d rows", p.Total, len(names))
			}
		})
	}
	for name, f := range map[string]provisioning.Filter{
		"unknown attribute": cmp("shoeSize", provisioning.OpEq, "42"),
		"addresses":         provisioning.Any{Collection: "addresses", Where: cmp("locality", provisioning.OpEq, "x")},
		"bool with co":      cmp("active", provisioning.OpCo, "t"),
		"date garbage":      cmp("meta.created", provisioning.OpGt, "yesterday"),
	} {
		if _, err := eng.ListUsers(ctx, a.ID, provisioning.UserQuery{Filter: f, Limit: 10}); !errors.Is(err, provisioning.ErrUnsupportedFilter) {
			t.Errorf("%s: got %v, want ErrUnsupportedFilter", name, err)
		}
	}
}

func testGroups(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	u1 := mustUser(t, eng, a.ID, "u1@acme.test")
	u2 := mustUser(t, eng, a.ID, "u2@acme.test")
	u3 := mustUser(t, eng, a.ID, "u3@acme.test")
	g, err := eng.CreateGroup(ctx, cli, a.ID, &provisioning.Group{DisplayName: "Support", Members: []provisioning.GroupMember{{UserID: u1.ID}}})
	if err != nil || len(g.Members) != 1 {
		t.Fatalf("create group: %v %+v", err, g)
	}
	g, err = eng.PatchGroup(ctx, cli, a.ID, g.ID, g.Version, []provisioning.GroupOp{
		{Kind: provisioning.GroupAddMembers, Members: []string{u2.ID, u3.ID, u2.ID}},
		{Kind: provisioning.GroupRemoveMembers, Members: []string{u1.ID}},
		{Kind: provisioning.GroupSetDisplayName, Value: "Support Tier 1"},
	}, true)
	if err != nil || len(g.Members) != 2 || g.DisplayName != "Support Tier 1" || g.Version != 2 {
		t.Fatalf("patch group: %v %+v", err, g)
	}
	if _, err := eng.PatchGroup(ctx, cli, a.ID, g.ID, 1, nil, false); !errors.Is(err, provisioning.ErrVersionMismatch) {
		t.Fatalf("stale version: %v", err)
	}
	// A failing op rolls back the earlier ones of the same patch.
	_, err = eng.PatchGroup(ctx, cli, a.ID, g.ID, provisioning.AnyVersion, []provisioning.GroupOp{
		{Kind: provisioning.GroupRemoveAllMember},
		{Kind: provisioning.GroupAddMembers, Members: []string{"no-such-user"}},
	}, false)
	if err == nil {
		t.Fatal("unknown member accepted")
	}
	g, _ = eng.GetGroup(ctx, a.ID, g.ID, true)
	if len(g.Members) != 2 {
		t.Fatalf("failed patch was not atomic: %d members", len(g.Members))
	}
	refs, err := eng.Store.UserGroups(ctx, a.ID, u2.ID)
	if err != nil || len(refs) != 1 || refs[0].DisplayName != "Support Tier 1" {
		t.Fatalf("user groups: %+v %v", refs, err)
	}
	got, _ := eng.GetUser(ctx, a.ID, u3.ID)
	if len(got.Groups) != 1 || got.Groups[0].ID != g.ID {
		t.Fatalf("user.groups: %+v", got.Groups)
	}
	p, err := eng.ListGroups(ctx, a.ID, provisioning.GroupQuery{Limit: 10,
		Filter: provisioning.Any{Collection: "members", Where: provisioning.Compare{Field: "value", Op: provisioning.OpEq, Value: u3.ID}}})
	if err != nil || p.Total != 1 {
		t.Fatalf("groups by member: %v %+v", err, p)
	}
	p, err = eng.ListGroups(ctx, a.ID, provisioning.GroupQuery{Limit: 10,
		Filter: provisioning.Compare{Field: "displayName", Op: provisioning.OpEq, Value: "support tier 1"}})
	if err != nil || p.Total != 1 || p.Groups[0].Members != nil {
		t.Fatalf("groups by name: %v %+v", err, p)
	}
	// Deleting a user removes its memberships.
	if err := eng.DeleteUser(ctx, cli, a.ID, u2.ID, provisioning.AnyVersion); err != nil {
		t.Fatal(err)
	}
	g, _ = eng.GetGroup(ctx, a.ID, g.ID, true)
	if len(g.Members) != 1 || g.Members[0].UserID != u3.ID {
		t.Fatalf("members after user delete: %+v", g.Members)
	}
	if err := eng.DeleteGroup(ctx, cli, a.ID, g.ID, provisioning.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.GetGroup(ctx, a.ID, g.ID, false); !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("deleted group: %v", err)
	}
}

func testAudit(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 0)
	actor := provisioning.Actor{Kind: provisioning.ActorSCIMToken, ID: "tok1", Name: "okta", IP: "203.0.113.9", RequestID: "req-1"}
	u, err := eng.CreateUser(ctx, actor, a.ID, &provisioning.User{UserName: "audited@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	// A change that fails (no seats) must leave neither the change nor an event.
	if _, err := eng.UpdateUser(ctx, actor, a.ID, u.ID, provisioning.AnyVersion, func(u *provisioning.User) error { u.Seat = true; return nil }); !errors.Is(err, provisioning.ErrSeatLimit) {
		t.Fatalf("seat on zero-seat tenant: %v", err)
	}
	ev, err := eng.Store.ListAudit(ctx, a.ID, provisioning.AuditQuery{TargetID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Action != "user.create" || ev[0].ActorID != "tok1" || ev[0].IP != "203.0.113.9" || ev[0].RequestID != "req-1" || len(ev[0].After) == 0 {
		t.Fatalf("audit events: %+v", ev)
	}
	if err := eng.DeleteUser(ctx, actor, a.ID, u.ID, provisioning.AnyVersion); err != nil {
		t.Fatal(err)
	}
	ev, _ = eng.Store.ListAudit(ctx, a.ID, provisioning.AuditQuery{TargetID: u.ID})
	if len(ev) != 2 || ev[0].Action != "user.delete" || len(ev[0].Before) == 0 {
		t.Fatalf("delete not audited with history: %+v", ev)
	}
	page, _ := eng.Store.ListAudit(ctx, a.ID, provisioning.AuditQuery{Limit: 1, BeforeID: ev[0].ID})
	if len(page) != 1 || page[0].ID != ev[1].ID {
		t.Fatalf("audit paging: %+v", page)
	}
}

func testVersionCheck(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 1)
	u := mustUser(t, eng, a.ID, "v@acme.test")
	if _, err := eng.UpdateUser(ctx, cli, a.ID, u.ID, 1, func(u *provisioning.User) error { u.Title = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.UpdateUser(ctx, cli, a.ID, u.ID, 1, func(u *provisioning.User) error { u.Title = "y"; return nil }); !errors.Is(err, provisioning.ErrVersionMismatch) {
		t.Fatalf("stale update: %v", err)
	}
	if err := eng.DeleteUser(ctx, cli, a.ID, u.ID, 1); !errors.Is(err, provisioning.ErrVersionMismatch) {
		t.Fatalf("stale delete: %v", err)
	}
}

// testUserIdentities: a user's sign-in links come back with their connection's name and
// type, oldest first, and never across tenants.
func testUserIdentities(t *testing.T, eng *provisioning.Engine) {
	ctx := context.Background()
	a := mustTenant(t, eng, "acme", 5)
	b := mustTenant(t, eng, "beta", 5)
	ua := mustUser(t, eng, a.ID, "a@acme.test")
	other := mustUser(t, eng, a.ID, "other@acme.test")
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	okta := &provisioning.Connection{ID: eng.NewID(), TenantID: a.ID, Name: "Okta", Type: provisioning.ConnSAML,
		Mode: provisioning.ModeJIT, Domains: []string{"acme.test"}, CreatedAt: t0, UpdatedAt: t0}
	entra := &provisioning.Connection{ID: eng.NewID(), TenantID: a.ID, Name: "Entra ID", Type: provisioning.ConnOIDC,
		Mode: provisioning.ModeJIT, Domains: []string{"acme.test"}, CreatedAt: t0, UpdatedAt: t0}
	err := eng.Store.InTx(ctx, func(tx provisioning.Tx) error {
		for _, c := range []*provisioning.Connection{okta, entra} {
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
		}
		links := []provisioning.Identity{
			{TenantID: a.ID, ConnectionID: entra.ID, Subject: "entra-sub", UserID: ua.ID, CreatedAt: t0.Add(time.Hour)},
			{TenantID: a.ID, ConnectionID: okta.ID, Subject: "00u1okta", UserID: ua.ID, CreatedAt: t0},
			{TenantID: a.ID, ConnectionID: okta.ID, Subject: "00u2okta", UserID: other.ID, CreatedAt: t0},
		}
		for i := range links {
			if err := tx.LinkIdentity(ctx, &links[i]); err != nil {
				return err
			}
		}
		return tx.TouchIdentity(ctx, a.ID, okta.ID, "00u1okta", t0.Add(2*time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := eng.UserIdentities(ctx, a.ID, ua.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ConnectionName != "Okta" || got[0].ConnectionType != provisioning.ConnSAML || got[0].Subject != "00u1okta" ||
		got[0].LastLoginAt == nil || !got[0].LastLoginAt.Equal(t0.Add(2*time.Hour)) ||
		got[1].ConnectionName != "Entra ID" || got[1].ConnectionType != provisioning.ConnOIDC || got[1].LastLoginAt != nil {
		t.Fatalf("identities of a@acme.test: %+v", got)
	}
	if got, err := eng.UserIdentities(ctx, b.ID, ua.ID); err != nil || len(got) != 0 {
		t.Fatalf("another tenant reads the identities: %+v, %v", got, err)
	}
}
