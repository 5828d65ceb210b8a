package sso_test

import (
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso/ssotest"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

var leadsRule = provisioning.Mapping{Seat: true, Rules: []provisioning.GroupRule{
	{Group: "Support-Leads", Roles: []string{"Supervisor"}, Teams: []string{"Tier 2"}},
}}

func TestSAMLJITWithGroupMapping(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)

		cl := e.samlLogin(c, "alice@acme.com", "Support-Leads")
		if cl.Email != "alice@acme.com" || cl.Name != "Alice Archer" || cl.Tenant != "acme" || !cl.Seat ||
			!sameStrings(cl.AMR, []string{"saml"}) || cl.Sub == "" {
			t.Fatalf("claims %s", mustJSON(cl))
		}
		if !sameStrings(cl.Roles, []string{"Supervisor"}) || !sameStrings(cl.Teams, []string{"Tier 2"}) {
			t.Fatalf("roles %v teams %v", cl.Roles, cl.Teams)
		}
		if !strings.Contains(strings.Join(cl.Permissions, ","), "view_analytics") {
			t.Fatalf("permissions %v", cl.Permissions)
		}
		u, err := e.engine.GetUser(e.ctx, e.tenant.ID, cl.Sub)
		if err != nil || u.Source != provisioning.SourceJIT || !u.ManagedByIdP {
			t.Fatalf("user %+v %v", u, err)
		}

		// The IdP stops sending the group: its role and team go, the default role stays.
		cl2 := e.samlLogin(c, "alice@acme.com")
		if cl2.Sub != cl.Sub || !sameStrings(cl2.Roles, []string{"Agent"}) || len(cl2.Teams) != 0 {
			t.Fatalf("after group removal: %s", mustJSON(cl2))
		}
		// A role granted by an admin is not touched by the IdP.
		roles, _ := e.db.ListRoles(e.ctx, e.tenant.ID)
		var viewer string
		for _, r := range roles {
			if r.Name == "Viewer" {
				viewer = r.ID
			}
		}
		if err := e.db.InTx(e.ctx, func(tx provisioning.Tx) error { return tx.SetUserRoles(e.ctx, e.tenant.ID, cl.Sub, []string{viewer}) }); err != nil {
			t.Fatal(err)
		}
		cl3 := e.samlLogin(c, "alice@acme.com", "Support-Leads")
		if !sameStrings(cl3.Roles, []string{"Supervisor", "Viewer"}) {
			t.Fatalf("roles with admin grant: %v", cl3.Roles)
		}
		if ev := e.lastLogin(); ev.Result != "success" || ev.Method != "saml" || ev.UserID != cl.Sub {
			t.Fatalf("login event %+v", ev)
		}
	})
}

func TestSAMLJITTenantFull(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 0)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		b, a := e.browser(), e.platformApp()
		id := e.startSAML(b, a, "bob@acme.com")
		e.refused(b, c, e.assertion(c, id, "bob@acme.com"), id, http.StatusForbidden, "tenant_full")
		// The user exists, without a seat, waiting for an admin.
		u, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, "bob@acme.com")
		if err != nil || u.Seat || u.Source != provisioning.SourceJIT {
			t.Fatalf("user %+v %v", u, err)
		}
		if ev := e.lastLogin(); ev.Result != "refused" || ev.Reason != "tenant_full" {
			t.Fatalf("login event %+v", ev)
		}
	})
}

func TestSAMLPreProvisioned(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModePreProvisioned, provisioning.Mapping{})
		mk := func(name string, seat bool, status provisioning.UserStatus) *provisioning.User {
			u, err := e.engine.CreateUser(e.ctx, admin, e.tenant.ID, &provisioning.User{UserName: name, Seat: seat, Status: status,
				Source: provisioning.SourceInvite, Emails: []provisioning.MultiValue{{Value: name, Primary: true}}})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		carol := mk("carol@acme.com", true, provisioning.StatusInvited)
		mk("dave@acme.com", false, provisioning.StatusActive)
		erin := mk("erin@acme.com", true, provisioning.StatusActive)
		if _, err := e.engine.UpdateUser(e.ctx, admin, e.tenant.ID, erin.ID, provisioning.AnyVersion, func(u *provisioning.User) error {
			u.Status = provisioning.StatusDeactivated
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		cl := e.samlLogin(c, "Carol@Acme.com")
		if cl.Sub != carol.ID || !cl.Seat || !sameStrings(cl.Roles, []string{"Agent"}) {
			t.Fatalf("carol: %s", mustJSON(cl))
		}
		if u, _ := e.engine.GetUser(e.ctx, e.tenant.ID, carol.ID); u.Status != provisioning.StatusActive {
			t.Fatalf("invited user not activated: %s", u.Status)
		}

		for _, tc := range []struct{ email, reason string }{
			{"nobody@acme.com", "unknown_user"},
			{"dave@acme.com", "no_seat"},
			{"erin@acme.com", "deactivated"},
		} {
			b, a := e.browser(), e.platformApp()
			id := e.startSAML(b, a, tc.email)
			e.refused(b, c, e.assertion(c, id, tc.email), id, http.StatusForbidden, tc.reason)
			if ev := e.lastLogin(); ev.Result != "refused" || ev.Reason != tc.reason {
				t.Fatalf("%s: login event %+v", tc.email, ev)
			}
		}
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, "nobody@acme.com"); err == nil {
			t.Fatal("pre_provisioned mode created a user")
		}
	})
}

func TestSAMLDirectoryModeAndTombstones(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeDirectory, provisioning.Mapping{})
		frank, err := e.engine.CreateUser(e.ctx, admin, e.tenant.ID, &provisioning.User{UserName: "frank@acme.com", Seat: true,
			Source: provisioning.SourceSCIM, ManagedByIdP: true, Emails: []provisioning.MultiValue{{Value: "frank@acme.com", Primary: true}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.engine.CreateUser(e.ctx, admin, e.tenant.ID, &provisioning.User{UserName: "gina@acme.com", Seat: true,
			Source: provisioning.SourceAdmin, Emails: []provisioning.MultiValue{{Value: "gina@acme.com", Primary: true}}}); err != nil {
			t.Fatal(err)
		}
		if cl := e.samlLogin(c, "frank@acme.com"); cl.Sub != frank.ID {
			t.Fatalf("frank: %s", mustJSON(cl))
		}
		check := func(conn *provisioning.Connection, email, reason string) {
			t.Helper()
			b, a := e.browser(), e.platformApp()
			id := e.startSAML(b, a, email)
			e.refused(b, conn, e.assertion(conn, id, email), id, http.StatusForbidden, reason)
		}
		check(c, "gina@acme.com", "not_in_directory")
		check(c, "henry@acme.com", "not_in_directory")

		// The directory deletes frank: sessions end and no SSO login brings him back, in
		// any mode.
		if err := e.engine.DeleteUser(e.ctx, admin, e.tenant.ID, frank.ID, provisioning.AnyVersion); err != nil {
			t.Fatal(err)
		}
		check(c, "frank@acme.com", "deleted_by_directory")
		if err := e.engine.DeleteConnection(e.ctx, admin, e.tenant.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		jit := e.samlConn(provisioning.ModeJIT, leadsRule)
		check(jit, "frank@acme.com", "deleted_by_directory")
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, "frank@acme.com"); err == nil {
			t.Fatal("tombstoned user recreated")
		}
	})
}

func TestSAMLSecurity(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		rogue, err := ssotest.LoadKeyPair("../testdata/saml", "rogue")
		if err != nil {
			t.Fatal(err)
		}
		const who = "mallory@acme.com"
		cases := []struct {
			name string
			mut  func(a *ssotest.Assertion)
		}{
			{"unsigned assertion", func(a *ssotest.Assertion) { a.Unsigned = true }},
			{"signed by unknown key", func(a *ssotest.Assertion) { a.Signer = rogue }},
			{"response signed by unknown key, assertion unsigned", func(a *ssotest.Assertion) {
				a.Unsigned, a.SignResponse, a.Signer = true, true, rogue
			}},
			{"forged signature (NameID changed after signing)", func(a *ssotest.Assertion) {
				a.Tamper = func(el *etree.Element) {
					el.FindElement("./Subject/NameID").SetText("ceo@acme.com")
				}
			}},
			{"signature wrapping: injected unsigned assertion first", func(a *ssotest.Assertion) {
				a.Inject = func(resp *etree.Element) {
					signed := resp.FindElement("./Assertion")
					evil := signed.Copy()
					evil.CreateAttr("ID", "id-evil")
					evil.RemoveChild(evil.FindElement("./Signature"))
					evil.FindElement("./Subject/NameID").SetText("ceo@acme.com")
					resp.InsertChildAt(signed.Index(), evil)
				}
			}},
			{"signature wrapping: evil assertion inside the signed one", func(a *ssotest.Assertion) {
				a.Inject = func(resp *etree.Element) {
					signed := resp.FindElement("./Assertion")
					evil := signed.Copy()
					evil.RemoveChild(evil.FindElement("./Signature"))
					signed.FindElement("./Signature").AddChild(evil)
				}
			}},
			{"wrong audience", func(a *ssotest.Assertion) { a.Audience = "https://other-sp.example.test/metadata" }},
			{"wrong recipient", func(a *ssotest.Assertion) { a.ACS = "https://evil.example.test/acs" }},
			{"wrong issuer", func(a *ssotest.Assertion) { a.Issuer = "https://evil-idp.example.test" }},
			{"expired", func(a *ssotest.Assertion) { a.IssueInstant = time.Now().Add(-2 * time.Hour) }},
			{"not yet valid", func(a *ssotest.Assertion) { a.IssueInstant = time.Now().Add(2 * time.Hour) }},
			{"InResponseTo mismatch", func(a *ssotest.Assertion) { a.InResponseTo = "id-not-ours" }},
			{"IdP-initiated when disabled", func(a *ssotest.Assertion) { a.InResponseTo = "" }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b, a := e.browser(), e.platformApp()
				id := e.startSAML(b, a, who)
				as := e.assertion(c, id, who)
				tc.mut(&as)
				e.refused(b, c, as, id, http.StatusForbidden, "")
			})
		}
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, "ceo@acme.com"); err == nil {
			t.Fatal("a forged assertion created a user")
		}
		if _, err := e.db.GetUserByUserName(e.ctx, e.tenant.ID, who); err == nil {
			t.Fatal("a refused assertion created a user")
		}

		t.Run("replayed response", func(t *testing.T) {
			b, a := e.browser(), e.platformApp()
			id := e.startSAML(b, a, who)
			sr, err := e.idp.Response(e.assertion(c, id, who))
			if err != nil {
				t.Fatal(err)
			}
			if resp := e.postSAML(b, c, sr, id); resp.StatusCode != http.StatusFound {
				t.Fatalf("first post: %d", resp.StatusCode)
			}
			if resp := e.postSAML(e.browser(), c, sr, id); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("replay: %d", resp.StatusCode)
			}
		})
		t.Run("replayed assertion ID in a new response", func(t *testing.T) {
			b, a := e.browser(), e.platformApp()
			id1 := e.startSAML(b, a, who)
			as := e.assertion(c, id1, who)
			as.ID = "id-once-only"
			e.mustSAML(b, c, as, id1)
			b2, a2 := e.browser(), e.platformApp()
			id2 := e.startSAML(b2, a2, who)
			as2 := e.assertion(c, id2, who)
			as2.ID = "id-once-only"
			e.refused(b2, c, as2, id2, http.StatusForbidden, "")
		})
		t.Run("response for another connection's request", func(t *testing.T) {
			other := e.samlConn(provisioning.ModeJIT, leadsRule, func(c *provisioning.Connection) { c.Domains = []string{"acme.org"} })
			b, a := e.browser(), e.platformApp()
			id := e.startSAML(b, a, who) // request made for c
			e.refused(b, other, e.assertion(other, id, who), id, http.StatusForbidden, "")
		})
	})
}

func TestSAMLIdPInitiatedRotationAndEncryption(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		next, err := ssotest.LoadKeyPair("../testdata/saml", "idp-next")
		if err != nil {
			t.Fatal(err)
		}
		e.idp.Published = append(e.idp.Published, next.Cert)
		c := e.samlConn(provisioning.ModeJIT, leadsRule, func(c *provisioning.Connection) {
			c.SAML = &provisioning.SAMLSettings{AllowIdPInitiated: true}
		})

		// IdP-initiated, signed with the second published certificate.
		b := e.browser()
		as := e.assertion(c, "", "ivan@acme.com")
		as.Signer = next
		resp := e.postSAMLRaw(b, c, as)
		// The browser followed the redirect to the default return address "/".
		if resp.Request.URL.Path != "/" || resp.Request.Method != http.MethodGet {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("IdP-initiated: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		// The browser now has a session: the app's authorize goes straight to the callback.
		a := e.platformApp()
		r2 := b.get(t, a.authURL(""))
		cl, _ := e.finish(a, r2.Header.Get("Location"))
		if cl.Email != "ivan@acme.com" {
			t.Fatalf("claims %s", mustJSON(cl))
		}

		// Encrypted assertion for the SP certificate.
		sp, err := ssotest.LoadKeyPair("../testdata/saml", "sp")
		if err != nil {
			t.Fatal(err)
		}
		b3, a3 := e.browser(), e.platformApp()
		id := e.startSAML(b3, a3, "judy@acme.com")
		enc := e.assertion(c, id, "judy@acme.com")
		enc.EncryptFor = sp.Cert
		enc.SignResponse = true
		r3 := e.mustSAML(b3, c, enc, id)
		if cl, _ := e.finish(a3, r3.Header.Get("Location")); cl.Email != "judy@acme.com" {
			t.Fatalf("claims %s", mustJSON(cl))
		}
	})
}

func (e *env) postSAMLRaw(b *browser, c *provisioning.Connection, as ssotest.Assertion) *http.Response {
	e.t.Helper()
	sr, err := e.idp.Response(as)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.postSAML(b, c, sr, "")
}

func TestReturnToAndMetadata(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		b := e.browser()
		for _, rt := range []string{"https://evil.example", "//evil.example/x", "/\\evil.example", "http:/evil", "javascript:alert(1)", "/%2f%2fevil.example"} {
			resp := b.get(t, e.base+"/sso/acme/login?email=a@acme.com&return_to="+url.QueryEscape(rt))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("return_to %q: %d %q", rt, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		resp := b.get(t, e.base+"/sso/acme/login?email=a@acme.com&return_to=/app/home")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.idp.SSOURL) {
			t.Fatalf("HRD: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp := b.get(t, e.base+"/sso/acme/login?email=a@other.com"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown domain: %d", resp.StatusCode)
		}
		md := b.get(t, e.base+"/sso/acme/saml/"+c.ID+"/metadata")
		body, _ := io.ReadAll(md.Body)
		if md.StatusCode != 200 || !strings.Contains(string(body), e.acs(c)) || !strings.Contains(string(body), e.spEntityID(c)) {
			t.Fatalf("metadata %d %s", md.StatusCode, body)
		}
	})
}

// TestSAMLConnectionEditTakesEffect: the verifier caches what it built for a connection,
// but an edit (here the IdP's certificate replaced) applies to the very next response.
func TestSAMLConnectionEditTakesEffect(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)
		e.samlLogin(c, "kim@acme.com") // builds and caches the connection's SP

		next, err := ssotest.LoadKeyPair("../testdata/saml", "idp-next")
		if err != nil {
			t.Fatal(err)
		}
		old := e.idp.Signing
		e.idp.Published = []*x509.Certificate{next.Cert}
		stored, err := e.engine.GetConnection(e.ctx, e.tenant.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored.SAML.IdPMetadataXML = string(e.idp.Metadata())
		if err := db.InTx(e.ctx, func(tx provisioning.Tx) error { return tx.UpdateConnection(e.ctx, stored) }); err != nil {
			t.Fatal(err)
		}

		b, a := e.browser(), e.platformApp()
		id := e.startSAML(b, a, "kim@acme.com")
		as := e.assertion(c, id, "kim@acme.com")
		as.Signer = old
		e.refused(b, c, as, id, http.StatusForbidden, "")

		b2, a2 := e.browser(), e.platformApp()
		id2 := e.startSAML(b2, a2, "kim@acme.com")
		as2 := e.assertion(c, id2, "kim@acme.com")
		as2.Signer = next
		r := e.mustSAML(b2, c, as2, id2)
		if cl, _ := e.finish(a2, r.Header.Get("Location")); cl.Email != "kim@acme.com" {
			t.Fatalf("claims %s", mustJSON(cl))
		}
	})
}
