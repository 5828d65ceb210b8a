package console_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/seatbridge/seatbridge/console"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/scim"
	"github.com/seatbridge/seatbridge/sso"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

type wizardPreparer struct {
	ssaml.Preparer
	o ssooidc.Preparer
}

func (p wizardPreparer) PrepareOIDC(c *provisioning.Connection, issuer, clientID, secret string) error {
	return p.o.PrepareOIDC(c, issuer, clientID, secret)
}

// samlIdPServer serves an in-process SAML IdP over HTTP: its SSO URL answers an
// AuthnRequest with a page whose button posts a freshly signed response to the ACS.
func samlIdPServer(t *testing.T) (*ssotest.SAMLIdP, *httptest.Server) {
	t.Helper()
	idp, err := ssotest.NewSAMLIdP("../testdata/saml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, relay, err := ssotest.AuthnRequest(r.URL.String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := idp.Response(ssotest.Assertion{ACS: req.AssertionConsumerServiceURL, Audience: req.Issuer.Value,
			InResponseTo: req.ID, NameID: "grace@acme.test", Attributes: map[string][]string{
				"email": {"grace@acme.test"}, "firstName": {"Grace"}, "lastName": {"Hopper"}, "groups": {"Support", "Everyone"}}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Test IdP</title><h1>Test IdP</h1><p>Signed in as grace@acme.test</p>
<form method="post" action="%s"><input type="hidden" name="SAMLResponse" value="%s"><input type="hidden" name="RelayState" value="%s">
<button id="idp-continue">Continue</button></form>`, html.EscapeString(req.AssertionConsumerServiceURL), resp, html.EscapeString(relay))
	}))
	t.Cleanup(srv.Close)
	idp.SSOURL = srv.URL + "/sso"
	return idp, srv
}

// TestBrowserSetupWizard walks the set-up wizard for generic SAML against the in-process
// IdP: values shown, metadata pasted, SCIM token, test sign-in showing the attributes
// (and creating nothing), activation, then a real sign-in through the new connection.
func TestBrowserSetupWizard(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		eng := provisioning.NewEngine(db, log)
		box, err := secretbox.New(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		acc := provisioning.NewAccounts(eng, box)
		tn, err := eng.CreateTenant(ctx, cli, "acme", "Acme Inc", 10)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(nil)
		base, _ := url.Parse("http://" + srv.Listener.Addr().String())
		svc, err := sso.New(eng, db, box, log, sso.Config{BaseURL: base, CookieKey: box.Derive("sso-cookie")})
		if err != nil {
			t.Fatal(err)
		}
		svc.Register(provisioning.ConnSAML, ssaml.New(svc.Box, 0))
		mux := http.NewServeMux()
		svc.Mount(mux)
		(&console.Handler{Accounts: acc, Log: log, BaseURL: base.String(),
			Connections: wizardPreparer{ssaml.Preparer{Box: box}, ssooidc.Preparer{Box: box}}}).Mount(mux)
		mux.Handle("/scim/v2/", scim.NewHandler(eng, scim.Options{Logger: log}))
		srv.Config.Handler = mux
		srv.Start()
		t.Cleanup(srv.Close)
		idp, _ := samlIdPServer(t)

		token, _, err := eng.CreateSetupLink(ctx, cli, tn.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		link := srv.URL + "/setup/" + token
		b := browser(t)
		run(t, b,
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`input[name=provider][value=saml]`)),
			chromedp.Click(chromedp.CSS(`input[name=provider][value=saml]`)),
			chromedp.Click(chromedp.CSS(`#provider button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`#v-acs`)),
		)
		acs := get(t, b, chromedp.Value(chromedp.CSS(`#v-acs`)))
		entity := get(t, b, chromedp.Value(chromedp.CSS(`#v-entity`)))
		if !strings.HasPrefix(acs, srv.URL+"/sso/acme/saml/") || !strings.HasSuffix(acs, "/acs") || !strings.HasSuffix(entity, "/metadata") {
			t.Fatalf("values: ACS %q, entity ID %q", acs, entity)
		}
		if txt := pageText(t, b); !strings.Contains(txt, "Assertion Consumer Service (ACS) URL") || !strings.Contains(txt, "SCIM base URL") {
			t.Fatalf("labels:\n%s", txt)
		}
		shot(t, b, "setup-values")

		// Bad metadata: a clear error next to the field, nothing stored.
		run(t, b,
			chromedp.SetValue(chromedp.CSS(`#metadata_xml`), "<not metadata"),
			chromedp.SetValue(chromedp.CSS(`#domains`), "acme.test"),
			chromedp.Click(chromedp.CSS(`#save-connection`)),
			chromedp.WaitVisible(chromedp.CSS(`#e-metadata`)),
		)
		if cs, _ := eng.ListConnections(ctx, tn.ID); len(cs) != 0 {
			t.Fatalf("bad metadata stored a connection")
		}
		run(t, b,
			chromedp.SetValue(chromedp.CSS(`#metadata_xml`), string(idp.Metadata())),
			chromedp.SetValue(chromedp.CSS(`#domains`), "acme.test"),
			chromedp.Click(chromedp.CSS(`#save-connection`)),
			chromedp.WaitVisible(chromedp.CSS(`#run-test`)),
			chromedp.WaitVisible(chromedp.CSS(`#v-metadata`)),
		)
		cs, err := eng.ListConnections(ctx, tn.ID)
		if err != nil || len(cs) != 1 || !cs[0].Disabled || !strings.Contains(acs, cs[0].ID) {
			t.Fatalf("connection after saving: %+v %v", cs, err)
		}
		connID := cs[0].ID
		// The tenant's admin maps the Support group (the mapping API's job; here directly).
		mapping := provisioning.Mapping{Rules: []provisioning.GroupRule{{Group: "Support", Seat: true, Roles: []string{"Agent"}}}}
		if _, err := eng.UpdateConnection(ctx, cli, tn.ID, connID, provisioning.ConnectionSpec{Mapping: &mapping},
			wizardPreparer{ssaml.Preparer{Box: box}, ssooidc.Preparer{Box: box}}); err != nil {
			t.Fatal(err)
		}

		// SCIM token, shown once.
		run(t, b, chromedp.Click(chromedp.CSS(`#scim button`)), chromedp.WaitVisible(chromedp.CSS(`#v-token`)))
		if tok := get(t, b, chromedp.Value(chromedp.CSS(`#v-token`))); !strings.HasPrefix(tok, provisioning.TokenPrefix) {
			t.Fatalf("SCIM token %q", tok)
		}

		// Test sign-in: through the IdP and back, nothing created.
		run(t, b,
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`#run-test`)),
			chromedp.Click(chromedp.CSS(`#run-test`)),
			chromedp.WaitVisible(chromedp.CSS(`#idp-continue`)),
			chromedp.Click(chromedp.CSS(`#idp-continue`)),
			chromedp.WaitVisible(chromedp.CSS(`#test-result`)),
		)
		txt := pageText(t, b)
		for _, want := range []string{"The sign-in would succeed and create the account", "grace@acme.test", "Support, Everyone",
			"a seat; roles: Agent", "firstName", "Hopper", "NameID"} {
			if !strings.Contains(txt, want) {
				t.Fatalf("test result lacks %q:\n%s", want, txt)
			}
		}
		shot(t, b, "setup-test-sign-in")
		if page, err := eng.ListUsers(ctx, tn.ID, provisioning.UserQuery{Limit: 10}); err != nil || page.Total != 0 {
			t.Fatalf("the test sign-in created users: %v %v", page, err)
		}
		if logins, _ := db.ListLogins(ctx, tn.ID, provisioning.LoginQuery{}); len(logins) != 0 {
			t.Fatalf("the test sign-in left %d login events", len(logins))
		}
		// Before activation a normal sign-in through the connection is refused.
		run(t, b,
			chromedp.Navigate(srv.URL+"/sso/acme/login?connection="+connID),
			chromedp.WaitVisible(chromedp.CSS(`body`)),
		)
		if txt := pageText(t, b); !strings.Contains(txt, "Unknown sign-in connection") {
			t.Fatalf("sign-in before activation:\n%s", txt)
		}

		// Reopening the link shows what is done; then activate.
		run(t, b,
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`#activate`)),
		)
		if txt := pageText(t, b); !strings.Contains(txt, "Step 4 of 5 done") {
			t.Fatalf("progress on reopening:\n%s", txt)
		}
		run(t, b, chromedp.Click(chromedp.CSS(`#activate`)), chromedp.WaitVisible(chromedp.CSS(`#activated`)))
		shot(t, b, "setup-activated")

		// A real sign-in through the new connection creates Grace with a seat and Agent.
		run(t, b,
			chromedp.Navigate(srv.URL+"/sso/acme/login?connection="+connID+"&return_to=/admin/acme/"),
			chromedp.WaitVisible(chromedp.CSS(`#idp-continue`)),
			chromedp.Click(chromedp.CSS(`#idp-continue`)),
			chromedp.WaitVisible(chromedp.CSS(`header.top`)),
		)
		u, err := db.GetUserByUserName(ctx, tn.ID, "grace@acme.test")
		if err != nil || !u.Seat || len(u.Roles) != 1 || u.Roles[0] != "Agent" {
			t.Fatalf("after the real sign-in: %+v %v", u, err)
		}
		if loc := location(t, b); !strings.Contains(loc, "/admin/acme/") {
			t.Fatalf("after the real sign-in the browser is at %s", loc)
		}
	})
}
