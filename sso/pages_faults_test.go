package sso_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// While PostgreSQL is down the invitation and password pages answer 503 with Retry-After,
// as the other doors do, never a 500 or "link not valid".
func TestDatabaseOutagePagesAre503(t *testing.T) {
	db, proxy := storetest.OpenPostgresProxied(t, url.Values{"connect_timeout": {"2"}})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := provisioning.NewEngine(db, log)
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, 32))
	acc := provisioning.NewAccounts(eng, box)
	if _, err := eng.CreateTenant(context.Background(), admin, "acme", "Acme Inc", 5); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	pagesMux(t, mux, acc, log, sso.Config{AttemptsPerSecond: 1000, AttemptsBurst: 1000}, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	link := srv.URL + "/invite/sbi_" + "0123456789abcdef0123456789abcdef"
	get := func() *http.Response {
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown link before the outage: %d", resp.StatusCode)
	}
	proxy.Drop()
	defer proxy.Heal()
	if resp := get(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("invitation page during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, err := http.PostForm(srv.URL+"/login/acme", url.Values{"email": {"ann@acme.example"}, "password": {"violet kayak thunder"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("password sign-in during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
