package provisioning_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// tokenReadCounter counts the token reads (GetTokenTenant) that reach the store.
type tokenReadCounter struct {
	provisioning.Store
	reads *atomic.Int64
}

func (s tokenReadCounter) GetTokenTenant(ctx context.Context, id string) (*provisioning.APIToken, *provisioning.Tenant, error) {
	s.reads.Add(1)
	return s.Store.GetTokenTenant(ctx, id)
}

// TestTokenCacheRevocation runs two engines over one database, as two replicas: a SCIM
// token that authenticated on replica A is not read again within A's TokenCache, but its
// secret is still checked; revoked on replica B it is refused by B at once and by A once
// TokenCache has passed since A read it; revoked on A, A refuses it at once. Admin tokens
// are read on every request.
func TestTokenCacheRevocation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var reads atomic.Int64
		a := provisioning.NewEngine(tokenReadCounter{db, &reads}, log)
		// Short enough for the test to wait it out; production uses MaxTokenCache.
		a.TokenCache = 200 * time.Millisecond
		b := provisioning.NewEngine(db, log)
		tn, err := b.CreateTenant(ctx, admin, "acme", "Acme", 1)
		if err != nil {
			t.Fatal(err)
		}
		newToken := func(kind provisioning.TokenKind) (string, *provisioning.APIToken) {
			t.Helper()
			secret, tok, err := b.CreateToken(ctx, admin, tn.ID, kind, "okta")
			if err != nil {
				t.Fatal(err)
			}
			return secret, tok
		}
		auth := func(e *provisioning.Engine, secret string, kind provisioning.TokenKind) error {
			t.Helper()
			_, got, err := e.AuthenticateToken(ctx, secret, kind)
			if err == nil && got.ID != tn.ID {
				t.Fatalf("authenticated for tenant %s, want %s", got.ID, tn.ID)
			}
			return err
		}

		secret, tok := newToken(provisioning.TokenSCIM)
		for range 3 {
			if err := auth(a, secret, provisioning.TokenSCIM); err != nil {
				t.Fatalf("authenticate: %v", err)
			}
		}
		if n := reads.Load(); n != 1 {
			t.Fatalf("3 authentications read the token %d times, want 1", n)
		}
		if err := auth(a, secret[:len(secret)-2]+"xx", provisioning.TokenSCIM); !errors.Is(err, provisioning.ErrBadToken) {
			t.Fatalf("a wrong secret of a cached token: %v, want ErrBadToken", err)
		}
		if err := auth(a, secret, provisioning.TokenAdmin); !errors.Is(err, provisioning.ErrBadToken) {
			t.Fatalf("a cached SCIM token as admin token: %v, want ErrBadToken", err)
		}

		if err := b.RevokeToken(ctx, admin, tn.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		if err := auth(b, secret, provisioning.TokenSCIM); !errors.Is(err, provisioning.ErrBadToken) {
			t.Fatalf("revoking replica accepts the revoked token: %v", err)
		}
		// Replica A may accept it until TokenCache after the revocation committed, never
		// later (its entry's age counts from before its read, which came before that).
		time.Sleep(time.Until(revoked.Add(a.TokenCache)))
		if err := auth(a, secret, provisioning.TokenSCIM); !errors.Is(err, provisioning.ErrBadToken) {
			t.Fatalf("other replica accepts the revoked token after its TokenCache: %v", err)
		}

		secret, tok = newToken(provisioning.TokenSCIM)
		if err := auth(a, secret, provisioning.TokenSCIM); err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		if err := a.RevokeToken(ctx, admin, tn.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := auth(a, secret, provisioning.TokenSCIM); !errors.Is(err, provisioning.ErrBadToken) {
			t.Fatalf("revoking replica accepts the revoked token from its cache: %v", err)
		}

		secret, _ = newToken(provisioning.TokenAdmin)
		reads.Store(0)
		for range 2 {
			if err := auth(a, secret, provisioning.TokenAdmin); err != nil {
				t.Fatalf("authenticate admin token: %v", err)
			}
		}
		if n := reads.Load(); n != 2 {
			t.Fatalf("2 admin authentications read the token %d times, want 2", n)
		}
	})
}
