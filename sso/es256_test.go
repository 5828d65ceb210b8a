package sso_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso/provider"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestIDTokenAlgorithms signs the ID tokens of a client that registered ES256 with a P-256
// key and those of every other client with RS256, both verified by go-oidc against the
// JWKS that discovery names; a rotation replaces the key of each algorithm, and a client
// asking for an algorithm Seatbridge does not offer is refused at registration.
func TestIDTokenAlgorithms(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, 5)
		c := e.samlConn(provisioning.ModeJIT, leadsRule)

		var disco struct {
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		getJSON(t, e, "/.well-known/openid-configuration", &disco)
		if !slices.Equal(disco.Algs, []string{"RS256", "ES256"}) {
			t.Fatalf("discovery algorithms %v", disco.Algs)
		}

		// The default client (registered without an algorithm) gets RS256.
		rsTok := e.loginAs(c, "rs@acme.com")
		rsKid := checkHeader(t, rsTok, "RS256")

		// A client registering ES256.
		es, secret, err := provider.RegisterClient(e.ctx, db, provider.ClientRegistration{Name: "es-app", RedirectURIs: []string{appCallback},
			IDTokenSignedResponseAlg: "ES256"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := db.GetClient(e.ctx, es.ID); err != nil || got.IDTokenAlg != "ES256" {
			t.Fatalf("stored client alg %+v %v", got, err)
		}
		e.app, e.secret = es, secret
		esTok := e.loginAs(c, "es@acme.com")
		esKid := checkHeader(t, esTok, "ES256")

		keys := jwks(t, e)
		if k := keys[esKid]; k.Algorithm != "ES256" || k.Use != "sig" || !k.IsPublic() {
			t.Fatalf("ES256 key in JWKS: %+v", k)
		}
		if k := keys[rsKid]; k.Algorithm != "RS256" {
			t.Fatalf("RS256 key in JWKS: %+v", k)
		}
		if k := keys[esKid]; !strings.Contains(mustJSON(k), `"crv":"P-256"`) {
			t.Fatalf("ES256 key is not P-256: %s", mustJSON(k))
		}

		// Rotation: a new key per algorithm; the old ones stay published and tokens they
		// signed still verify.
		if _, err := e.prov.RotateKey(e.ctx); err != nil {
			t.Fatal(err)
		}
		esTok2 := e.loginAs(c, "es@acme.com")
		if kid := checkHeader(t, esTok2, "ES256"); kid == esKid {
			t.Fatal("ES256 key not rotated")
		}
		keys = jwks(t, e)
		if len(keys) != 4 || keys[esKid].Algorithm != "ES256" || keys[rsKid].Algorithm != "RS256" {
			t.Fatalf("JWKS after rotation: %d keys", len(keys))
		}
		app := e.platformApp()
		if _, err := app.verifier.Verify(e.ctx, esTok); err != nil {
			t.Fatalf("old ES256 token after rotation: %v", err)
		}

		for _, alg := range []string{"HS256", "none", "ES384", "PS256", "es256"} {
			_, _, err := provider.RegisterClient(e.ctx, db, provider.ClientRegistration{RedirectURIs: []string{appCallback},
				IDTokenSignedResponseAlg: alg}, time.Now())
			var ve *provisioning.ValidationError
			if !errors.As(err, &ve) || ve.Field != "idTokenSignedResponseAlg" {
				t.Errorf("registration with %q: %v", alg, err)
			}
		}
	})
}

// loginAs signs email in through SAML as e.app and returns its ID token, verified by
// go-oidc (exchange).
func (e *env) loginAs(c *provisioning.Connection, email string) string {
	e.t.Helper()
	b, a := e.browser(), e.platformApp()
	id := e.startSAML(b, a, email)
	resp := e.mustSAML(b, c, e.assertion(c, id, email), id)
	cl, tok := e.finish(a, resp.Header.Get("Location"))
	if cl.Email != email {
		e.t.Fatalf("email %q", cl.Email)
	}
	raw, _ := tok.Extra("id_token").(string)
	return raw
}

// checkHeader checks a compact JWS's alg and returns its kid.
func checkHeader(t *testing.T, raw, alg string) string {
	t.Helper()
	part, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(b, &h); err != nil || h.Alg != alg || h.Kid == "" || h.Typ != "JWT" {
		t.Fatalf("header %s, want alg %s", b, alg)
	}
	return h.Kid
}

func jwks(t *testing.T, e *env) map[string]jose.JSONWebKey {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, e, "/oauth2/jwks", &set)
	out := map[string]jose.JSONWebKey{}
	for _, k := range set.Keys {
		out[k.KeyID] = k
	}
	return out
}

func getJSON(t *testing.T, e *env, path string, v any) {
	t.Helper()
	resp, err := http.Get(e.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}
