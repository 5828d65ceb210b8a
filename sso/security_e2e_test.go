package sso_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// startVia starts an SP-initiated login through one named connection (as an attacker who
// controls that connection's IdP would) and returns the AuthnRequest ID.
func (e *env) startVia(b *browser, c *provisioning.Connection) string {
	e.t.Helper()
	resp := b.get(e.t, e.base+"/sso/acme/login?connection="+c.ID)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.idp.SSOURL) {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("expected redirect to the IdP, got %d %q %s", resp.StatusCode, loc, body)
	}
	req, _, err := ssotest.AuthnRequest(loc)
	if err != nil {
		e.t.Fatal(err)
	}
	return req.ID
}

// Account pre-hijack (issue #10, case 1): the IdP of a jit connection serving
// idp-i.example.com asserts an address of acme.com, which another connection serves. It
// must neither create that account nor, once the real employee exists, sign in as them.
func TestJITPreHijackRefused(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		y := e.samlConn(provisioning.ModeJIT, leadsRule, func(c *provisioning.Connection) {
			c.Name, c.Domains = "idp-i", []string{"idp-i.example.com"}
		})
		const victim = "newhire@acme.com"

		b := e.browser()
		id := e.startVia(b, y)
		e.refused(b, y, e.assertion(y, id, victim), id, http.StatusForbidden, string(provisioning.RefuseDomainNotServed))
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, victim); err == nil {
			t.Fatal("a connection created an account outside its domains")
		}
		if ev := e.lastLogin(); ev.Result != "refused" || ev.Reason != string(provisioning.RefuseDomainNotServed) {
			t.Fatalf("login event %+v", ev)
		}

		// The connection that serves acme.com signs the real employee in: a new account.
		x := e.samlConn(provisioning.ModeJIT, leadsRule)
		cl := e.samlLogin(x, victim)
		if cl.Email != victim {
			t.Fatalf("claims %s", mustJSON(cl))
		}
		u, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, victim)
		if err != nil || u.ID != cl.Sub {
			t.Fatalf("user %+v %v", u, err)
		}

		// The foreign IdP still cannot sign in as them, and is linked to nothing.
		b2 := e.browser()
		id2 := e.startVia(b2, y)
		e.refused(b2, y, e.assertion(y, id2, victim), id2, http.StatusForbidden, string(provisioning.RefuseDomainNotServed))
		if _, err := e.db.GetIdentity(e.ctx, e.tenant.ID, y.ID, victim); err == nil {
			t.Fatal("the foreign connection was linked to the employee")
		}
		// Its own domain still works.
		b3 := e.browser()
		id3 := e.startVia(b3, y)
		e.mustSAMLTo(b3, y, e.assertion(y, id3, "temp@idp-i.example.com"), id3, "/")
	})
}

// mustSAMLTo posts a response and expects a redirect to path (a login without return_to).
func (e *env) mustSAMLTo(b *browser, c *provisioning.Connection, as ssotest.Assertion, relay, path string) {
	e.t.Helper()
	sr, err := e.idp.Response(as)
	if err != nil {
		e.t.Fatal(err)
	}
	resp := e.postSAML(b, c, sr, relay)
	if resp.Request.URL.Path != path || resp.Request.Method != http.MethodGet {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("SAML login: %d at %s %s", resp.StatusCode, resp.Request.URL, body)
	}
}

// IssueInstant is bounded in both directions (issue #10, case 2).
func TestSAMLIssueInstantBounds(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		const who = "olga@acme.com"
		for _, tc := range []struct {
			name   string
			issued time.Duration
			ok     bool
		}{
			{"an hour in the future", time.Hour, false},
			{"just beyond the skew", crewsaml.MaxClockSkew + 30*time.Second, false},
			{"within the skew", 30 * time.Second, true},
			{"long past", -time.Hour, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b, a := e.browser(), e.platformApp()
				id := e.startSAML(b, a, who)
				as := e.assertion(c, id, who)
				as.Issued = time.Now().Add(tc.issued)
				if tc.ok {
					e.mustSAML(b, c, as, id)
					return
				}
				e.refused(b, c, as, id, http.StatusForbidden, "")
			})
		}
	})
}

// followRepost submits the re-post page the ACS answers a POST without its binding
// cookie with, as the browser's script would.
func followRepost(t *testing.T, b *browser, resp *http.Response) *http.Response {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`id="repost"`)) {
		t.Fatalf("want the re-post page, got %d %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !regexp.MustCompile(`script-src 'nonce-[A-Za-z0-9_-]{20,}'`).MatchString(csp) || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("re-post CSP %q", csp)
	}
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(body)
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllSubmatch(body, -1) {
		form.Add(string(m[1]), htmlUnescape(string(m[2])))
	}
	if action == nil || form.Get(sso.RepostField) != "1" {
		t.Fatalf("re-post form: %s", body)
	}
	return b.post(t, htmlUnescape(string(action[1])), form)
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#61;", "=")
	return r.Replace(s)
}

// SAML login CSRF (issue #10, case 3): a response to the attacker's own request, for the
// attacker's identity, posted from the victim's browser, signs nobody in.
func TestSAMLLoginCSRF(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		const attacker = "mallory@acme.com"

		// The attacker starts a login in their own browser and gets a signed response.
		mb, ma := e.browser(), e.platformApp()
		id := e.startSAML(mb, ma, attacker)
		sr, err := e.idp.Response(e.assertion(c, id, attacker))
		if err != nil {
			t.Fatal(err)
		}

		noSession := func(resp *http.Response) {
			t.Helper()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == sso.SessionCookie && ck.Value != "" {
					t.Fatal("a cross-browser response set a session cookie")
				}
			}
		}
		// A victim who never started a login: the ACS re-posts once from its own origin,
		// the binding cookie is still missing, the response is refused.
		victim := e.browser()
		noSession(followRepost(t, victim, e.postSAML(victim, c, sr, id)))
		// A re-post marker forged by the attacker changes nothing.
		noSession(victim.post(t, e.acs(c), url.Values{"SAMLResponse": {sr}, "RelayState": {id}, sso.RepostField: {"1"}}))
		// A victim in the middle of their own login holds a binding, for another request.
		victim2, va := e.browser(), e.platformApp()
		e.startSAML(victim2, va, "victor@acme.com")
		noSession(followRepost(t, victim2, e.postSAML(victim2, c, sr, id)))
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, attacker); err == nil {
			t.Fatal("the attacker's account was created from the victim's browser")
		}

		// The browser that started the request completes it, once.
		resp := e.postSAML(mb, c, sr, id)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), appCallback) {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("own browser: %d %s", resp.StatusCode, body)
		}
		u, _ := url.Parse(e.base)
		for _, ck := range mb.c.Jar.Cookies(u) {
			if strings.HasPrefix(ck.Name, "sb_saml_") {
				t.Fatalf("the binding cookie %s was not cleared after use", ck.Name)
			}
		}
	})
}

// The binding cookie must survive a cross-site POST: over https it is SameSite=None;
// Secure with the __Host- prefix; over plain http (development) browsers would drop
// SameSite=None, so it is Lax and the ACS re-posts from its own origin.
func TestSAMLBindingCookieAttributes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		for _, base := range []string{"https://sso.example.test", e.base} {
			bu, _ := url.Parse(base)
			svc, err := sso.New(e.engine, db, e.box, nil, sso.Config{BaseURL: bu, CookieKey: bytes.Repeat([]byte{7}, 32)})
			if err != nil {
				t.Fatal(err)
			}
			svc.Register(provisioning.ConnSAML, ssaml.New(svc.Box, 0))
			mux := http.NewServeMux()
			svc.Mount(mux)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sso/acme/login?connection="+c.ID, nil))
			var bind *http.Cookie
			for _, ck := range rec.Result().Cookies() {
				if strings.Contains(ck.Name, "sb_saml_") {
					bind = ck
				}
			}
			if rec.Code != http.StatusFound || bind == nil || !bind.HttpOnly || bind.Path != "/" || bind.MaxAge <= 0 || bind.MaxAge > 600 {
				t.Fatalf("%s: %d binding cookie %+v", base, rec.Code, bind)
			}
			https := strings.HasPrefix(base, "https://")
			if https && (!strings.HasPrefix(bind.Name, "__Host-") || !bind.Secure || bind.SameSite != http.SameSiteNoneMode) {
				t.Fatalf("https binding cookie %+v", bind)
			}
			if !https && (bind.Secure || bind.SameSite != http.SameSiteLaxMode) {
				t.Fatalf("http binding cookie %+v", bind)
			}
		}
	})
}

// Login hints go upstream (issue #10, case 5): OIDC login_hint always, SAML Subject/NameID
// when the connection says its IdP reads it.
func TestLoginHintUpstream(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		e.samlConn(provisioning.ModeJIT, leadsRule)
		e.samlConn(provisioning.ModeJIT, leadsRule, func(c *provisioning.Connection) {
			c.Domains = []string{"acme.org"}
			c.SAML = &provisioning.SAMLSettings{SubjectHint: true}
		})
		authn := func(email string) (*string, string) {
			t.Helper()
			resp := e.browser().get(t, e.platformApp().authURL(email))
			req, _, err := ssotest.AuthnRequest(resp.Header.Get("Location"))
			if err != nil {
				t.Fatalf("%s: %d %v", email, resp.StatusCode, err)
			}
			if req.Subject == nil || req.Subject.NameID == nil {
				return nil, req.ID
			}
			return &req.Subject.NameID.Value, req.ID
		}
		if got, _ := authn("ann@acme.com"); got != nil {
			t.Fatalf("Subject sent to an IdP that was not asked for it: %q", *got)
		}
		if got, _ := authn("Ann@acme.org"); got == nil || *got != "Ann@acme.org" {
			t.Fatalf("Subject hint %v", got)
		}

		op := newOP(t)
		oc := &provisioning.Connection{Name: "entra", Mode: provisioning.ModeJIT, Domains: []string{"acme.net"}, Mapping: leadsRule}
		if err := ssooidc.Prepare(e.box, oc, op.Issuer(), op.ClientID, op.ClientSecret, e.engine.NewID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.engine.CreateConnection(e.ctx, admin, e.tenant.ID, oc); err != nil {
			t.Fatal(err)
		}
		resp := e.browser().get(t, e.platformApp().authURL("kim@acme.net"))
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || u.Query().Get("login_hint") != "kim@acme.net" {
			t.Fatalf("OIDC authorize %q", resp.Header.Get("Location"))
		}
	})
}

// A SAML message with a DOCTYPE is refused, even one that declares no entity.
func TestSAMLDoctypeRefused(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		for _, dtd := range []string{
			`<!DOCTYPE Response>`,
			`<!DOCTYPE Response [<!ELEMENT Response ANY>]>`,
			`<!DOCTYPE Response [<!ENTITY x "y">]>`,
		} {
			b, a := e.browser(), e.platformApp()
			id := e.startSAML(b, a, "paul@acme.com")
			sr, err := e.idp.Response(e.assertion(c, id, "paul@acme.com"))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.StdEncoding.DecodeString(sr)
			withDTD := base64.StdEncoding.EncodeToString(append([]byte(dtd), raw...))
			resp := e.postSAML(b, c, withDTD, id)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s: status %d", dtd, resp.StatusCode)
			}
		}
		// The same response without the DOCTYPE is fine.
		e.samlLogin(c, "paul@acme.com")
	})
}

// Every HTML page of the SSO door and the OIDC provider carries the security headers and
// escapes whatever the request or an IdP put into it.
func TestPagesEscapeAndHeaders(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModePreProvisioned, provisioning.Mapping{})
		// A second connection, so that the login page asks for the e-mail.
		e.samlConn(provisioning.ModeJIT, leadsRule, func(c *provisioning.Connection) { c.Domains = []string{"acme.org"} })
		const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
		check := func(name string, resp *http.Response) {
			t.Helper()
			body, _ := io.ReadAll(resp.Body)
			h := resp.Header
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("%s: headers %v", name, h)
			}
			if bytes.Contains(body, []byte("<script>alert")) || bytes.Contains(body, []byte("<img src=x")) {
				t.Fatalf("%s reflects markup: %s", name, body)
			}
		}
		b := e.browser()
		check("ask e-mail", b.get(t, e.base+"/sso/acme/login?return_to="+url.QueryEscape("/x?q="+evil)))
		check("unknown tenant", b.get(t, e.base+"/sso/"+url.PathEscape(evil)+"/login"))
		check("unknown domain", b.get(t, e.base+"/sso/acme/login?email="+url.QueryEscape("a@"+evil)))
		check("organisation prompt", b.get(t, e.base+"/oauth2/authorize?"+url.Values{"client_id": {e.app.ID},
			"redirect_uri": {appCallback}, "response_type": {"code"}, "code_challenge": {strings.Repeat("a", 43)},
			"code_challenge_method": {"S256"}, "scope": {"openid"}, "state": {evil}, evil: {evil}}.Encode()))
		check("signed out", b.get(t, e.base+"/oauth2/logout"))
		// A refusal echoing the address the IdP asserted.
		id := e.startVia(b, c)
		sr, err := e.idp.Response(e.assertion(c, id, fmt.Sprintf("%s@acme.com", evil)))
		if err != nil {
			t.Fatal(err)
		}
		check("refusal", e.postSAML(b, c, sr, id))
		// The re-post page echoes the posted form.
		check("re-post", e.postSAML(e.browser(), c, sr, evil))
	})
}
