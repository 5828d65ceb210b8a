package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestSetupLinkPages: the wizard opens with a valid link only (not expired, not revoked),
// keeps its pages out of caches and refuses cross-site posts.
func TestSetupLinkPages(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		now := time.Now()
		e.eng.Now = func() time.Time { return now }
		token, _, err := e.eng.CreateSetupLink(ctx, cli, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) (int, string, http.Header) {
			resp, err := http.Get(e.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b), resp.Header
		}
		code, body, hdr := get("/setup/" + token)
		if code != 200 || !strings.Contains(body, "Set up single sign-on for Acme Inc") || hdr.Get("Cache-Control") != "no-store" ||
			!strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("open: %d %v\n%s", code, hdr, body)
		}
		// A cross-site post changes nothing.
		req, _ := http.NewRequest("POST", e.srv.URL+"/setup/"+token+"/provider", strings.NewReader(url.Values{"provider": {"okta"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site post: %d", resp.StatusCode)
		}
		if again, _, _ := e.eng.OpenSetupLink(ctx, token); again.Progress.Provider != "" {
			t.Fatal("a cross-site post changed the progress")
		}
		for _, bad := range []string{token + "x", "sbs_nope_nope", "x"} {
			if code, body, _ := get("/setup/" + bad); code != 404 || !strings.Contains(body, "does not work") {
				t.Fatalf("%s: %d", bad, code)
			}
		}
		now = now.Add(time.Hour)
		if code, _, _ := get("/setup/" + token); code != 404 {
			t.Fatalf("expired link: %d", code)
		}
		token2, l2, err := e.eng.CreateSetupLink(ctx, cli, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.eng.RevokeSetupLink(ctx, cli, e.tenant.ID, l2.ID); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := get("/setup/" + token2); code != 404 {
			t.Fatalf("revoked link: %d", code)
		}
	})
}
