package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The transaction and concurrency half of Contract: each sub-test races real
// transactions on the database and bounds the race with within.

// racers is how many goroutines race for one thing: more than the pools' idle
// connections, so PostgreSQL really runs them at once.
const racers = 8

// race runs fn(i) for i in [0, n) at once, after all have started, and returns the errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// contractSeatsAtTheLimit: N concurrent seated creations with limit L, exactly L succeed
// and the others fail with *SeatLimitError; the count never passes the limit.
func contractSeatsAtTheLimit(t *testing.T, s provisioning.Store) {
	const limit = 3
	tn := newTenant(t, s, limit)
	var errs []error
	within(t, func(ctx context.Context) {
		errs = race(racers, func(i int) error {
			return s.InTx(ctx, func(tx provisioning.Tx) error {
				return tx.CreateUser(ctx, tn.ID, userSpec(fmt.Sprintf("seat-%d", i), true))
			})
		})
	})
	ok := 0
	for _, err := range errs {
		var full *provisioning.SeatLimitError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &full):
			t.Errorf("seated create: got %v, want nil or *SeatLimitError", err)
		}
	}
	got, err := s.GetTenant(context.Background(), tn.ID)
	must(t, "get tenant", err)
	if ok != limit || got.SeatsUsed != limit {
		t.Fatalf("%d of %d seated creations succeeded, %d seats used; want exactly %d", ok, racers, got.SeatsUsed, limit)
	}
}

// contractGrantSources: grants of the admin source and of an identity provider
// (idp:<connection>) live side by side; replacing one source's never touches the other's.
func contractGrantSources(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	u := newUser(t, s, tn.ID, "sources", true)
	role := func(name string) *provisioning.Role {
		return &provisioning.Role{ID: newID("r"), Name: name, CreatedAt: now()}
	}
	team := func(name string) *provisioning.Team {
		return &provisioning.Team{ID: newID("t"), Name: name, CreatedAt: now(), UpdatedAt: now()}
	}
	adminRole, idpRole, idpRole2 := role("Agent"), role("Viewer"), role("Auditor")
	adminTeam, idpTeam := team("Support"), team("Billing")
	const idp = "idp:conn-1"
	inTx(t, s, func(tx provisioning.Tx) error {
		for _, r := range []*provisioning.Role{adminRole, idpRole, idpRole2} {
			if err := tx.CreateRole(ctx, tn.ID, r); err != nil {
				return err
			}
		}
		for _, tm := range []*provisioning.Team{adminTeam, idpTeam} {
			if err := tx.CreateTeam(ctx, tn.ID, tm); err != nil {
				return err
			}
		}
		if err := tx.SetUserRoles(ctx, tn.ID, u.ID, []string{adminRole.ID}); err != nil {
			return err
		}
		if err := tx.AddTeamMembers(ctx, tn.ID, []string{adminTeam.ID}, []string{u.ID}); err != nil {
			return err
		}
		if err := tx.SetSourcedRoles(ctx, tn.ID, u.ID, idp, []string{idpRole.ID}); err != nil {
			return err
		}
		return tx.SetSourcedTeams(ctx, tn.ID, u.ID, idp, []string{idpTeam.ID})
	})
	grants := func() []string {
		t.Helper()
		gs, err := s.UserGrants(ctx, tn.ID, []string{u.ID})
		must(t, "user grants", err)
		var out []string
		for _, g := range gs {
			out = append(out, g.Kind+":"+g.Name+"@"+g.Source)
		}
		slices.Sort(out)
		return out
	}
	want := func(step string, w ...string) {
		t.Helper()
		slices.Sort(w)
		if got := grants(); !slices.Equal(got, w) {
			t.Fatalf("%s: grants %v, want %v", step, got, w)
		}
	}
	want("both sources", "role:Agent@admin", "role:Viewer@"+idp, "team:Support@admin", "team:Billing@"+idp)

	// The identity provider's mapping changes: only its grants follow.
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.SetSourcedRoles(ctx, tn.ID, u.ID, idp, []string{idpRole2.ID}); err != nil {
			return err
		}
		return tx.SetSourcedTeams(ctx, tn.ID, u.ID, idp, nil)
	})
	want("idp replaced", "role:Agent@admin", "role:Auditor@"+idp, "team:Support@admin")

	// An admin clears its grants: the identity provider's stay.
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.SetUserRoles(ctx, tn.ID, u.ID, nil); err != nil {
			return err
		}
		if n, err := tx.RemoveTeamMembers(ctx, tn.ID, []string{adminTeam.ID}, []string{u.ID}); err != nil || n != 1 {
			return fmt.Errorf("remove admin team membership: %d, %v", n, err)
		}
		return nil
	})
	want("admin cleared", "role:Auditor@"+idp)

	// Admin removal never takes a membership the identity provider gave.
	inTx(t, s, func(tx provisioning.Tx) error { return tx.SetSourcedTeams(ctx, tn.ID, u.ID, idp, []string{idpTeam.ID}) })
	inTx(t, s, func(tx provisioning.Tx) error {
		if n, err := tx.RemoveTeamMembers(ctx, tn.ID, []string{idpTeam.ID}, []string{u.ID}); err != nil || n != 0 {
			return fmt.Errorf("admin removal of an idp membership: removed %d, %v", n, err)
		}
		return tx.RevokeRoles(ctx, tn.ID, []string{u.ID}, []string{idpRole2.ID})
	})
	want("admin removal of idp grants", "role:Auditor@"+idp, "team:Billing@"+idp)
}

// contractTakeStateOnce: a single-use state taken by many at once goes to exactly one.
func contractTakeStateOnce(t *testing.T, s provisioning.Store, tenantID string) {
	at := now()
	st := &provisioning.AuthState{Kind: "oidc", Key: newID("k"), TenantID: tenantID, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
	must(t, "put state", s.PutState(context.Background(), st))
	var errs []error
	within(t, func(ctx context.Context) {
		errs = race(racers, func(int) error {
			_, err := s.TakeState(ctx, "oidc", st.Key, at)
			return err
		})
	})
	exactlyOne(t, "TakeState", errs, provisioning.ErrNotFound)
}

// contractAssertionOnce: an assertion presented many times at once is accepted once.
func contractAssertionOnce(t *testing.T, s provisioning.Store) {
	at := now()
	conn, id := newID("c"), newID("assertion")
	var errs []error
	within(t, func(ctx context.Context) {
		errs = race(racers, func(int) error { return s.RememberAssertion(ctx, conn, id, at.Add(time.Minute), at) })
	})
	exactlyOne(t, "RememberAssertion", errs, provisioning.ErrConflict)
}

// exactlyOne checks that one call succeeded and every other one failed with loser.
func exactlyOne(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, loser):
			t.Errorf("%s: got %v, want nil or %v", what, err, loser)
		}
	}
	if won != 1 {
		t.Fatalf("%s: %d of %d racers won, want exactly 1", what, won, len(errs))
	}
}

// claimAll has racers claim in small batches until nobody gets anything for tenantID,
// and checks every row of want was claimed exactly once: claims are disjoint.
func claimAll(t *testing.T, want []string, tenantID string, claim func(ctx context.Context, worker string) ([][2]string, error)) {
	t.Helper()
	var mu sync.Mutex
	owner := map[string]string{}
	var errs []error
	within(t, func(ctx context.Context) {
		errs = race(racers, func(i int) error {
			worker := fmt.Sprintf("w%d", i)
			for {
				rows, err := claim(ctx, worker)
				if err != nil {
					return err
				}
				mine := 0
				mu.Lock()
				for _, r := range rows {
					if r[1] != tenantID {
						continue
					}
					mine++
					if prev, ok := owner[r[0]]; ok {
						mu.Unlock()
						return fmt.Errorf("row %s claimed by %s and %s", r[0], prev, worker)
					}
					owner[r[0]] = worker
				}
				mu.Unlock()
				if mine == 0 && len(rows) == 0 {
					return nil
				}
			}
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range want {
		if _, ok := owner[id]; !ok {
			t.Errorf("row %s was never claimed", id)
		}
	}
	if len(owner) != len(want) {
		t.Fatalf("%d rows claimed, want %d", len(owner), len(want))
	}
}

const claimRows = 40

func contractMailClaimsDisjoint(t *testing.T, s provisioning.Store) {
	tn := newTenant(t, s, 10)
	at := now()
	var ids []string
	inTx(t, s, func(tx provisioning.Tx) error {
		for range claimRows {
			m := mailSpec(tn.ID, newID("ref"), at)
			ids = append(ids, m.ID)
			if err := tx.EnqueueMail(context.Background(), m); err != nil {
				return err
			}
		}
		return nil
	})
	claimAll(t, ids, tn.ID, func(ctx context.Context, worker string) ([][2]string, error) {
		ms, err := s.ClaimMail(ctx, worker, at, time.Hour, 3)
		var out [][2]string
		for _, m := range ms {
			out = append(out, [2]string{m.ID, m.TenantID})
		}
		return out, err
	})
}

func contractDeliveryClaimsDisjoint(t *testing.T, s provisioning.Store) {
	tn := newTenant(t, s, 10)
	at := now()
	wh := webhookSpec(tn.ID, at)
	inTx(t, s, func(tx provisioning.Tx) error {
		if err := tx.CreateWebhook(context.Background(), wh); err != nil {
			return err
		}
		for i := range claimRows {
			// A user each: a user's deliveries are claimed one at a time, in order.
			if err := tx.AppendEvent(context.Background(), eventSpec(tn.ID, fmt.Sprintf("user-%d", i), at)); err != nil {
				return err
			}
		}
		return nil
	})
	within(t, func(ctx context.Context) {
		if _, err := s.FanOutWebhooks(ctx, at, 1000, matchAll); err != nil {
			t.Errorf("fan out: %v", err)
		}
	})
	ds, err := s.ListDeliveries(context.Background(), tn.ID, wh.ID, 1000)
	must(t, "list deliveries", err)
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if len(ids) != claimRows {
		t.Fatalf("fan out made %d deliveries, want %d", len(ids), claimRows)
	}
	claimAll(t, ids, tn.ID, func(ctx context.Context, worker string) ([][2]string, error) {
		cs, err := s.ClaimDeliveries(ctx, worker, at, time.Hour, 3)
		var out [][2]string
		for _, c := range cs {
			out = append(out, [2]string{c.ID, c.TenantID})
		}
		return out, err
	})
}

func contractLogoutClaimsDisjoint(t *testing.T, s provisioning.Store) {
	tn := newTenant(t, s, 10)
	at := now()
	var ids []string
	inTx(t, s, func(tx provisioning.Tx) error {
		for i := range claimRows {
			l := &provisioning.LogoutRequest{ID: newID("lo"), TenantID: tn.ID, UserID: fmt.Sprintf("user-%d", i), SessionID: newID("s"),
				Reason: provisioning.LogoutDeleted, NextAttemptAt: at, CreatedAt: at}
			ids = append(ids, l.ID)
			if err := tx.EnqueueLogout(context.Background(), l); err != nil {
				return err
			}
		}
		return nil
	})
	claimAll(t, ids, tn.ID, func(ctx context.Context, worker string) ([][2]string, error) {
		ls, err := s.ClaimLogouts(ctx, worker, at, time.Hour, 3)
		var out [][2]string
		for _, l := range ls {
			out = append(out, [2]string{l.ID, l.TenantID})
		}
		return out, err
	})
}

func contractTransactions(t *testing.T, s provisioning.Store) {
	t.Run("Rollback", func(t *testing.T) { contractRollback(t, s) })
	t.Run("LockOrder", func(t *testing.T) { contractLockOrder(t, s) })
	t.Run("LockOrderManyUsers", func(t *testing.T) { contractLockOrderMany(t, s) })
}

// contractLockOrderMany: LockUsers keeps the id order across its statements too (the
// store locks large sets in chunks), so opposite orders of many users never deadlock.
func contractLockOrderMany(t *testing.T, s provisioning.Store) {
	const n = 1200 // more than two of the store's chunks
	tn := newTenant(t, s, 0)
	var ids []string
	inTx(t, s, func(tx provisioning.Tx) error {
		for i := range n {
			u := userSpec(fmt.Sprintf("many-%04d", i), false)
			ids = append(ids, u.ID)
			if err := tx.CreateUser(context.Background(), tn.ID, u); err != nil {
				return err
			}
		}
		return nil
	})
	slices.Sort(ids)
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	var errs []error
	within(t, func(ctx context.Context) {
		errs = race(4, func(i int) error {
			order := ids
			if i%2 == 1 {
				order = reversed
			}
			return s.InTx(ctx, func(tx provisioning.Tx) error {
				locked, err := tx.LockUsers(ctx, tn.ID, order)
				if err == nil && len(locked) != n {
					err = fmt.Errorf("locked %d users, want %d", len(locked), n)
				}
				if err == nil && !slices.IsSortedFunc(locked, func(a, b provisioning.User) int { return strings.Compare(a.ID, b.ID) }) {
					err = errors.New("LockUsers did not return the users in id order")
				}
				return err
			})
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
}

// contractRollback: when fn fails, its write, audit event and event all vanish.
func contractRollback(t *testing.T, s provisioning.Store) {
	ctx := context.Background()
	tn := newTenant(t, s, 10)
	u := userSpec("rolled-back", true)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx provisioning.Tx) error {
		if err := tx.CreateUser(ctx, tn.ID, u); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &provisioning.AuditEvent{TenantID: tn.ID, At: now(), ActorKind: provisioning.ActorCLI,
			Action: "user.create", TargetKind: "user", TargetID: u.ID}); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, eventSpec(tn.ID, u.ID, now())); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	_, err = s.GetUser(ctx, tn.ID, u.ID)
	wantNotFound(t, "user of a rolled back transaction", err)
	if got, _ := s.GetTenant(ctx, tn.ID); got.SeatsUsed != 0 {
		t.Fatalf("rolled back creation kept its seat: %d used", got.SeatsUsed)
	}
	if list, err := s.ListAudit(ctx, tn.ID, provisioning.AuditQuery{Limit: 10}); err != nil || len(list) != 0 {
		t.Fatalf("audit of a rolled back transaction: %+v, %v", list, err)
	}
	if seq, err := s.LastEventSeq(ctx, tn.ID); err != nil || seq != 0 {
		t.Fatalf("event of a rolled back transaction: seq %d, %v", seq, err)
	}
	// The tenant's event counter was not taken: the next committed event is number 1.
	inTx(t, s, func(tx provisioning.Tx) error { return tx.AppendEvent(ctx, eventSpec(tn.ID, "", now())) })
	if seq, _ := s.LastEventSeq(ctx, tn.ID); seq != 1 {
		t.Fatalf("first committed event has seq %d, want 1", seq)
	}
}

// contractLockOrder: transactions that name the same users, tenant and group in opposite
// orders all finish, because the store takes locks in its documented order (users in id
// order, then the tenant row): no deadlock, and no deadlock error escapes.
func contractLockOrder(t *testing.T, s provisioning.Store) {
	tn := newTenant(t, s, 100)
	a := newUser(t, s, tn.ID, "lock-a", false)
	b := newUser(t, s, tn.ID, "lock-b", false)
	at := now()
	g := &provisioning.Group{ID: newID("g"), DisplayName: "Locks", Version: 1, CreatedAt: at, UpdatedAt: at}
	inTx(t, s, func(tx provisioning.Tx) error { return tx.CreateGroup(context.Background(), tn.ID, g) })
	const rounds = 10
	var errs []error
	within(t, func(ctx context.Context) {
		errs = race(2*rounds, func(i int) error {
			ids := []string{a.ID, b.ID}
			if i%2 == 1 {
				ids = []string{b.ID, a.ID}
			}
			return s.InTx(ctx, func(tx provisioning.Tx) error {
				locked, err := tx.LockUsers(ctx, tn.ID, ids)
				if err != nil {
					return err
				}
				if len(locked) != 2 {
					return fmt.Errorf("locked %d users, want 2", len(locked))
				}
				for _, id := range ids {
					if _, err := tx.UpdateUser(ctx, tn.ID, id, func(u *provisioning.User) error { u.Title = fmt.Sprint(i); return nil }); err != nil {
						return err
					}
				}
				if err := tx.LockTenant(ctx, tn.ID); err != nil {
					return err
				}
				if err := tx.SetSeats(ctx, tn.ID, []string{ids[0]}, !seated(ctx, tx, tn.ID, ids[0]), now()); err != nil {
					return err
				}
				_, err = tx.ApplyGroupOps(ctx, tn.ID, g.ID, []provisioning.GroupOp{{Kind: provisioning.GroupAddMembers, Members: ids}}, now())
				return err
			})
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	ua, err := s.GetUser(context.Background(), tn.ID, a.ID)
	must(t, "get user", err)
	// Every transaction bumped a once for the title and, for half of them, once more for
	// its seat.
	if ua.Version < 1+2*rounds {
		t.Fatalf("user a at version %d after %d transactions: lost updates", ua.Version, 2*rounds)
	}
}

func seated(ctx context.Context, tx provisioning.Tx, tenantID, id string) bool {
	u, err := tx.GetUser(ctx, tenantID, id)
	return err == nil && u.Seat
}
