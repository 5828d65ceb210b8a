package admin_test

import (
	"net/http"
	"testing"

	"github.com/seatbridge/seatbridge/store/storetest"
)

// BenchmarkTokenRequest is one authenticated admin request (GET /seats with an admin
// token) on SQLite: the cost of token checks, including the last-used stamp written at
// most once a minute.
func BenchmarkTokenRequest(b *testing.B) {
	e := newEnv(b, storetest.OpenSQLite(b), "bench", 10)
	for b.Loop() {
		if r := e.do(e.as(), "GET", "/seats", nil); r.status != http.StatusOK {
			b.Fatalf("status %d", r.status)
		}
	}
}
