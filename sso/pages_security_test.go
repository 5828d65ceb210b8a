package sso_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// Every password and invitation page carries the security headers and escapes what the
// request (or an invitation's details) put into it.
func TestPasswordPagesEscapeAndHeaders(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log, eng, acc, tn := newPasswordDoor(t, db, nil)
		if _, err := eng.UpdateTenant(ctx, admin, tn.ID, func(t *provisioning.Tenant) error { t.Policy.AllowPasswordLogin = true; return nil }); err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		pagesMux(t, mux, acc, log, sso.Config{}, time.Now)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		check := func(name string) func(*http.Response, error) {
			return func(resp *http.Response, err error) { t.Helper(); checkPage(t, name, resp, err) }
		}
		inv, err := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: "new@example.com", DisplayName: evil, Seat: true})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := acc.ClaimMail(ctx, "t", 10)
		if err != nil || len(ms) == 0 || ms[0].RefID != inv.ID {
			t.Fatalf("mail %v %v", ms, err)
		}
		tok := ms[0].Data.Token

		check("invitation")(http.Get(srv.URL + "/invite/" + tok))
		check("unknown invitation")(http.Get(srv.URL + "/invite/" + url.PathEscape(evil)))
		check("login")(http.Get(srv.URL + "/login/acme?" + url.Values{"email": {evil}, "return_to": {"/x?q=" + evil}}.Encode()))
		post := func(path string, form url.Values) (*http.Response, error) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return http.DefaultClient.Do(req)
		}
		check("wrong password")(post("/login/acme", url.Values{"email": {evil + "@example.com"}, "password": {"wrong password"}, "return_to": {"/x?q=" + evil}}))
		check("password mismatch")(post("/invite/"+tok, url.Values{"password": {"a long password"}, "password2": {"other"}, "display_name": {evil}}))
	})
}

const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

func checkPage(t *testing.T, name string, resp *http.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("%s: %d headers %v", name, resp.StatusCode, h)
	}
	if bytes.Contains(body, []byte("<script>alert")) || bytes.Contains(body, []byte("<img src=x")) {
		t.Fatalf("%s reflects markup: %s", name, body)
	}
}
