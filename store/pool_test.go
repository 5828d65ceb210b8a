package store_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// The PostgreSQL pool is sized from the URL's pool_max_conns, which never reaches the
// server (PostgreSQL refuses settings it does not know), or else from the cores.
func TestPostgresPoolSize(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	ctx := context.Background()
	for _, tc := range []struct {
		param string
		want  int
	}{
		{"", max(8, 4*runtime.GOMAXPROCS(0))},
		{"pool_max_conns=3", 3},
		{"pool_max_conns=40", 40},
	} {
		u := dsn
		if tc.param != "" {
			u += sep + tc.param
		}
		db, err := store.Open(ctx, u)
		if err != nil {
			t.Fatalf("%q: %v", tc.param, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("%q: ping: %v", tc.param, err)
		}
		if got := db.SQL().Stats().MaxOpenConnections; got != tc.want {
			t.Errorf("%q: pool of %d connections, want %d", tc.param, got, tc.want)
		}
		db.Close()
	}
	for _, bad := range []string{"pool_max_conns=1", "pool_max_conns=many"} {
		if db, err := store.Open(ctx, dsn+sep+bad); err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
			if db != nil {
				db.Close()
			}
			t.Errorf("%s: %v, want an error naming pool_max_conns", bad, err)
		}
	}
}
