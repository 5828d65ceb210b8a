package sso_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	adminapi "github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/console"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// The session cookie has one format: the one the sign-in door writes at a password
// sign-in opens the console and the admin API, and the console's sign-out ends it for
// every door.
func TestSessionCookieOpensConsoleAndAdmin(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log, eng, acc, tn := newPasswordDoor(t, db, nil)
		if _, _, err := acc.CreateLocalUser(ctx, admin, tn.ID, provisioning.LocalUserRequest{Email: "ada@acme.test",
			DisplayName: "Ada", Password: "correct horse battery staple", Roles: []string{provisioning.RoleAdmin}, Seat: true}); err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		pagesMux(t, mux, acc, log, sso.Config{}, nil)
		(&console.Handler{Accounts: acc, Log: log}).Mount(mux)
		adminapi.New(eng, adminapi.Options{Logger: log}).Mount(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(path string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}

		// Signed out: the console sends the browser to the door, the API refuses.
		if resp := get("/admin/acme/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/acme") {
			t.Fatalf("console before sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp := get("/api/v1/me"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API before sign-in: %d", resp.StatusCode)
		}

		resp, err := c.PostForm(srv.URL+"/login/acme", url.Values{"email": {"ada@acme.test"},
			"password": {"correct horse battery staple"}, "return_to": {"/admin/acme/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/acme/" {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}

		if resp := get("/admin/acme/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/acme/users" {
			t.Fatalf("console with the door's cookie: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp := get("/admin/acme/users"); resp.StatusCode != http.StatusOK {
			t.Fatalf("console users page: %d", resp.StatusCode)
		}
		if resp := get("/api/v1/me"); resp.StatusCode != http.StatusOK {
			t.Fatalf("API with the door's cookie: %d", resp.StatusCode)
		}
		if resp := get("/account"); resp.StatusCode != http.StatusOK {
			t.Fatalf("account page: %d", resp.StatusCode)
		}
	})
}
