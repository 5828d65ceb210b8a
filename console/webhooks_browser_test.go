package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
	"github.com/seatbridge/seatbridge/webhook"
)

// TestBrowserWebhooks: an admin opens Webhooks from the navigation, is told next to the
// field when no event is picked, creates an endpoint for users and seats, copies the
// secret shown once, and follows to the endpoint's page, which lists a failed and then
// accepted delivery with its attempts.
func TestBrowserWebhooks(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		rc := newReceiver(t)
		ctx := browser(t)
		signIn(t, ctx, e, "ada@acme.test", adminPassword)
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`nav a[href="/admin/acme/webhooks"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.empty`)),
			chromedp.Click(chromedp.CSS(`main .head-actions a[href="/admin/acme/webhooks/new"]`)),
			chromedp.WaitVisible(chromedp.CSS(`input#url`)),
			chromedp.SetValue(chromedp.CSS(`input#url`), rc.srv.URL+"/hooks/seatbridge"),
			chromedp.Click(chromedp.CSS(`input[name=events][value="*"]`)), // uncheck "every event"
			chromedp.Click(chromedp.CSS(`form.form button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`#e-events`)),
		)
		if v := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('input#url').value`)); v != rc.srv.URL+"/hooks/seatbridge" {
			t.Fatalf("the refused form lost the URL: %q", v)
		}
		shot(t, ctx, "webhook-new-error")
		run(t, ctx,
			chromedp.SetValue(chromedp.CSS(`input#description`), "Platform (production)"),
			chromedp.Click(chromedp.CSS(`input[name=events][value="user.*"]`)),
			chromedp.Click(chromedp.CSS(`input[name=events][value="seat.*"]`)),
			chromedp.Click(chromedp.CSS(`form.form button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`input#secret`)),
		)
		secret := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('input#secret').value`))
		if !strings.HasPrefix(secret, "whsec_") || !strings.Contains(pageText(t, ctx), "Copy it now") {
			t.Fatalf("secret page:\n%s", pageText(t, ctx))
		}
		shot(t, ctx, "webhook-secret")
		eps, err := e.wh.ListWebhooks(context.Background(), e.tenant.ID)
		if err != nil || len(eps) != 1 || strings.Join(eps[0].Events, ",") != "user.*,seat.*" {
			t.Fatalf("stored endpoints: %+v %v", eps, err)
		}

		// A user is created; the receiver fails once, then accepts.
		e.wh.Retry = provisioning.WebhookRetry{Base: time.Millisecond, Max: time.Millisecond, GiveUpAfter: time.Hour, Lease: time.Minute}
		worker := &webhook.Worker{Deliveries: e.wh, Client: webhook.NewClient(webhook.ClientOptions{AllowPrivate: true}),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ID: "browser-test"}
		rc.status.Store(http.StatusBadGateway)
		e.localUser("bea@acme.test", "Bea Baker", "another long password", provisioning.RoleAgent)
		for _, st := range []int32{http.StatusBadGateway, http.StatusOK} {
			rc.status.Store(st)
			time.Sleep(5 * time.Millisecond)
			if _, err := worker.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`main a.btn[href^="/admin/acme/webhooks/wh_"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#deliveries`)),
		)
		txt := pageText(t, ctx)
		if strings.Contains(txt, secret) || !strings.Contains(txt, "user.created") || !strings.Contains(txt, "Rotate secret") {
			t.Fatalf("endpoint page:\n%s", txt)
		}
		// Open the attempts of the first delivery (a plain <details>, no script).
		run(t, ctx, chromedp.Click(chromedp.CSS(`#deliveries details summary`)), chromedp.WaitVisible(chromedp.CSS(`#deliveries ol.attempts`)))
		if txt := pageText(t, ctx); !strings.Contains(txt, "HTTP 502") || !strings.Contains(txt, `<script>alert("x")</script> down`) {
			t.Fatalf("attempts:\n%s", txt)
		}
		unlabelled := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
			.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name || el.id || el.outerHTML)`))
		if len(unlabelled) > 0 {
			t.Fatalf("controls without a label: %v", unlabelled)
		}
		shot(t, ctx, "webhook-endpoint")
		run(t, ctx, chromedp.Click(chromedp.CSS(`.crumbs a`)), chromedp.WaitVisible(chromedp.CSS(`table`)))
		if txt := pageText(t, ctx); !strings.Contains(txt, "Platform (production)") || !strings.Contains(strings.ToLower(txt), "delivered") {
			t.Fatalf("webhooks list:\n%s", txt)
		}
		// Every entry of the navigation fits a 1280 px wide window, Webhooks included.
		if get(t, ctx, chromedp.Evaluate[bool](`(() => { const n = document.querySelector('nav.main-nav'); return n.scrollWidth > n.clientWidth + 1 })()`)) {
			t.Fatal("the navigation overflows at 1280 px")
		}
		shot(t, ctx, "webhooks")
	})
}
