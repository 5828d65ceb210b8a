package console_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestConnectionIdP: on the connection page an admin replaces a SAML connection's IdP
// metadata, adds and removes the rotation certificate, and changes an OIDC connection's
// issuer, client ID and secret (sealed, never shown). Bad input is refused next to its
// field with nothing stored; an Agent and a post without the form token are refused.
func TestConnectionIdP(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		admin := e.session("ada@acme.test", adminPassword)
		tok := admin.token()
		md, err := os.ReadFile("../testdata/saml/test-idp-metadata.xml")
		if err != nil {
			t.Fatal(err)
		}
		const entity = "https://idp.example.test/saml/metadata"
		oldMD := bytes.Replace(md, []byte(entity), []byte("https://old-idp.example.test/metadata"), 1)
		name, typ := "Okta", provisioning.ConnSAML
		c, err := e.eng.CreateConnectionFrom(ctx, cli, e.tenant.ID, provisioning.ConnectionSpec{Name: &name, Type: typ, SAMLMetadata: oldMD}, e.conns)
		if err != nil {
			t.Fatal(err)
		}
		get := func(id string) *provisioning.Connection {
			got, err := e.eng.GetConnection(ctx, e.tenant.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		base := "/admin/acme/sso/connections/" + c.ID
		if r := admin.get(base); r.status != 200 || !strings.Contains(r.body, `id="metadata_xml"`) || !strings.Contains(r.body, "No extra certificate") {
			t.Fatalf("page: %d %s", r.status, r.body)
		}
		// Bad metadata: 400 next to the field, nothing stored.
		r := admin.post(base+"/idp", url.Values{"csrf": {tok}, "action": {"metadata"}, "metadata_xml": {"<not metadata"}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-metadata_xml"`) {
			t.Fatalf("bad metadata: %d %s", r.status, r.body)
		}
		if !strings.Contains(get(c.ID).SAML.IdPMetadataXML, "old-idp.example.test") {
			t.Fatal("bad metadata changed the stored metadata")
		}
		// A private metadata URL is refused next to its field.
		r = admin.post(base+"/idp", url.Values{"csrf": {tok}, "action": {"metadata"}, "metadata_url": {"http://127.0.0.1:1/md.xml"}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-metadata_url"`) {
			t.Fatalf("bad metadata URL: %d %s", r.status, r.body)
		}
		// Valid metadata replaces the IdP entity.
		if r := admin.post(base+"/idp", url.Values{"csrf": {tok}, "action": {"metadata"}, "metadata_xml": {string(md)}}); r.status != http.StatusSeeOther {
			t.Fatalf("replace metadata: %d %s", r.status, r.body)
		}
		if x := get(c.ID).SAML.IdPMetadataXML; !strings.Contains(x, entity) || strings.Contains(x, "old-idp") {
			t.Fatal("metadata not replaced")
		}
		// Rotation certificate: bad PEM refused, then added and removed.
		r = admin.post(base+"/idp", url.Values{"csrf": {tok}, "action": {"add-cert"}, "certificate": {"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-certificate"`) || len(get(c.ID).SAML.IdPCertificatesPEM) != 0 {
			t.Fatalf("bad certificate: %d %s", r.status, r.body)
		}
		next, err := os.ReadFile("../testdata/saml/idp-next.crt")
		if err != nil {
			t.Fatal(err)
		}
		if r := admin.post(base+"/idp", url.Values{"csrf": {tok}, "action": {"add-cert"}, "certificate": {string(next)}}); r.status != http.StatusSeeOther {
			t.Fatalf("add certificate: %d %s", r.status, r.body)
		}
		if cs := get(c.ID).SAML.IdPCertificatesPEM; len(cs) != 1 || !strings.Contains(cs[0], "BEGIN CERTIFICATE") {
			t.Fatalf("certificate not added: %v", cs)
		}
		if r := admin.get(base); !strings.Contains(r.body, "SHA-256 ") || !strings.Contains(r.body, `value="remove-cert"`) {
			t.Fatal("added certificate not listed")
		}
		if r := admin.post(base+"/idp", url.Values{"csrf": {tok}, "action": {"remove-cert"}, "index": {"0"}}); r.status != http.StatusSeeOther || len(get(c.ID).SAML.IdPCertificatesPEM) != 0 {
			t.Fatalf("remove certificate: %d", r.status)
		}

		// OIDC: issuer, client ID and a new secret, sealed and never shown.
		oname := "Generic OIDC"
		iss, cid := "https://op.example.test", "client-1"
		o, err := e.eng.CreateConnectionFrom(ctx, cli, e.tenant.ID, provisioning.ConnectionSpec{Name: &oname, Type: provisioning.ConnOIDC,
			OIDCIssuer: &iss, OIDCClientID: &cid, OIDCClientSecret: "first-secret"}, e.conns)
		if err != nil {
			t.Fatal(err)
		}
		obase := "/admin/acme/sso/connections/" + o.ID
		sealed := append([]byte{}, get(o.ID).OIDC.ClientSecretSealed...)
		r = admin.post(obase+"/idp", url.Values{"csrf": {tok}, "issuer": {"http://127.0.0.1:1/.well-known/openid-configuration"}, "client_id": {"client-2"}, "client_secret": {"second-secret-42"}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="e-issuer"`) || strings.Contains(r.body, "second-secret-42") || get(o.ID).OIDC.ClientID != "client-1" {
			t.Fatalf("bad discovery URL: %d %s", r.status, r.body)
		}
		if r := admin.post(obase+"/idp", url.Values{"csrf": {tok}, "issuer": {"https://op2.example.test"}, "client_id": {"client-2"}, "client_secret": {"second-secret-42"}}); r.status != http.StatusSeeOther {
			t.Fatalf("oidc change: %d %s", r.status, r.body)
		}
		got := get(o.ID).OIDC
		if got.Issuer != "https://op2.example.test" || got.ClientID != "client-2" || len(got.ClientSecretSealed) == 0 ||
			bytes.Equal(got.ClientSecretSealed, sealed) || bytes.Contains(got.ClientSecretSealed, []byte("second-secret-42")) {
			t.Fatalf("oidc not changed or secret not sealed: %+v", got)
		}
		if r := admin.get(obase); r.status != 200 || strings.Contains(r.body, "second-secret-42") || !strings.Contains(r.body, "one is stored") || !strings.Contains(r.body, "client-2") {
			t.Fatalf("oidc page: %d", r.status)
		}
		// An empty secret keeps the stored one.
		if r := admin.post(obase+"/idp", url.Values{"csrf": {tok}, "issuer": {"https://op2.example.test"}, "client_id": {"client-3"}}); r.status != http.StatusSeeOther ||
			!bytes.Equal(get(o.ID).OIDC.ClientSecretSealed, got.ClientSecretSealed) {
			t.Fatalf("empty secret: %d", r.status)
		}

		// Without the form token, and as an Agent: refused, nothing changed.
		if r := admin.post(base+"/idp", url.Values{"action": {"add-cert"}, "certificate": {string(next)}}); r.status != http.StatusForbidden {
			t.Fatalf("post without token: %d", r.status)
		}
		agent := e.session(e.localUser("andy@acme.test", "Andy Agent", "agent password 123", provisioning.RoleAgent).UserName, "agent password 123")
		if r := agent.post(base+"/idp", url.Values{"csrf": {agent.token()}, "action": {"add-cert"}, "certificate": {string(next)}}); r.status != http.StatusForbidden {
			t.Fatalf("agent: %d", r.status)
		}
		if len(get(c.ID).SAML.IdPCertificatesPEM) != 0 {
			t.Fatal("a refused post added a certificate")
		}
	})
}

// TestSetupOIDCDiscovery: the wizard's generic OIDC step takes a discovery URL as well as
// an issuer; a discovery URL that does not work is refused next to the field, nothing stored.
func TestSetupOIDCDiscovery(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		token, _, err := e.eng.CreateSetupLink(ctx, cli, e.tenant.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		post := func(path string, v url.Values) (int, string) {
			resp, err := http.PostForm(e.srv.URL+"/setup/"+token+path, v)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := post("/provider", url.Values{"provider": {"oidc"}}); code >= 400 {
			t.Fatalf("provider: %d %s", code, body)
		}
		code, body := post("/connection", url.Values{"issuer": {"http://127.0.0.1:1/.well-known/openid-configuration"}, "client_id": {"c"}, "client_secret": {"s"}, "domains": {"acme.test"}})
		if code != http.StatusBadRequest || !strings.Contains(body, "The discovery URL did not work") {
			t.Fatalf("discovery URL: %d %s", code, body)
		}
		if cs, _ := e.eng.ListConnections(ctx, e.tenant.ID); len(cs) != 0 {
			t.Fatal("a refused discovery URL stored a connection")
		}
		if code, body := post("/connection", url.Values{"issuer": {"https://op.example.test"}, "client_id": {"c"}, "client_secret": {"s"}, "domains": {"acme.test"}}); code != http.StatusSeeOther && code != 200 {
			t.Fatalf("issuer: %d %s", code, body)
		}
		if cs, _ := e.eng.ListConnections(ctx, e.tenant.ID); len(cs) != 1 || cs[0].OIDC.Issuer != "https://op.example.test" {
			t.Fatalf("issuer not stored: %+v", cs)
		}
	})
}
