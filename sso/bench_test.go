package sso_test

import (
	"os"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// BenchmarkSAMLLogin measures one SP-initiated SAML sign-in end to end through the real
// router, as the platform app and a browser drive it: authorize, home-realm discovery, the
// AuthnRequest (state row and binding cookie), a freshly signed response at the ACS
// (verification, replay cache, the engine's login), authorize again for a code, and the
// code's redemption with ID token verification. One user signs in again and again, so it
// is the per-login cost, not JIT creation.
//
//	go test -run '^$' -bench BenchmarkSAMLLogin -benchtime 300x ./sso
func BenchmarkSAMLLogin(b *testing.B) {
	dbs := []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", storetest.OpenSQLite}}
	if os.Getenv(storetest.EnvPostgres) != "" {
		dbs = append(dbs, struct {
			name string
			open func(testing.TB) *store.DB
		}{"postgres", storetest.OpenPostgres})
	}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			e := newEnv(b, d.open(b), 5)
			c := e.samlConn(provisioning.ModeJIT, leadsRule)
			e.samlLogin(c, "bench@acme.com")
			b.ResetTimer()
			for range b.N {
				e.samlLogin(c, "bench@acme.com")
			}
		})
	}
}
