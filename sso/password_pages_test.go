package sso_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func TestPages(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		log, eng, acc, tn := newPasswordDoor(t, db, func() time.Time { return now })
		if _, err := eng.UpdateTenant(ctx, admin, tn.ID, func(t *provisioning.Tenant) error { t.Policy.AllowPasswordLogin = true; return nil }); err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		pagesMux(t, mux, acc, log, sso.Config{}, nil)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(path string) (int, string) {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		post := func(path string, form url.Values) *http.Response {
			resp, err := client.PostForm(srv.URL+path, form)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		token := func(invID string) string {
			ms, err := acc.ClaimMail(ctx, "t", 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				_ = acc.MailSent(ctx, m, "t")
				if m.RefID == invID {
					return m.Data.Token
				}
			}
			t.Fatal("no mail")
			return ""
		}

		inv, err := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: "new@example.com", DisplayName: "New Person", Seat: true})
		if err != nil {
			t.Fatal(err)
		}
		tok := token(inv.ID)
		if code, body := get("/invite/" + tok); code != 200 || !strings.Contains(body, "new@example.com") || !strings.Contains(body, "Acme Inc") {
			t.Fatalf("invite page %d:\n%s", code, body)
		}
		if code, _ := get("/invite/not-a-token"); code != 404 {
			t.Fatalf("unknown token: %d", code)
		}
		resp := post("/invite/"+tok, url.Values{"password": {"a long password"}, "password2": {"another one!!"}})
		if resp.StatusCode != 400 {
			t.Fatalf("mismatch: %d", resp.StatusCode)
		}
		resp = post("/invite/"+tok, url.Values{"password": {"a long password"}, "password2": {"a long password"}, "display_name": {"Newt"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/acme?") {
			t.Fatalf("accept: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if code, body := get("/invite/" + tok); code != http.StatusGone || !strings.Contains(body, "already been used") {
			t.Fatalf("used token page %d:\n%s", code, body)
		}

		// Revoked and expired links get clear pages.
		inv2, _ := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: "rev@example.com"})
		tok2 := token(inv2.ID)
		_, _ = acc.RevokeInvitation(ctx, admin, tn.ID, inv2.ID)
		if code, body := get("/invite/" + tok2); code != http.StatusGone || !strings.Contains(body, "withdrawn") {
			t.Fatalf("revoked page %d:\n%s", code, body)
		}
		inv3, _ := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: "old@example.com"})
		tok3 := token(inv3.ID)
		now = now.Add(8 * 24 * time.Hour)
		if code, body := get("/invite/" + tok3); code != http.StatusGone || !strings.Contains(body, "expired") {
			t.Fatalf("expired page %d:\n%s", code, body)
		}

		// Password sign-in, then a forced change.
		if code, _ := get("/login/acme"); code != 200 {
			t.Fatalf("login page %d", code)
		}
		resp = post("/login/acme", url.Values{"email": {"new@example.com"}, "password": {"wrong password"}})
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		resp = post("/login/acme", url.Values{"email": {"new@example.com"}, "password": {"a long password"}, "return_to": {"/app"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app" || !strings.Contains(resp.Header.Get("Set-Cookie"), "sb_session=") {
			t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
		}
		// Without return_to the sign-in lands on "/", which sends the browser to the user's
		// own page, or to the tenant's platform app once it set one; never a bare 404.
		resp = post("/login/acme", url.Values{"email": {"new@example.com"}, "password": {"a long password"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("login without return_to: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		withCookie := func(path string) *http.Response {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			for _, c := range resp.Cookies() {
				req.AddCookie(c)
			}
			r, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := withCookie("/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("landing: %d %s", r.StatusCode, r.Header.Get("Location"))
		}
		if r := withCookie("/account"); r.StatusCode != 200 {
			t.Fatalf("account page: %d", r.StatusCode)
		} else if b, _ := io.ReadAll(r.Body); !strings.Contains(string(b), "new@example.com") || !strings.Contains(string(b), "Newt") {
			t.Fatalf("account page:\n%s", b)
		}
		app := "https://app.example.com/inbox"
		if _, err := eng.UpdatePolicy(ctx, admin, tn.ID, provisioning.PolicyInput{AppURL: &app}); err != nil {
			t.Fatal(err)
		}
		if r := withCookie("/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != app {
			t.Fatalf("landing with app URL: %d %s", r.StatusCode, r.Header.Get("Location"))
		}
		if code, body := get("/"); code != 200 || !strings.Contains(body, "not signed in") {
			t.Fatalf("landing without session: %d\n%s", code, body)
		}
		if resp := post("/login/acme", url.Values{"email": {"new@example.com"}, "password": {"a long password"}, "return_to": {"https://evil.test/"}}); resp.StatusCode != 400 {
			t.Fatalf("open redirect: %d", resp.StatusCode)
		}
		_, temp, err := acc.CreateLocalUser(ctx, admin, tn.ID, provisioning.LocalUserRequest{Email: "temp@example.com", DisplayName: "Tim Temp", Seat: true, ForceChange: true})
		if err != nil {
			t.Fatal(err)
		}
		resp = post("/login/acme", url.Values{"email": {"temp@example.com"}, "password": {temp}})
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindSubmatch(b)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("forced change page %d:\n%s", resp.StatusCode, b)
		}
		resp = post("/login/acme/change", url.Values{"ticket": {string(m[1])}, "password": {"my new password"}, "password2": {"my new password"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "sb_session=") {
			t.Fatalf("change: %d", resp.StatusCode)
		}
		// A tenant that requires a second factor: the sign-in sets up an authenticator
		// (QR code and key), shows the recovery codes once, and asks for a code next time.
		req2fa := true
		if _, err := eng.UpdatePolicy(ctx, admin, tn.ID, provisioning.PolicyInput{RequireTwoFactor: &req2fa}); err != nil {
			t.Fatal(err)
		}
		resp = post("/login/acme", url.Values{"email": {"new@example.com"}, "password": {"a long password"}})
		b, _ = io.ReadAll(resp.Body)
		ticket := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindSubmatch(b)
		key := regexp.MustCompile(`Key: <code>([A-Z2-7]+)</code>`).FindSubmatch(b)
		if resp.StatusCode != 200 || ticket == nil || key == nil || !strings.Contains(string(b), `src="data:image/png;base64,`) ||
			strings.Contains(resp.Header.Get("Set-Cookie"), "sb_session=") {
			t.Fatalf("enrolment page %d:\n%s", resp.StatusCode, b)
		}
		// A mistyped code shows the same key again (the set-up keeps its secret).
		resp = post("/login/acme/2fa", url.Values{"ticket": {string(ticket[1])}, "code": {"000000x"}, "enrol": {"1"}})
		b, _ = io.ReadAll(resp.Body)
		if again := regexp.MustCompile(`Key: <code>([A-Z2-7]+)</code>`).FindSubmatch(b); resp.StatusCode != http.StatusUnauthorized ||
			again == nil || string(again[1]) != string(key[1]) {
			t.Fatalf("mistyped enrolment code: %d\n%s", resp.StatusCode, b)
		}
		code, _ := totp.GenerateCode(string(key[1]), now)
		resp = post("/login/acme/2fa", url.Values{"ticket": {string(ticket[1])}, "code": {code}})
		b, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "recovery codes") || !strings.Contains(resp.Header.Get("Set-Cookie"), "sb_session=") {
			t.Fatalf("enrolled: %d\n%s", resp.StatusCode, b)
		}
		resp = post("/login/acme", url.Values{"email": {"new@example.com"}, "password": {"a long password"}})
		b, _ = io.ReadAll(resp.Body)
		ticket = regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindSubmatch(b)
		if resp.StatusCode != 200 || ticket == nil || strings.Contains(string(b), "data:image/png") {
			t.Fatalf("code page %d:\n%s", resp.StatusCode, b)
		}
		if resp = post("/login/acme/2fa", url.Values{"ticket": {string(ticket[1])}, "code": {code}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("replayed code: %d", resp.StatusCode)
		}
		now = now.Add(30 * time.Second)
		code, _ = totp.GenerateCode(string(key[1]), now)
		resp = post("/login/acme/2fa", url.Values{"ticket": {string(ticket[1])}, "code": {code}, "return_to": {"/app"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app" || !strings.Contains(resp.Header.Get("Set-Cookie"), "sb_session=") {
			t.Fatalf("second factor: %d %v", resp.StatusCode, resp.Header)
		}

		// A cross-site POST is refused.
		req, _ := http.NewRequest("POST", srv.URL+"/login/acme", strings.NewReader("email=x&password=y"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site post: %v %v", resp, err)
		}
	})
}

// One client posting passwords faster than allowed is throttled before any password is
// checked; another client is not affected.
func TestAttemptThrottle(t *testing.T) {
	db := storetest.OpenSQLite(t)
	log, _, acc, _ := newPasswordDoor(t, db, nil)
	now := time.Unix(1000, 0)
	mux := http.NewServeMux()
	pagesMux(t, mux, acc, log, sso.Config{TrustForwarded: true, AttemptsPerSecond: 1, AttemptsBurst: 3}, func() time.Time { return now })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(ip string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/login/acme", strings.NewReader(url.Values{"email": {"x@example.com"}, "password": {"nope"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		if code := post("203.0.113.7"); code == http.StatusTooManyRequests {
			t.Fatalf("attempt %d throttled within the burst", i+1)
		}
	}
	if code := post("203.0.113.7"); code != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt: %d, want 429", code)
	}
	if code := post("198.51.100.9"); code == http.StatusTooManyRequests {
		t.Fatal("another client was throttled")
	}
	now = now.Add(2 * time.Second)
	if code := post("203.0.113.7"); code == http.StatusTooManyRequests {
		t.Fatal("still throttled after the bucket refilled")
	}
}
