package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// WellKnownOIDC is the path of an OpenID Provider's discovery document under its issuer.
const WellKnownOIDC = "/.well-known/openid-configuration"

// DiscoveryError says why an OpenID Provider discovery document was refused.
type DiscoveryError struct{ Reason string }

func (e *DiscoveryError) Error() string { return "discovery: " + e.Reason }

// DiscoverIssuer reads an OpenID Provider's discovery document (u is the issuer or the
// document's URL) and returns its issuer, which must be the URL the document was read
// from minus the well-known suffix (OpenID Connect Discovery 1.0 §4.3): a document that
// names another issuer is refused. The admin API and the console both use it. Errors are
// *DiscoveryError.
func DiscoverIssuer(ctx context.Context, u string, o FetchOptions) (string, error) {
	if !strings.HasSuffix(u, WellKnownOIDC) {
		u = strings.TrimSuffix(u, "/") + WellKnownOIDC
	}
	raw, err := Fetch(ctx, u, o)
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) {
			return "", &DiscoveryError{Reason: fe.Reason}
		}
		return "", &DiscoveryError{Reason: "could not be fetched"}
	}
	var doc struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Issuer == "" || doc.AuthorizationEndpoint == "" || doc.JWKSURI == "" {
		return "", &DiscoveryError{Reason: "not an OpenID Provider discovery document (issuer, authorization_endpoint and jwks_uri are required)"}
	}
	if strings.TrimSuffix(doc.Issuer, "/")+WellKnownOIDC != u {
		return "", &DiscoveryError{Reason: fmt.Sprintf("the document's issuer %q does not match the URL it was read from", doc.Issuer)}
	}
	return doc.Issuer, nil
}
