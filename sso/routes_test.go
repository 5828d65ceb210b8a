package sso_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	ssooidc "github.com/seatbridge/seatbridge/sso/oidc"
	ssaml "github.com/seatbridge/seatbridge/sso/saml"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// The one door serves every sign-in URL that the SSO and the former invite door served,
// at the same paths and methods: IdPs, e-mailed links and the platform app know them.
func TestDoorRoutesStay(t *testing.T) {
	db := storetest.OpenSQLite(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := provisioning.NewEngine(db, log)
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, 32))
	mux := http.NewServeMux()
	svc := pagesMux(t, http.NewServeMux(), provisioning.NewAccounts(eng, box), log, sso.Config{}, nil)
	svc.Register(provisioning.ConnSAML, ssaml.New(box, 0))
	svc.Register(provisioning.ConnOIDC, ssooidc.New(box))
	svc.Mount(mux)
	for _, rt := range []struct{ method, path, pattern string }{
		{"GET", "/sso/acme/login", "GET /sso/{tenant}/login"},
		{"GET", "/sso/acme/test/t1", "GET /sso/{tenant}/test/{ticket}"},
		{"GET", "/sso/acme/saml/c1/metadata", "GET /sso/{tenant}/saml/{conn}/metadata"},
		{"POST", "/sso/acme/saml/c1/acs", "POST /sso/{tenant}/saml/{conn}/acs"},
		{"GET", "/sso/acme/oidc/c1/callback", "GET /sso/{tenant}/oidc/{conn}/callback"},
		{"GET", "/invite/tok", "GET /invite/{token}"},
		{"POST", "/invite/tok", "POST /invite/{token}"},
		{"GET", "/login/acme", "GET /login/{tenant}"},
		{"POST", "/login/acme", "POST /login/{tenant}"},
		{"POST", "/login/acme/change", "POST /login/{tenant}/change"},
		{"POST", "/login/acme/2fa", "POST /login/{tenant}/2fa"},
		{"GET", "/", "GET /{$}"},
		{"GET", "/account", "GET /account"},
	} {
		if _, pattern := mux.Handler(httptest.NewRequest(rt.method, rt.path, nil)); pattern != rt.pattern {
			t.Errorf("%s %s: served by %q, want %q", rt.method, rt.path, pattern, rt.pattern)
		}
	}
}
