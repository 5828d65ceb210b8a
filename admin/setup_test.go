package admin_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func TestSetupLinks(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, "acme", 5)
		now := time.Now().UTC()
		e.eng.Now = func() time.Time { return now }

		wantError(t, e.do(e.as(), "POST", "/setup-links", map[string]any{"expiresInHours": 24 * 31}), 400, "expires")
		r := e.must(e.do(e.as(), "POST", "/setup-links", map[string]any{"expiresInHours": 2}), 201)
		tok := r.str("token")
		if !strings.HasPrefix(tok, provisioning.SetupLinkPrefix) || r.str("path") != "/setup/"+tok {
			t.Fatalf("create: %s", r.raw)
		}
		l, tn, err := e.eng.OpenSetupLink(ctx, tok)
		if err != nil || tn.ID != e.tenant.ID || l.ID != r.str("id") {
			t.Fatalf("open: %v", err)
		}
		// A wrong secret, another prefix, a truncated token: all the same refusal.
		for _, bad := range []string{tok[:len(tok)-1] + "x", strings.Replace(tok, "sbs_", "sbt_", 1), tok[:20], ""} {
			if _, _, err := e.eng.OpenSetupLink(ctx, bad); !errors.Is(err, provisioning.ErrBadSetupLink) {
				t.Fatalf("open %q: %v", bad, err)
			}
		}
		// The list shows the link without any secret.
		list := e.must(e.do(e.as(), "GET", "/setup-links", nil), 200)
		if strings.Contains(string(list.raw), tok[len(tok)-30:]) || !strings.Contains(string(list.raw), `"state":"active"`) {
			t.Fatalf("list: %s", list.raw)
		}
		// Progress is kept on the link.
		l.Progress.Provider = "okta"
		if err := e.eng.SaveSetupProgress(ctx, l); err != nil {
			t.Fatal(err)
		}
		if again, _, err := e.eng.OpenSetupLink(ctx, tok); err != nil || again.Progress.Provider != "okta" {
			t.Fatalf("progress: %+v %v", again, err)
		}

		// Expiry: two hours later the link no longer opens.
		now = now.Add(2 * time.Hour)
		if _, _, err := e.eng.OpenSetupLink(ctx, tok); !errors.Is(err, provisioning.ErrBadSetupLink) {
			t.Fatalf("expired link opened: %v", err)
		}
		if !strings.Contains(string(e.must(e.do(e.as(), "GET", "/setup-links", nil), 200).raw), `"state":"expired"`) {
			t.Fatal("expired link not shown as expired")
		}

		// Revocation: immediate, audited, and only by the link's own tenant.
		r2 := e.must(e.do(e.as(), "POST", "/setup-links", map[string]any{}), 201)
		if exp, _ := time.Parse(time.RFC3339Nano, r2.str("expiresAt")); !exp.Equal(now.Truncate(time.Microsecond).Add(provisioning.DefaultSetupLinkTTL)) {
			t.Fatalf("default expiry %s", r2.str("expiresAt"))
		}
		other := newTenant(t, db, e.eng, e.srv, "other", 5)
		wantError(t, other.do(other.as(), "DELETE", "/setup-links/"+r2.str("id"), nil), 404, "")
		if _, _, err := e.eng.OpenSetupLink(ctx, r2.str("token")); err != nil {
			t.Fatalf("link revoked by another tenant: %v", err)
		}
		e.must(e.do(e.as(), "DELETE", "/setup-links/"+r2.str("id"), nil), 204)
		if _, _, err := e.eng.OpenSetupLink(ctx, r2.str("token")); !errors.Is(err, provisioning.ErrBadSetupLink) {
			t.Fatalf("revoked link opened: %v", err)
		}
		audit := string(e.must(e.do(e.as(), "GET", "/audit", nil), 200).raw)
		if !strings.Contains(audit, "setup_link.create") || !strings.Contains(audit, "setup_link.revoke") {
			t.Fatalf("audit: %s", audit)
		}
		if strings.Contains(audit, tok[len(tok)-30:]) {
			t.Fatal("audit holds the link's secret")
		}
	})
}
