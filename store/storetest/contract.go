package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// Contract drives the store contract (provisioning.Store and its Tx) directly, without
// the engine, with one sub-test per noun of provisioning/store.go: a store that passes it
// on both dialects behaves as the engine expects. The concurrency sub-tests (single-use
// state, assertion replay, disjoint claims, seats at the limit, lock order) each run
// under a deadlock timeout, so a hang fails the test instead of stalling the suite.
//
// Every noun works in tenants of its own, so the nouns may share one database.
func Contract(t *testing.T, s provisioning.Store) {
	nouns := []struct {
		name string
		fn   func(t *testing.T, s provisioning.Store)
	}{
		{"tenants", contractTenants},
		{"users", contractUsers},
		{"groups", contractGroups},
		{"access", contractAccess},
		{"connections", contractConnections},
		{"ssostate", contractSSOState},
		{"invitations", contractInvitations},
		{"mail", contractMail},
		{"events", contractEvents},
		{"setup", contractSetup},
		{"audit", contractAudit},
		{"transactions", contractTransactions},
	}
	for _, n := range nouns {
		t.Run(n.name, func(t *testing.T) { n.fn(t, s) })
	}
}

// deadlockTimeout bounds every concurrency sub-test: far above what the work takes even
// on a loaded machine, far below the go test timeout.
const deadlockTimeout = 60 * time.Second

// within runs fn with a context that ends after deadlockTimeout and fails the test when fn
// has not returned by then (a deadlock or a lost wake-up) instead of hanging.
func within(t *testing.T, fn func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadlockTimeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	select {
	case <-done:
	case <-time.After(deadlockTimeout + 5*time.Second):
		t.Fatalf("did not finish within %v: deadlock?", deadlockTimeout)
	}
}

// now is a time the store keeps exactly (microseconds).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newID(prefix string) string { return prefix + "-" + randomHex(8) }

// inTx runs fn in one transaction and fails the test on an error.
func inTx(t *testing.T, s provisioning.Store, fn func(tx provisioning.Tx) error) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

func newTenant(t *testing.T, s provisioning.Store, seatLimit int) *provisioning.Tenant {
	t.Helper()
	at := now()
	tn := &provisioning.Tenant{ID: newID("tn"), Slug: newID("slug"), Name: "Contract", SeatLimit: seatLimit, CreatedAt: at, UpdatedAt: at}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateTenant(context.Background(), tn) })
	return tn
}

func userSpec(userName string, seat bool) *provisioning.User {
	at := now()
	return &provisioning.User{ID: newID("u"), UserName: userName, DisplayName: userName, Status: provisioning.StatusActive,
		Seat: seat, Version: 1, CreatedAt: at, UpdatedAt: at,
		Emails: []provisioning.MultiValue{{Value: userName + "@example.com", Type: "work", Primary: true}}}
}

func newUser(t *testing.T, s provisioning.Store, tenantID, userName string, seat bool) *provisioning.User {
	t.Helper()
	u := userSpec(userName, seat)
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateUser(context.Background(), tenantID, u) })
	return u
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, provisioning.ErrNotFound) {
		t.Fatalf("%s: got %v, want ErrNotFound", what, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func contractTenants(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 2)

	got, err := s.GetTenant(ctx, tn.ID)
	must(t, "get tenant", err)
	bySlug, err := s.GetTenantBySlug(ctx, tn.Slug)
	must(t, "get tenant by slug", err)
	if got.Slug != tn.Slug || bySlug.ID != tn.ID || got.SeatLimit != 2 || got.SeatsUsed != 0 {
		t.Fatalf("tenant read back as %+v / %+v", got, bySlug)
	}
	all, err := s.ListTenants(ctx)
	must(t, "list tenants", err)
	if !slices.ContainsFunc(all, func(x provisioning.Tenant) bool { return x.ID == tn.ID }) {
		t.Fatalf("ListTenants misses %s", tn.ID)
	}
	err = s.InTx(ctx, func(tx provisioning.Tx) error {
		return tx.CreateTenant(ctx, &provisioning.Tenant{ID: newID("tn"), Slug: tn.Slug, Name: "dup", CreatedAt: now(), UpdatedAt: now()})
	})
	var conflict *provisioning.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("duplicate slug: got %v, want *ConflictError", err)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		_, err := tx.UpdateTenant(ctx, tn.ID, func(x *provisioning.Tenant) error {
			x.Name, x.SeatsUsed = "Renamed", 99 // seats_used is the store's own count
			return nil
		})
		return err
	})
	if got, _ := s.GetTenant(ctx, tn.ID); got.Name != "Renamed" || got.SeatsUsed != 0 {
		t.Fatalf("after UpdateTenant: %+v", got)
	}
	_, missing := s.GetTenant(ctx, "no-such-tenant")
	wantNotFound(t, "unknown tenant", missing)

	t.Run("tokens", func(t *testing.T) {
		tok := &provisioning.APIToken{ID: newID("tok"), TenantID: tn.ID, Kind: provisioning.TokenSCIM, Name: "idp",
			SecretHash: []byte("hash"), CreatedAt: now()}
		inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateToken(ctx, tok) })
		gt, gtn, err := s.GetTokenTenant(ctx, tok.ID)
		must(t, "get token tenant", err)
		if gt.TenantID != tn.ID || gtn.ID != tn.ID || string(gt.SecretHash) != "hash" {
			t.Fatalf("GetTokenTenant = %+v, %+v", gt, gtn)
		}
		at := now()
		inTx(t, s, func(tx provisioning.Tx) error { return tx.TouchToken(ctx, tok.ID, at) })
		inTx(t, s, func(tx provisioning.Tx) error { return tx.RevokeToken(ctx, tn.ID, tok.ID, at) })
		got, err := s.GetToken(ctx, tok.ID)
		must(t, "get token", err)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) || got.RevokedAt == nil {
			t.Fatalf("token after touch and revoke: %+v", got)
		}
		list, err := s.ListTokens(ctx, tn.ID)
		must(t, "list tokens", err)
		if len(list) != 1 || list[0].ID != tok.ID {
			t.Fatalf("ListTokens = %+v", list)
		}
	})

	t.Run("seats", func(t *testing.T) {
		a := newUser(t, s, tn.ID, "seat-a", false)
		b := newUser(t, s, tn.ID, "seat-b", false)
		c := newUser(t, s, tn.ID, "seat-c", false)
		inTx(t, s, func(tx provisioning.Tx) error {
			if err := tx.LockTenant(ctx, tn.ID); err != nil {
				return err
			}
			return tx.SetSeats(ctx, tn.ID, []string{a.ID, b.ID}, true, now())
		})
		err := s.InTx(ctx, func(tx provisioning.Tx) error { return tx.SetSeats(ctx, tn.ID, []string{c.ID}, true, now()) })
		var limit *provisioning.SeatLimitError
		if !errors.As(err, &limit) {
			t.Fatalf("seat beyond the limit: got %v, want *SeatLimitError", err)
		}
		if got, _ := s.GetTenant(ctx, tn.ID); got.SeatsUsed != 2 {
			t.Fatalf("seats used = %d, want 2", got.SeatsUsed)
		}
		if got, _ := s.GetUser(ctx, tn.ID, a.ID); !got.Seat || got.Version != a.Version+1 {
			t.Fatalf("seated user: seat %v version %d", got.Seat, got.Version)
		}
		inTx(t, s, func(tx provisioning.Tx) error { return tx.SetSeats(ctx, tn.ID, []string{a.ID}, false, now()) })
		if got, _ := s.GetTenant(ctx, tn.ID); got.SeatsUsed != 1 {
			t.Fatalf("seats used after freeing one = %d, want 1", got.SeatsUsed)
		}
	})

	t.Run("SeatsAtTheLimit", func(t *testing.T) { contractSeatsAtTheLimit(t, s) })
}

// contractUserSearch checks the admin search: a substring of any one of userName, e-mail,
// display, given and family name finds the user (case-insensitively), the externalId as a
// whole does, and text spanning two columns does not (PostgreSQL's index joins them).
func contractUserSearch(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 0)
	u := userSpec("zk1@corp.example", false)
	u.DisplayName, u.Name.GivenName, u.Name.FamilyName, u.ExternalID = "Zofia K", "Zofia", "Kowalska", "ext-77"
	u.Emails[0].Value = "zofia@mail.example"
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateUser(ctx, tn.ID, u) })
	newUser(t, s, tn.ID, "other", false)
	for q, want := range map[string]int{"ZK1@": 1, "mail.ex": 1, "zofia k": 1, "KOWAL": 1, "ext-77": 1, "ext-7": 0,
		"corp.examplezofia": 0, "zofiakowalska": 0, "example": 2, "\x01": 0, "100%": 0} {
		page, err := s.ListUsers(ctx, tn.ID, provisioning.UserQuery{Search: q, Limit: 10})
		must(t, "search "+q, err)
		if page.Total != want || len(page.Users) != want {
			t.Errorf("search %q: %d users (total %d), want %d", q, len(page.Users), page.Total, want)
		}
	}
}

func contractUsers(t *testing.T, s provisioning.Store) {
	contractUserSearch(t, s)
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	alice := newUser(t, s, tn.ID, "alice", true)
	bob := newUser(t, s, tn.ID, "bob", false)

	got, err := s.GetUser(ctx, tn.ID, alice.ID)
	must(t, "get user", err)
	if got.UserName != "alice" || len(got.Emails) != 1 || !got.Seat || got.Version != 1 {
		t.Fatalf("user read back as %+v", got)
	}
	if got, err := s.GetUserByUserName(ctx, tn.ID, "alice"); err != nil || got.ID != alice.ID {
		t.Fatalf("GetUserByUserName = %v, %v", got, err)
	}
	err = s.InTx(ctx, func(tx provisioning.Tx) error { return tx.CreateUser(ctx, tn.ID, userSpec("ALICE", false)) })
	var conflict *provisioning.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("userName taken (other case): got %v, want *ConflictError", err)
	}
	found, err := s.FindUsersByEmail(ctx, tn.ID, provisioning.FoldKey("Bob@Example.com"))
	must(t, "find by e-mail", err)
	if len(found) != 1 || found[0].ID != bob.ID {
		t.Fatalf("FindUsersByEmail = %+v", found)
	}
	page, err := s.ListUsers(ctx, tn.ID, provisioning.UserQuery{Limit: 10})
	must(t, "list users", err)
	if page.Total != 2 || len(page.Users) != 2 {
		t.Fatalf("ListUsers: total %d, %d users", page.Total, len(page.Users))
	}

	inTx(t, s, func(tx provisioning.Tx) error {
		_, err := tx.UpdateUser(ctx, tn.ID, bob.ID, func(u *provisioning.User) error { u.Title = "Engineer"; return nil })
		return err
	})
	if got, _ := s.GetUser(ctx, tn.ID, bob.ID); got.Title != "Engineer" || got.Version != 2 {
		t.Fatalf("after UpdateUser: title %q version %d", got.Title, got.Version)
	}
	at := now()
	inTx(t, s, func(tx provisioning.Tx) error {
		locked, err := tx.LockUsers(ctx, tn.ID, []string{bob.ID, "no-such-user", alice.ID})
		if err != nil {
			return err
		}
		ids := []string{locked[0].ID, locked[len(locked)-1].ID}
		if len(locked) != 2 || !slices.IsSorted(ids) {
			return fmt.Errorf("LockUsers = %d users %v, want the two known ones in id order", len(locked), ids)
		}
		return tx.TouchLastLogin(ctx, tn.ID, alice.ID, at)
	})
	if got, _ := s.GetUser(ctx, tn.ID, alice.ID); got.LastLoginAt == nil || !got.LastLoginAt.Equal(at) || got.Version != 1 {
		t.Fatalf("after TouchLastLogin: %v version %d", got.LastLoginAt, got.Version)
	}

	var gone *provisioning.User
	inTx(t, s, func(tx provisioning.Tx) error {
		var err error
		gone, _, err = tx.DeleteUser(ctx, tn.ID, alice.ID)
		return err
	})
	// The user comes back as it was, with its details, for the audit record.
	if gone == nil || gone.ID != alice.ID || gone.UserName != alice.UserName || len(gone.Emails) != 1 || gone.Groups == nil {
		t.Fatalf("DeleteUser returned %+v, want alice as she was", gone)
	}
	_, err = s.GetUser(ctx, tn.ID, alice.ID)
	wantNotFound(t, "deleted user", err)
	if tomb, err := s.IsTombstoned(ctx, tn.ID, "Alice"); err != nil || !tomb {
		t.Fatalf("IsTombstoned after delete = %v, %v", tomb, err)
	}
	if got, _ := s.GetTenant(ctx, tn.ID); got.SeatsUsed != 0 {
		t.Fatalf("delete kept the seat: %d used", got.SeatsUsed)
	}
}

func contractGroups(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	a := newUser(t, s, tn.ID, "g-a", false)
	b := newUser(t, s, tn.ID, "g-b", false)
	at := now()
	g := &provisioning.Group{ID: newID("g"), DisplayName: "Engineering", Version: 1, CreatedAt: at, UpdatedAt: at}
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.CreateGroup(ctx, tn.ID, g); err != nil {
			return err
		}
		_, err := tx.ApplyGroupOps(ctx, tn.ID, g.ID, []provisioning.GroupOp{{Kind: provisioning.GroupAddMembers, Members: []string{a.ID, b.ID}}}, now())
		return err
	})
	err := s.InTx(ctx, func(tx provisioning.Tx) error {
		_, err := tx.ApplyGroupOps(ctx, tn.ID, g.ID, []provisioning.GroupOp{{Kind: provisioning.GroupAddMembers, Members: []string{"no-such-user"}}}, now())
		return err
	})
	var invalid *provisioning.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("unknown member: got %v, want *ValidationError", err)
	}
	got, err := s.GetGroup(ctx, tn.ID, g.ID, true)
	must(t, "get group", err)
	if len(got.Members) != 2 || got.Version != 2 {
		t.Fatalf("group: %d members, version %d", len(got.Members), got.Version)
	}
	refs, err := s.UserGroups(ctx, tn.ID, a.ID)
	must(t, "user groups", err)
	if len(refs) != 1 || refs[0].ID != g.ID {
		t.Fatalf("UserGroups = %+v", refs)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		_, err := tx.UpdateGroup(ctx, tn.ID, g.ID, func(x *provisioning.Group) error { x.DisplayName = "Platform"; return nil })
		return err
	})
	page, err := s.ListGroups(ctx, tn.ID, provisioning.GroupQuery{Limit: 10})
	must(t, "list groups", err)
	if page.Total != 1 || page.Groups[0].DisplayName != "Platform" {
		t.Fatalf("ListGroups = %+v", page)
	}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.DeleteGroup(ctx, tn.ID, g.ID) })
	_, err = s.GetGroup(ctx, tn.ID, g.ID, false)
	wantNotFound(t, "deleted group", err)
}

func contractAccess(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	u := newUser(t, s, tn.ID, "acc-u", true)
	admin := &provisioning.Role{ID: newID("r"), Name: provisioning.RoleAdmin, BuiltIn: true, CreatedAt: now()}
	viewer := &provisioning.Role{ID: newID("r"), Name: "Viewer", Permissions: []provisioning.Permission{provisioning.PermViewAllTickets}, CreatedAt: now()}
	team := &provisioning.Team{ID: newID("t"), Name: "Support", CreatedAt: now(), UpdatedAt: now()}
	inTx(t, s, func(tx provisioning.Tx) error {
		for _, r := range []*provisioning.Role{admin, viewer} {
			if err := tx.CreateRole(ctx, tn.ID, r); err != nil {
				return err
			}
		}
		return tx.CreateTeam(ctx, tn.ID, team)
	})
	err := s.InTx(ctx, func(tx provisioning.Tx) error {
		return tx.CreateRole(ctx, tn.ID, &provisioning.Role{ID: newID("r"), Name: "viewer", CreatedAt: now()})
	})
	var conflict *provisioning.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("duplicate role name: got %v, want *ConflictError", err)
	}
	viewer.Permissions = append(viewer.Permissions, provisioning.PermExportData)
	team.Description = "first line"
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.UpdateRole(ctx, tn.ID, viewer); err != nil {
			return err
		}
		if err := tx.UpdateTeam(ctx, tn.ID, team); err != nil {
			return err
		}
		if err := tx.GrantRoles(ctx, tn.ID, []string{u.ID}, []string{admin.ID, viewer.ID}); err != nil {
			return err
		}
		return tx.AddTeamMembers(ctx, tn.ID, []string{team.ID}, []string{u.ID})
	})
	if r, err := s.GetRole(ctx, tn.ID, viewer.ID); err != nil || len(r.Permissions) != 2 {
		t.Fatalf("GetRole = %+v, %v", r, err)
	}
	if roles, err := s.ListRoles(ctx, tn.ID); err != nil || len(roles) != 2 {
		t.Fatalf("ListRoles = %+v, %v", roles, err)
	}
	if tm, err := s.GetTeam(ctx, tn.ID, team.ID); err != nil || tm.Description != "first line" {
		t.Fatalf("GetTeam = %+v, %v", tm, err)
	}
	if teams, err := s.ListTeams(ctx, tn.ID); err != nil || len(teams) != 1 || teams[0].MemberCount != 1 {
		t.Fatalf("ListTeams = %+v, %v", teams, err)
	}
	if n, err := s.CountAdmins(ctx, tn.ID); err != nil || n != 1 {
		t.Fatalf("CountAdmins = %d, %v", n, err)
	}
	grants, err := s.UserGrants(ctx, tn.ID, []string{u.ID})
	must(t, "user grants", err)
	if len(grants) != 3 {
		t.Fatalf("UserGrants = %+v, want two roles and a team", grants)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.RevokeRoles(ctx, tn.ID, []string{u.ID}, []string{admin.ID}); err != nil {
			return err
		}
		n, err := tx.RemoveTeamMembers(ctx, tn.ID, []string{team.ID}, []string{u.ID})
		if err == nil && n != 1 {
			err = fmt.Errorf("RemoveTeamMembers removed %d, want 1", n)
		}
		return err
	})
	if n, _ := s.CountAdmins(ctx, tn.ID); n != 0 {
		t.Fatalf("CountAdmins after revoke = %d", n)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.DeleteRole(ctx, tn.ID, viewer.ID); err != nil {
			return err
		}
		return tx.DeleteTeam(ctx, tn.ID, team.ID)
	})
	_, err = s.GetRole(ctx, tn.ID, viewer.ID)
	wantNotFound(t, "deleted role", err)
	_, err = s.GetTeam(ctx, tn.ID, team.ID)
	wantNotFound(t, "deleted team", err)

	t.Run("GrantSources", func(t *testing.T) { contractGrantSources(t, s) })
}

func contractConnections(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	u := newUser(t, s, tn.ID, "conn-u", true)
	at := now()
	c := &provisioning.Connection{ID: newID("c"), TenantID: tn.ID, Name: "Okta", Type: provisioning.ConnSAML, Mode: provisioning.ModeJIT,
		Domains: []string{"example.com"}, CreatedAt: at, UpdatedAt: at}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateConnection(ctx, c) })
	c.Name, c.Disabled = "Okta EU", true
	inTx(t, s, func(tx provisioning.Tx) error { return tx.UpdateConnection(ctx, c) })
	if got, err := s.GetConnection(ctx, tn.ID, c.ID); err != nil || got.Name != "Okta EU" || !got.Disabled || len(got.Domains) != 1 {
		t.Fatalf("GetConnection = %+v, %v", got, err)
	}
	if list, err := s.ListConnections(ctx, tn.ID); err != nil || len(list) != 1 {
		t.Fatalf("ListConnections = %+v, %v", list, err)
	}

	id := &provisioning.Identity{TenantID: tn.ID, ConnectionID: c.ID, Subject: "sub-1", UserID: u.ID, CreatedAt: at}
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.LinkIdentity(ctx, id); err != nil {
			return err
		}
		return tx.TouchIdentity(ctx, tn.ID, c.ID, "sub-1", at)
	})
	if got, err := s.GetIdentity(ctx, tn.ID, c.ID, "sub-1"); err != nil || got.UserID != u.ID || got.LastLoginAt == nil {
		t.Fatalf("GetIdentity = %+v, %v", got, err)
	}
	if ids, err := s.ListUserIdentities(ctx, tn.ID, u.ID); err != nil || len(ids) != 1 || ids[0].ConnectionName != "Okta EU" {
		t.Fatalf("ListUserIdentities = %+v, %v", ids, err)
	}

	sess := func() *provisioning.Session {
		return &provisioning.Session{ID: newID("s"), TenantID: tn.ID, UserID: u.ID, SecretHash: []byte("h"), ConnectionID: c.ID,
			AMR: "ext", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	s1, s2 := sess(), sess()
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.CreateSession(ctx, s1); err != nil {
			return err
		}
		return tx.CreateSession(ctx, s2)
	})
	if open, err := s.ListUserSessions(ctx, tn.ID, u.ID, at); err != nil || len(open) != 2 {
		t.Fatalf("ListUserSessions = %d, %v", len(open), err)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.EndSession(ctx, s1.ID, at); err != nil {
			return err
		}
		return tx.EndSession(ctx, s1.ID, at) // ending an ended session is not an error
	})
	if got, err := s.GetSession(ctx, s1.ID); err != nil || got.EndedAt == nil {
		t.Fatalf("ended session = %+v, %v", got, err)
	}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.EndUserSessions(ctx, tn.ID, u.ID, at) })
	if open, err := s.ListUserSessions(ctx, tn.ID, u.ID, at); err != nil || len(open) != 0 {
		t.Fatalf("sessions after EndUserSessions = %d, %v", len(open), err)
	}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.DeleteConnection(ctx, tn.ID, c.ID) })
	_, err := s.GetConnection(ctx, tn.ID, c.ID)
	wantNotFound(t, "deleted connection", err)
}

func contractSSOState(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	at := now()
	st := &provisioning.AuthState{Kind: "saml", Key: newID("k"), TenantID: tn.ID, SessionID: "sess-1", Data: []byte(`{"x":1}`),
		CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	must(t, "put state", s.PutState(ctx, st))
	if got, err := s.GetState(ctx, "saml", st.Key, at); err != nil || string(got.Data) != `{"x":1}` {
		t.Fatalf("GetState = %+v, %v", got, err)
	}
	if _, err := s.TakeState(ctx, "saml", st.Key, at); err != nil {
		t.Fatalf("TakeState: %v", err)
	}
	_, err := s.TakeState(ctx, "saml", st.Key, at)
	wantNotFound(t, "second TakeState", err)

	expired := &provisioning.AuthState{Kind: "saml", Key: newID("k"), TenantID: tn.ID, CreatedAt: at, ExpiresAt: at.Add(time.Second)}
	must(t, "put state", s.PutState(ctx, expired))
	_, err = s.TakeState(ctx, "saml", expired.Key, at.Add(time.Minute))
	wantNotFound(t, "expired TakeState", err)

	bound := &provisioning.AuthState{Kind: "oidc", Key: newID("k"), TenantID: tn.ID, SessionID: "sess-2", CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	must(t, "put state", s.PutState(ctx, bound))
	must(t, "delete session states", s.DeleteSessionStates(ctx, "sess-2"))
	_, err = s.GetState(ctx, "oidc", bound.Key, at)
	wantNotFound(t, "state of an ended session", err)

	conn := newID("c")
	must(t, "remember assertion", s.RememberAssertion(ctx, conn, "a-1", at.Add(time.Minute), at))
	if err := s.RememberAssertion(ctx, conn, "a-1", at.Add(time.Minute), at); !errors.Is(err, provisioning.ErrConflict) {
		t.Fatalf("replayed assertion: got %v, want ErrConflict", err)
	}
	// Expired but not purged yet: usable again, and remembered anew.
	must(t, "assertion after its expiry, before the purge", s.RememberAssertion(ctx, conn, "a-1", at.Add(2*time.Minute), at.Add(time.Minute)))
	if err := s.RememberAssertion(ctx, conn, "a-1", at.Add(2*time.Minute), at.Add(time.Minute)); !errors.Is(err, provisioning.ErrConflict) {
		t.Fatalf("assertion replayed after its renewal: got %v, want ErrConflict", err)
	}
	must(t, "purge expired", s.PurgeExpired(ctx, at.Add(2*time.Minute)))
	must(t, "assertion after its expiry", s.RememberAssertion(ctx, conn, "a-1", at.Add(3*time.Minute), at.Add(2*time.Minute)))

	cl := &provisioning.OAuthClient{ID: newID("cl"), Name: "app", SecretHash: []byte("h"), RedirectURIs: []string{"https://app.example/cb"}, CreatedAt: at}
	must(t, "create client", s.CreateClient(ctx, cl))
	if got, err := s.GetClient(ctx, cl.ID); err != nil || len(got.RedirectURIs) != 1 || got.IDTokenAlg != provisioning.DefaultIDTokenAlg {
		t.Fatalf("GetClient = %+v, %v", got, err)
	}
	es := &provisioning.OAuthClient{ID: newID("cl"), Name: "es", RedirectURIs: []string{"https://app.example/cb"}, IDTokenAlg: "ES256", CreatedAt: at}
	must(t, "create ES256 client", s.CreateClient(ctx, es))
	if got, err := s.GetClient(ctx, es.ID); err != nil || got.IDTokenAlg != "ES256" {
		t.Fatalf("GetClient (ES256) = %+v, %v", got, err)
	}
	if list, err := s.ListClients(ctx); err != nil || !slices.ContainsFunc(list, func(x provisioning.OAuthClient) bool { return x.ID == cl.ID }) {
		t.Fatalf("ListClients = %+v, %v", list, err)
	}
	k1 := &provisioning.SigningKey{ID: newID("key"), Alg: "RS256", PrivateSealed: []byte("p"), PublicJWK: []byte("{}"), CreatedAt: at}
	k2 := &provisioning.SigningKey{ID: newID("key"), Alg: "RS256", PrivateSealed: []byte("p"), PublicJWK: []byte("{}"), CreatedAt: at.Add(time.Second)}
	// Each algorithm has its own current key: retiring within RS256 leaves the ES256 key.
	k3 := &provisioning.SigningKey{ID: newID("key"), Alg: "ES256", PrivateSealed: []byte("p"), PublicJWK: []byte("{}"), CreatedAt: at}
	must(t, "add key", s.AddSigningKey(ctx, k1))
	must(t, "add key", s.AddSigningKey(ctx, k2))
	must(t, "add key", s.AddSigningKey(ctx, k3))
	must(t, "retire keys", s.RetireSigningKeys(ctx, k2.ID, at.Add(time.Minute)))
	if keys, err := s.ListSigningKeys(ctx, at.Add(2*time.Minute)); err != nil || len(keys) != 2 || keys[0].ID != k2.ID || keys[1].ID != k3.ID {
		t.Fatalf("ListSigningKeys after retiring = %+v, %v", keys, err)
	}

	t.Run("TakeStateOnce", func(t *testing.T) { contractTakeStateOnce(t, s, tn.ID) })
	t.Run("AssertionReplayOnce", func(t *testing.T) { contractAssertionOnce(t, s) })
}

func contractInvitations(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	u := newUser(t, s, tn.ID, "invitee", true)
	at := now()
	inv := &provisioning.Invitation{ID: newID("inv"), TenantID: tn.ID, UserID: u.ID, Email: "invitee@example.com",
		Roles: []string{"Viewer"}, Teams: []string{}, Seat: true, TokenHash: []byte(newID("token")), State: provisioning.InvitePending,
		ExpiresAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateInvitation(ctx, inv) })
	if got, err := s.GetInvitationByToken(ctx, inv.TokenHash); err != nil || got.ID != inv.ID || len(got.Roles) != 1 {
		t.Fatalf("GetInvitationByToken = %+v, %v", got, err)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		_, err := tx.UpdateInvitation(ctx, tn.ID, inv.ID, func(x *provisioning.Invitation) error { x.SentCount = 2; return nil })
		return err
	})
	if got, err := s.GetInvitation(ctx, tn.ID, inv.ID); err != nil || got.SentCount != 2 {
		t.Fatalf("GetInvitation = %+v, %v", got, err)
	}
	if list, err := s.ListInvitations(ctx, tn.ID, provisioning.InvitationQuery{State: provisioning.InvitePending, Now: at}); err != nil || len(list) != 1 {
		t.Fatalf("ListInvitations = %+v, %v", list, err)
	}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.AcceptUserInvitations(ctx, tn.ID, u.ID, at) })
	if got, _ := s.GetInvitation(ctx, tn.ID, inv.ID); got.AcceptedAt == nil || got.State == provisioning.InvitePending {
		t.Fatalf("accepted invitation = %+v", got)
	}

	t.Run("local accounts", func(t *testing.T) {
		_, err := s.GetLocalAccount(ctx, tn.ID, u.ID)
		wantNotFound(t, "no local account yet", err)
		inTx(t, s, func(tx provisioning.Tx) error {
			_, err := tx.UpdateLocalAccount(ctx, tn.ID, u.ID, func(a *provisioning.LocalAccount) error { a.FailedCount, a.MustChange = 3, true; return nil })
			return err
		})
		if got, err := s.GetLocalAccount(ctx, tn.ID, u.ID); err != nil || got.FailedCount != 3 || !got.MustChange {
			t.Fatalf("GetLocalAccount = %+v, %v", got, err)
		}
	})
	t.Run("second factors", func(t *testing.T) {
		inTx(t, s, func(tx provisioning.Tx) error {
			_, err := tx.UpdateTwoFactor(ctx, tn.ID, u.ID, func(f *provisioning.TwoFactor) error {
				f.SecretSealed, f.LastStep, f.RecoveryHashes = []byte("sealed"), 7, []string{"r1", "r2"}
				return nil
			})
			return err
		})
		if got, err := s.GetTwoFactor(ctx, tn.ID, u.ID); err != nil || got.LastStep != 7 || len(got.RecoveryHashes) != 2 {
			t.Fatalf("GetTwoFactor = %+v, %v", got, err)
		}
		inTx(t, s, func(tx provisioning.Tx) error {
			if err := tx.DeleteTwoFactor(ctx, tn.ID, u.ID); err != nil {
				return err
			}
			return tx.DeleteTwoFactor(ctx, tn.ID, u.ID) // a missing one is not an error
		})
		_, err := s.GetTwoFactor(ctx, tn.ID, u.ID)
		wantNotFound(t, "deleted second factor", err)
	})

	invited := newUser(t, s, tn.ID, "never-accepted", true)
	inTx(t, s, func(tx provisioning.Tx) error { return tx.DeleteInvitedUser(ctx, tn.ID, invited.ID) })
	if tomb, err := s.IsTombstoned(ctx, tn.ID, "never-accepted"); err != nil || tomb {
		t.Fatalf("DeleteInvitedUser left a tombstone: %v, %v", tomb, err)
	}
	if got, _ := s.GetTenant(ctx, tn.ID); got.SeatsUsed != 1 {
		t.Fatalf("seats after DeleteInvitedUser = %d, want 1", got.SeatsUsed)
	}
}

func mailSpec(tenantID, refID string, at time.Time) *provisioning.OutboxMessage {
	return &provisioning.OutboxMessage{ID: newID("m"), TenantID: tenantID, Kind: provisioning.MailInvitation, RefID: refID,
		To: "someone@example.com", Payload: []byte("sealed"), Status: provisioning.OutboxPending, NextAttemptAt: at, CreatedAt: at}
}

func contractMail(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	at := now()
	sent, stale := mailSpec(tn.ID, "ref-1", at), mailSpec(tn.ID, "ref-2", at)
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.EnqueueMail(ctx, sent); err != nil {
			return err
		}
		if err := tx.EnqueueMail(ctx, stale); err != nil {
			return err
		}
		return tx.CancelMail(ctx, tn.ID, "ref-2")
	})
	var claimed []provisioning.OutboxMessage
	within(t, func(ctx context.Context) {
		var err error
		claimed, err = s.ClaimMail(ctx, "w1", at, time.Minute, 100)
		must(t, "claim mail", err)
	})
	mine := slices.DeleteFunc(claimed, func(m provisioning.OutboxMessage) bool { return m.TenantID != tn.ID })
	if len(mine) != 1 || mine[0].ID != sent.ID || mine[0].Attempts != 1 {
		t.Fatalf("ClaimMail = %+v, want only the pending message", mine)
	}
	m := mine[0]
	m.Status, m.SentAt = provisioning.OutboxSent, &at
	inTx(t, s, func(tx provisioning.Tx) error { return tx.FinishMail(ctx, &m, "w1") })
	err := s.InTx(ctx, func(tx provisioning.Tx) error { return tx.FinishMail(ctx, &m, "w1") })
	if !errors.Is(err, provisioning.ErrConflict) {
		t.Fatalf("finishing a finished message: got %v, want ErrConflict", err)
	}
	if list, err := s.ListMail(ctx, tn.ID, "ref-1"); err != nil || len(list) != 1 || list[0].Status != provisioning.OutboxSent {
		t.Fatalf("ListMail = %+v, %v", list, err)
	}

	t.Run("suppressions", func(t *testing.T) {
		inTx(t, s, func(tx provisioning.Tx) error {
			return tx.AddSuppression(ctx, &provisioning.Suppression{TenantID: tn.ID, Email: "bounced@example.com", Reason: "bounce", CreatedAt: at})
		})
		if got, err := s.GetSuppression(ctx, tn.ID, "bounced@example.com"); err != nil || got.Reason != "bounce" {
			t.Fatalf("GetSuppression = %+v, %v", got, err)
		}
		if list, err := s.ListSuppressions(ctx, tn.ID); err != nil || len(list) != 1 {
			t.Fatalf("ListSuppressions = %+v, %v", list, err)
		}
		inTx(t, s, func(tx provisioning.Tx) error { return tx.DeleteSuppression(ctx, tn.ID, "bounced@example.com") })
		err := s.InTx(ctx, func(tx provisioning.Tx) error { return tx.DeleteSuppression(ctx, tn.ID, "bounced@example.com") })
		wantNotFound(t, "deleting a missing suppression", err)
	})

	t.Run("ClaimsDisjoint", func(t *testing.T) { contractMailClaimsDisjoint(t, s) })
}

func eventSpec(tenantID, userID string, at time.Time) *provisioning.Event {
	return &provisioning.Event{ID: newID("ev"), TenantID: tenantID, Type: "user.updated", Time: at, UserID: userID,
		Actor: provisioning.EventActor{Kind: "cli"}, Data: json.RawMessage(`{}`)}
}

func webhookSpec(tenantID string, at time.Time) *provisioning.WebhookEndpoint {
	return &provisioning.WebhookEndpoint{ID: newID("wh"), TenantID: tenantID, URL: "https://hooks.example/in", Events: []string{"*"},
		State: provisioning.WebhookActive, SecretsSealed: []byte("sealed"), Version: 1, CreatedAt: at, UpdatedAt: at}
}

func matchAll(*provisioning.WebhookEndpoint) ([]string, bool) { return nil, true }

func contractEvents(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	at := now()
	wh := webhookSpec(tn.ID, at)
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateWebhook(ctx, wh) })
	inTx(t, s, func(tx provisioning.Tx) error {
		for i := 0; i < 3; i++ {
			if err := tx.AppendEvent(ctx, eventSpec(tn.ID, "user-1", at)); err != nil {
				return err
			}
		}
		return nil
	})
	evs, err := s.ListEvents(ctx, tn.ID, 0, 10)
	must(t, "list events", err)
	if len(evs) != 3 || evs[0].Seq != 1 || evs[2].Seq != 3 {
		t.Fatalf("ListEvents = %+v", evs)
	}
	if seq, err := s.LastEventSeq(ctx, tn.ID); err != nil || seq != 3 {
		t.Fatalf("LastEventSeq = %d, %v", seq, err)
	}

	within(t, func(ctx context.Context) {
		if _, err := s.FanOutWebhooks(ctx, at, 100, matchAll); err != nil {
			t.Errorf("fan out: %v", err)
		}
	})
	if ds, err := s.ListDeliveries(ctx, tn.ID, wh.ID, 10); err != nil || len(ds) != 3 {
		t.Fatalf("ListDeliveries = %d, %v", len(ds), err)
	}
	// One user's deliveries go out in order: a claim takes only the oldest pending one.
	var claimed []provisioning.ClaimedDelivery
	within(t, func(ctx context.Context) {
		claimed, err = s.ClaimDeliveries(ctx, "w1", at, time.Minute, 100)
	})
	must(t, "claim deliveries", err)
	claimed = slices.DeleteFunc(claimed, func(d provisioning.ClaimedDelivery) bool { return d.TenantID != tn.ID })
	if len(claimed) != 1 || claimed[0].EventSeq != 1 || len(claimed[0].Body) == 0 {
		t.Fatalf("ClaimDeliveries = %+v, want the user's first delivery only", claimed)
	}
	// A failed attempt is recorded with the delivery's new state; a replay makes it pending
	// again and the next claim's success finishes it with its attempt.
	d := claimed[0].WebhookDelivery
	d.Status, d.LastStatus, d.LastError = provisioning.WebhookFailed, 500, "boom"
	failed := &provisioning.WebhookAttempt{ID: newID("at"), TenantID: tn.ID, DeliveryID: d.ID, Attempt: 1, Worker: "w1", StatusCode: 500, Error: "boom", At: at}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.FinishDelivery(ctx, &d, failed, "w1") })
	if as, err := s.ListAttempts(ctx, tn.ID, d.ID); err != nil || len(as) != 1 || as[0].StatusCode != 500 {
		t.Fatalf("ListAttempts after a failure = %+v, %v", as, err)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		got, err := tx.ReplayDelivery(ctx, tn.ID, wh.ID, d.ID, at)
		if err == nil && got.Status != provisioning.WebhookPending {
			err = fmt.Errorf("replayed delivery status %q", got.Status)
		}
		return err
	})
	within(t, func(ctx context.Context) { claimed, err = s.ClaimDeliveries(ctx, "w2", at, time.Minute, 100) })
	must(t, "claim deliveries", err)
	claimed = slices.DeleteFunc(claimed, func(d provisioning.ClaimedDelivery) bool { return d.TenantID != tn.ID })
	if len(claimed) != 1 || claimed[0].ID != d.ID {
		t.Fatalf("ClaimDeliveries after replay = %+v", claimed)
	}
	ok := &provisioning.WebhookAttempt{ID: newID("at"), TenantID: tn.ID, DeliveryID: d.ID, Attempt: 2, Worker: "w2", StatusCode: 200, At: at}
	inTx(t, s, func(tx provisioning.Tx) error {
		n, err := tx.MarkDelivered(ctx, []*provisioning.WebhookAttempt{ok}, "w2")
		if err == nil && n != 1 {
			err = fmt.Errorf("MarkDelivered finished %d, want 1", n)
		}
		return err
	})
	if as, err := s.ListAttempts(ctx, tn.ID, d.ID); err != nil || len(as) != 2 || as[1].StatusCode != 200 {
		t.Fatalf("ListAttempts after success = %+v, %v", as, err)
	}
	inTx(t, s, func(tx provisioning.Tx) error {
		_, err := tx.UpdateWebhook(ctx, tn.ID, wh.ID, func(w *provisioning.WebhookEndpoint) error { w.Description = "ops"; return nil })
		return err
	})
	if got, err := s.GetWebhook(ctx, tn.ID, wh.ID); err != nil || got.Description != "ops" || got.Version != 2 {
		t.Fatalf("GetWebhook = %+v, %v", got, err)
	}
	if list, err := s.ListWebhooks(ctx, tn.ID); err != nil || len(list) != 1 {
		t.Fatalf("ListWebhooks = %+v, %v", list, err)
	}

	t.Run("logouts", func(t *testing.T) {
		l := &provisioning.LogoutRequest{ID: newID("lo"), TenantID: tn.ID, UserID: "user-1", SessionID: "s-1",
			Reason: provisioning.LogoutDeactivated, NextAttemptAt: at, CreatedAt: at}
		inTx(t, s, func(tx provisioning.Tx) error { return tx.EnqueueLogout(ctx, l) })
		var got []provisioning.LogoutRequest
		within(t, func(ctx context.Context) { got, err = s.ClaimLogouts(ctx, "w1", at, time.Minute, 100) })
		must(t, "claim logouts", err)
		got = slices.DeleteFunc(got, func(x provisioning.LogoutRequest) bool { return x.TenantID != tn.ID })
		if len(got) != 1 || got[0].ID != l.ID || got[0].Attempts != 1 {
			t.Fatalf("ClaimLogouts = %+v", got)
		}
		inTx(t, s, func(tx provisioning.Tx) error { return tx.FinishLogout(ctx, &got[0], "sent", "", "w1") })
		within(t, func(ctx context.Context) { got, err = s.ClaimLogouts(ctx, "w2", at.Add(time.Hour), time.Minute, 100) })
		must(t, "claim logouts", err)
		if slices.ContainsFunc(got, func(x provisioning.LogoutRequest) bool { return x.ID == l.ID }) {
			t.Fatal("a finished logout was claimed again")
		}
	})

	t.Run("sinks", func(t *testing.T) {
		var batches []provisioning.SinkBatch
		within(t, func(ctx context.Context) { batches, err = s.ClaimSink(ctx, "kafka", "w1", at, time.Minute, 100, 100) })
		must(t, "claim sink", err)
		i := slices.IndexFunc(batches, func(b provisioning.SinkBatch) bool { return b.TenantID == tn.ID })
		if i < 0 || len(batches[i].Events) != 3 {
			t.Fatalf("ClaimSink = %+v", batches)
		}
		must(t, "release sink", s.ReleaseSink(ctx, "kafka", "w1", tn.ID, 3))
		within(t, func(ctx context.Context) { batches, err = s.ClaimSink(ctx, "kafka", "w1", at, time.Minute, 100, 100) })
		must(t, "claim sink", err)
		if slices.ContainsFunc(batches, func(b provisioning.SinkBatch) bool { return b.TenantID == tn.ID }) {
			t.Fatal("published events were claimed again")
		}
	})

	inTx(t, s, func(tx provisioning.Tx) error { return tx.DeleteWebhook(ctx, tn.ID, wh.ID) })
	_, err = s.GetWebhook(ctx, tn.ID, wh.ID)
	wantNotFound(t, "deleted webhook", err)

	t.Run("DeliveryClaimsDisjoint", func(t *testing.T) { contractDeliveryClaimsDisjoint(t, s) })
	t.Run("LogoutClaimsDisjoint", func(t *testing.T) { contractLogoutClaimsDisjoint(t, s) })
}

func contractSetup(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	at := now()
	l := &provisioning.SetupLink{ID: newID("sl"), TenantID: tn.ID, SecretHash: []byte("h"), CreatedBy: "cli", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateSetupLink(ctx, l) })
	must(t, "save progress", s.SaveSetupProgress(ctx, tn.ID, l.ID, provisioning.SetupProgress{Provider: "okta", TestOK: true}))
	if got, err := s.GetSetupLink(ctx, l.ID); err != nil || got.Progress.Provider != "okta" || !got.Progress.TestOK {
		t.Fatalf("GetSetupLink = %+v, %v", got, err)
	}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.RevokeSetupLink(ctx, tn.ID, l.ID, at) })
	if list, err := s.ListSetupLinks(ctx, tn.ID); err != nil || len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("ListSetupLinks = %+v, %v", list, err)
	}
	err := s.InTx(ctx, func(tx provisioning.Tx) error { return tx.RevokeSetupLink(ctx, tn.ID, "no-such-link", at) })
	wantNotFound(t, "revoking an unknown link", err)

	t.Run("provisioning log", func(t *testing.T) {
		old, recent := at.Add(-48*time.Hour), at
		must(t, "append log", s.AppendProvisioningLog(ctx, []provisioning.ProvisioningLogEntry{
			{TenantID: tn.ID, At: old, Method: "POST", Path: "/Users", Status: 201},
			{TenantID: tn.ID, At: recent, Method: "PATCH", Path: "/Users/1", Status: 400, SCIMType: "invalidValue"},
		}))
		if list, err := s.ListProvisioningLog(ctx, tn.ID, provisioning.ProvisioningLogQuery{Method: "PATCH", Limit: 10}); err != nil || len(list) != 1 || list[0].Status != 400 {
			t.Fatalf("ListProvisioningLog = %+v, %v", list, err)
		}
		n, err := s.PurgeProvisioningLog(ctx, at.Add(-time.Hour))
		must(t, "purge log", err)
		if list, _ := s.ListProvisioningLog(ctx, tn.ID, provisioning.ProvisioningLogQuery{Limit: 10}); n < 1 || len(list) != 1 {
			t.Fatalf("after purge: %d purged, %d left", n, len(list))
		}
	})
}

func contractAudit(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	at := now()
	inTx(t, s, func(tx provisioning.Tx) error {
		for _, action := range []string{"user.create", "user.update"} {
			if err := tx.AppendAudit(ctx, &provisioning.AuditEvent{TenantID: tn.ID, At: at, ActorKind: provisioning.ActorCLI, ActorID: "cli",
				Action: action, TargetKind: "user", TargetID: "u-1", After: []byte(`{}`)}); err != nil {
				return err
			}
		}
		for _, result := range []string{"success", "failure", "success"} {
			if err := tx.AppendLogin(ctx, &provisioning.LoginEvent{TenantID: tn.ID, UserID: "u-1", Method: "saml", Result: result,
				IP: "192.0.2.1", UserAgent: "test", At: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if list, err := s.ListAudit(ctx, tn.ID, provisioning.AuditQuery{Action: "user.update"}); err != nil || len(list) != 1 {
		t.Fatalf("ListAudit = %+v, %v", list, err)
	}
	if list, err := s.ListLogins(ctx, tn.ID, provisioning.LoginQuery{UserID: "u-1", Result: "failure"}); err != nil || len(list) != 1 {
		t.Fatalf("ListLogins = %+v, %v", list, err)
	}
	sum, err := s.LoginSummary(ctx, tn.ID, "u-1")
	must(t, "login summary", err)
	if sum.Count != 2 || sum.Failures != 1 || len(sum.IPs) != 1 {
		t.Fatalf("LoginSummary = %+v", sum)
	}
}
