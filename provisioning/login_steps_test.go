package provisioning_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// countingStore counts the reads of a whole user (GetUser, also behind FindUsersByEmail
// and GetUserByUserName) made inside transactions, to hold Engine.login to its promise of
// reading the user once.
type countingStore struct {
	provisioning.Store
	reads *atomic.Int64
}

func (s countingStore) InTx(ctx context.Context, fn func(provisioning.Tx) error) error {
	return s.Store.InTx(ctx, func(tx provisioning.Tx) error { return fn(countingTx{tx, s.reads}) })
}

type countingTx struct {
	provisioning.Tx
	reads *atomic.Int64
}

func (t countingTx) GetUser(ctx context.Context, tenantID, id string) (*provisioning.User, error) {
	t.reads.Add(1)
	return t.Tx.GetUser(ctx, tenantID, id)
}

func (t countingTx) FindUsersByEmail(ctx context.Context, tenantID, emailKey string) ([]provisioning.User, error) {
	t.reads.Add(1)
	return t.Tx.FindUsersByEmail(ctx, tenantID, emailKey)
}

func (t countingTx) GetUserByUserName(ctx context.Context, tenantID, userName string) (*provisioning.User, error) {
	t.reads.Add(1)
	return t.Tx.GetUserByUserName(ctx, tenantID, userName)
}

// TestLoginReadsUserOnce signs in through a jit connection whose mapping seats the user
// and grants a role and a team (created on first use): the first login creates the user
// and reads none, later logins read it once (by the identity's link), and the user the
// result carries has the roles and teams the store holds, with their sources.
func TestLoginReadsUserOnce(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 5)
		var reads atomic.Int64
		eng := *f.acc.Engine
		eng.Store = countingStore{db, &reads}
		conn, err := f.acc.CreateConnection(f.ctx, admin, f.tenant.ID, &provisioning.Connection{Type: provisioning.ConnOIDC, Name: "IdP",
			Mode: provisioning.ModeJIT, Domains: []string{"acme.example"}, OIDC: &provisioning.OIDCSettings{Issuer: "https://idp.example.com", ClientID: "c"},
			Mapping: provisioning.Mapping{Rules: []provisioning.GroupRule{{Group: "support", Seat: true, Roles: []string{"Agent"}, Teams: []string{"Tier 1"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		login := func(groups ...string) *provisioning.LoginResult {
			t.Helper()
			reads.Store(0)
			res, err := eng.Login(f.ctx, provisioning.LoginRequest{TenantID: f.tenant.ID, ConnectionID: conn.ID, Method: "oidc",
				Claims: provisioning.Claims{Subject: "sub-1", Email: "ann@acme.example", EmailVerified: true, GivenName: "Ann", Groups: groups}})
			if err != nil {
				t.Fatalf("login with groups %v: %v", groups, err)
			}
			return res
		}
		check := func(res *provisioning.LoginResult, wantReads int64, roles, teams []string) {
			t.Helper()
			if got := reads.Load(); got != wantReads {
				t.Fatalf("login read the user %d times, want %d", got, wantReads)
			}
			stored, err := db.GetUser(f.ctx, f.tenant.ID, res.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.User.Roles, stored.Roles) || !slices.Equal(res.User.Teams, stored.Teams) {
				t.Fatalf("result holds roles %v teams %v, the store %v %v", res.User.Roles, res.User.Teams, stored.Roles, stored.Teams)
			}
			if !slices.Equal(stored.Roles, roles) || !slices.Equal(stored.Teams, teams) {
				t.Fatalf("roles %v teams %v, want %v %v", stored.Roles, stored.Teams, roles, teams)
			}
			grants, err := db.UserGrants(f.ctx, f.tenant.ID, []string{res.User.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range grants {
				if g.Source != conn.IdentitySource() {
					t.Fatalf("grant %+v, want source %s", g, conn.IdentitySource())
				}
			}
		}
		// The first login creates the user: the e-mail lookup is the only read.
		res := login("support")
		if !res.Created || !res.User.Seat {
			t.Fatalf("first login: created %v, seat %v", res.Created, res.User.Seat)
		}
		check(res, 1, []string{"Agent"}, []string{"Tier 1"})
		// Linked now: one read, by the link; the group gone takes the role and the team
		// away, and the seated user gets the default role from this connection.
		res = login()
		check(res, 1, []string{f.tenant.Policy.DefaultRole}, []string{})
		res = login("support")
		check(res, 1, []string{"Agent"}, []string{"Tier 1"})
	})
}
