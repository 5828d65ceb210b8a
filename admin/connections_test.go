package admin_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// preparer is the SSO door's connection preparer as cmd/seatbridge wires it.
type preparer struct {
	ssaml.Preparer
	o ssooidc.Preparer
}

func (p preparer) PrepareOIDC(c *provisioning.Connection, issuer, clientID, secret string) error {
	return p.o.PrepareOIDC(c, issuer, clientID, secret)
}

func newConnEnv(t *testing.T, db *store.DB, fetchPrivate bool) *env {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	eng := provisioning.NewEngine(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	api := admin.New(eng, admin.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), States: db,
		Connections: preparer{ssaml.Preparer{Box: box}, ssooidc.Preparer{Box: box}}, FetchPrivate: fetchPrivate})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return newTenant(t, db, eng, srv, "acme", 10)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/saml/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConnectionsAPI(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newConnEnv(t, db, false)
		md := readTestdata(t, "test-idp-metadata.xml")

		// Bad input: a clear 400 naming the field, and nothing stored or audited.
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"not XML", map[string]any{"type": "saml", "saml": map[string]any{"metadataXml": "<nope"}}, "metadata"},
			{"no IdP", map[string]any{"type": "saml", "saml": map[string]any{"metadataXml": `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`}}, "metadata"},
			{"no metadata", map[string]any{"type": "saml", "domains": []string{"acme.test"}}, "saml.metadata"},
			{"loopback URL", map[string]any{"type": "saml", "saml": map[string]any{"metadataUrl": e.srv.URL + "/metadata"}}, "saml.metadataUrl"},
			{"metadata service", map[string]any{"type": "saml", "saml": map[string]any{"metadataUrl": "http://169.254.169.254/latest/meta-data/"}}, "saml.metadataUrl"},
			{"bad domain", map[string]any{"type": "saml", "domains": []string{"not a domain"}, "saml": map[string]any{"metadataXml": md}}, "domains[0]"},
			{"bad mode", map[string]any{"type": "saml", "mode": "open", "saml": map[string]any{"metadataXml": md}}, "mode"},
			{"bad certificate", map[string]any{"type": "saml", "saml": map[string]any{"metadataXml": md, "certificates": []string{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}}}, "saml.certificates[0]"},
			{"OIDC on SAML", map[string]any{"type": "saml", "saml": map[string]any{"metadataXml": md}, "oidc": map[string]any{"clientId": "x"}}, "oidc"},
			{"no type", map[string]any{"saml": map[string]any{"metadataXml": md}}, "type"},
			{"unknown field", map[string]any{"type": "saml", "metadata": md}, "metadata"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.do(e.as(), "POST", "/connections", tc.body), http.StatusBadRequest, tc.field)
			})
		}
		if n := len(e.must(e.do(e.as(), "GET", "/connections", nil), 200).list("connections")); n != 0 {
			t.Fatalf("%d connections stored after refused requests", n)
		}
		if r := e.must(e.do(e.as(), "GET", "/audit?action=connection.create", nil), 200); strings.Contains(string(r.raw), "connection.create") {
			t.Fatalf("refused create audited: %s", r.raw)
		}

		// A SAML connection from uploaded metadata.
		c := e.must(e.do(e.as(), "POST", "/connections", map[string]any{"type": "saml", "name": "okta", "mode": "jit",
			"domains": []string{"Acme.test"}, "saml": map[string]any{"metadataXml": md, "allowIdpInitiated": true},
			"mapping": map[string]any{"rules": []map[string]any{{"group": "Support", "seat": true, "roles": []string{"Agent"}}}}}), 201)
		id := c.str("id")
		if c.str("saml", "allowIdpInitiated") != "true" || c.str("saml", "spKeySealed") != "" || !strings.Contains(c.str("saml", "idpMetadataXml"), "bytes") {
			t.Fatalf("created: %s", c.raw)
		}
		got := e.must(e.do(e.as(), "GET", "/connections/"+id, nil), 200)
		if got.str("domains") != "[acme.test]" || got.str("saml", "spCertPem") == "" {
			t.Fatalf("get: %s", got.raw)
		}
		stored, err := e.eng.GetConnection(ctx, e.tenant.ID, id)
		if err != nil || len(stored.SAML.SPKeySealed) == 0 {
			t.Fatalf("stored: %+v %v", stored, err)
		}
		spKey := string(stored.SAML.SPKeySealed)

		// Rotation: the next certificate next to the metadata's; new metadata keeps the SP key.
		next := readTestdata(t, "idp-next.crt")
		e.must(e.do(e.as(), "PATCH", "/connections/"+id, map[string]any{"saml": map[string]any{"certificates": []string{next},
			"metadataXml": md}}), 200)
		stored, _ = e.eng.GetConnection(ctx, e.tenant.ID, id)
		if len(stored.SAML.IdPCertificatesPEM) != 1 || string(stored.SAML.SPKeySealed) != spKey {
			t.Fatalf("after rotation: certs %d, SP key kept %v", len(stored.SAML.IdPCertificatesPEM), string(stored.SAML.SPKeySealed) == spKey)
		}
		wantError(t, e.do(e.as(), "PATCH", "/connections/"+id, map[string]any{"saml": map[string]any{"metadataXml": "<bad"}}), 400, "metadata")
		wantError(t, e.do(e.as(), "PATCH", "/connections/"+id, map[string]any{"type": "oidc"}), 400, "type")

		// Mapping, disable, enable: each audited.
		e.must(e.do(e.as(), "PUT", "/connections/"+id+"/mapping", map[string]any{"seat": true, "groupsAttr": "groups",
			"rules": []map[string]any{{"group": "Tier 2", "teams": []string{"Escalations"}}}}), 200)
		wantError(t, e.do(e.as(), "PUT", "/connections/"+id+"/mapping", map[string]any{"rules": []map[string]any{{"group": " "}}}), 400, "mapping.rules[0].group")
		if r := e.must(e.do(e.as(), "POST", "/connections/"+id+"/disable", nil), 200); r.str("disabled") != "true" {
			t.Fatalf("disable: %s", r.raw)
		}
		e.must(e.do(e.as(), "POST", "/connections/"+id+"/enable", nil), 200)
		audit := string(e.must(e.do(e.as(), "GET", "/audit", nil), 200).raw)
		for _, action := range []string{"connection.create", "connection.update", "connection.disable", "connection.enable"} {
			if !strings.Contains(audit, action) {
				t.Errorf("audit lacks %s", action)
			}
		}
		if strings.Contains(audit, "spKeySealed\":\"") || strings.Contains(audit, "BEGIN PRIVATE") {
			t.Fatal("audit holds the SP key")
		}

		// Another tenant sees none of it.
		other := newTenant(t, db, e.eng, e.srv, "other", 5)
		wantError(t, other.do(other.as(), "GET", "/connections/"+id, nil), 404, "")
		wantError(t, other.do(other.as(), "DELETE", "/connections/"+id, nil), 404, "")

		e.must(e.do(e.as(), "DELETE", "/connections/"+id, nil), 204)
		wantError(t, e.do(e.as(), "GET", "/connections/"+id, nil), 404, "")
	})
}

func TestOIDCConnectionDiscovery(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		var issuer string
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			iss := issuer
			if r.URL.Path == "/liar/.well-known/openid-configuration" {
				iss = "https://evil.example"
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"issuer":"`+iss+`","authorization_endpoint":"`+issuer+`/auth","jwks_uri":"`+issuer+`/jwks"}`)
		}))
		defer idp.Close()
		issuer = idp.URL
		e := newConnEnv(t, db, true)
		wantError(t, e.do(e.as(), "POST", "/connections", map[string]any{"type": "oidc", "oidc": map[string]any{
			"discoveryUrl": idp.URL + "/liar/.well-known/openid-configuration", "clientId": "app"}}), 400, "oidc.discoveryUrl")
		c := e.must(e.do(e.as(), "POST", "/connections", map[string]any{"type": "oidc", "domains": []string{"acme.test"},
			"oidc": map[string]any{"discoveryUrl": idp.URL + "/.well-known/openid-configuration", "clientId": "app", "clientSecret": "s3cret-value"}}), 201)
		if c.str("oidc", "issuer") != idp.URL || strings.Contains(string(c.raw), "s3cret-value") || c.str("oidc", "clientSecretSealed") != "" {
			t.Fatalf("created: %s", c.raw)
		}
		stored, err := e.eng.GetConnection(ctx, e.tenant.ID, c.str("id"))
		if err != nil || len(stored.OIDC.ClientSecretSealed) == 0 || bytes.Contains(stored.OIDC.ClientSecretSealed, []byte("s3cret-value")) {
			t.Fatalf("secret not sealed: %v", err)
		}
		// Changing the client ID keeps the sealed secret.
		e.must(e.do(e.as(), "PATCH", "/connections/"+c.str("id"), map[string]any{"oidc": map[string]any{"clientId": "app2"}}), 200)
		again, _ := e.eng.GetConnection(ctx, e.tenant.ID, c.str("id"))
		if again.OIDC.ClientID != "app2" || !bytes.Equal(again.OIDC.ClientSecretSealed, stored.OIDC.ClientSecretSealed) {
			t.Fatalf("after update: %+v", again.OIDC)
		}
		audit := string(e.must(e.do(e.as(), "GET", "/audit", nil), 200).raw)
		if strings.Contains(audit, "s3cret-value") {
			t.Fatal("audit holds the client secret")
		}
	})
}

func TestSCIMTokensAPI(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newConnEnv(t, db, false)
		r := e.must(e.do(e.as(), "POST", "/scim-tokens", map[string]any{"name": "okta"}), 201)
		tok := r.str("token")
		if !strings.HasPrefix(tok, provisioning.TokenPrefix) {
			t.Fatalf("token %q", tok)
		}
		if _, _, err := e.eng.AuthenticateToken(ctx, tok, provisioning.TokenSCIM); err != nil {
			t.Fatal(err)
		}
		l := e.must(e.do(e.as(), "GET", "/scim-tokens", nil), 200)
		if len(l.list("tokens")) != 1 || strings.Contains(string(l.raw), tok[len(tok)-20:]) {
			t.Fatalf("list: %s", l.raw)
		}
		e.must(e.do(e.as(), "DELETE", "/scim-tokens/"+r.str("id"), nil), 204)
		if _, _, err := e.eng.AuthenticateToken(ctx, tok, provisioning.TokenSCIM); err == nil {
			t.Fatal("revoked token still authenticates")
		}
		// The admin token is not a SCIM token: not revocable here.
		wantError(t, e.do(e.as(), "DELETE", "/scim-tokens/nope", nil), 404, "")
	})
}
