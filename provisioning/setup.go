package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SetupLink is a single-tenant link the platform hands to a customer's IT admin: whoever
// holds it may configure that tenant's SSO connection and SCIM token, nothing else, until
// it expires or is revoked. Only the token's SHA-256 is stored.
type SetupLink struct {
	ID         string        `json:"id"`
	TenantID   string        `json:"tenantId"`
	SecretHash []byte        `json:"-"`
	CreatedBy  string        `json:"createdBy,omitempty"`
	Progress   SetupProgress `json:"progress"`
	CreatedAt  time.Time     `json:"createdAt"`
	ExpiresAt  time.Time     `json:"expiresAt"`
	RevokedAt  *time.Time    `json:"revokedAt,omitempty"`
}

// SetupProgress is what the wizard has done, kept so a reopened link shows it.
type SetupProgress struct {
	// Provider is the IdP picked: okta, entra, google, saml or oidc.
	Provider     string     `json:"provider,omitempty"`
	ConnectionID string     `json:"connectionId,omitempty"`
	SCIMTokenID  string     `json:"scimTokenId,omitempty"`
	TestedAt     *time.Time `json:"testedAt,omitempty"`
	TestOK       bool       `json:"testOk,omitempty"`
	ActivatedAt  *time.Time `json:"activatedAt,omitempty"`
}

// State is the link's state at now: active, expired or revoked.
func (l *SetupLink) State(now time.Time) string {
	switch {
	case l.RevokedAt != nil:
		return "revoked"
	case !now.Before(l.ExpiresAt):
		return "expired"
	}
	return "active"
}

// SetupLinkPrefix starts every set-up link token (secret scanners can spot leaked ones).
const SetupLinkPrefix = "sbs_"

// Set-up link lifetimes.
const (
	DefaultSetupLinkTTL = 7 * 24 * time.Hour
	MaxSetupLinkTTL     = 30 * 24 * time.Hour
)

// ErrBadSetupLink is returned for a set-up link that is unknown, expired or revoked;
// the wizard says so without telling which.
var ErrBadSetupLink = errors.New("set-up link is invalid, expired or revoked")

// CreateSetupLink issues a set-up link for the tenant valid for ttl (default 7 days, at
// most 30). The returned token is shown once.
func (e *Engine) CreateSetupLink(ctx context.Context, actor Actor, tenantID string, ttl time.Duration) (string, *SetupLink, error) {
	if ttl == 0 {
		ttl = DefaultSetupLinkTTL
	}
	if ttl < time.Minute || ttl > MaxSetupLinkTTL {
		return "", nil, Invalid("expires", "must be between 1 minute and 30 days")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("set-up link secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(secret))
	now := e.now()
	l := &SetupLink{ID: strings.ReplaceAll(e.NewID(), "-", ""), TenantID: tenantID, SecretHash: sum[:], CreatedBy: actor.Name,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetTenant(ctx, tenantID); err != nil {
			return err
		}
		if err := tx.CreateSetupLink(ctx, l); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "setup_link.create", "setup_link", l.ID, nil, l)
	})
	if err != nil {
		return "", nil, err
	}
	return SetupLinkPrefix + l.ID + "_" + secret, l, nil
}

// OpenSetupLink checks a presented token and returns the active link with its tenant.
// The secret is compared in constant time; any failure is ErrBadSetupLink.
func (e *Engine) OpenSetupLink(ctx context.Context, token string) (*SetupLink, *Tenant, error) {
	s := e.Store
	rest, ok := strings.CutPrefix(token, SetupLinkPrefix)
	if !ok {
		return nil, nil, ErrBadSetupLink
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" || len(id) > 64 || len(secret) > 128 {
		return nil, nil, ErrBadSetupLink
	}
	l, err := s.GetSetupLink(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrBadSetupLink
	}
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], l.SecretHash) != 1 || l.State(e.now()) != "active" {
		return nil, nil, ErrBadSetupLink
	}
	t, err := e.Store.GetTenant(ctx, l.TenantID)
	if err != nil {
		return nil, nil, err
	}
	return l, t, nil
}

// ListSetupLinks lists a tenant's set-up links (never their tokens).
func (e *Engine) ListSetupLinks(ctx context.Context, tenantID string) ([]SetupLink, error) {
	s := e.Store
	return s.ListSetupLinks(ctx, tenantID)
}

// RevokeSetupLink makes a link unusable at once.
func (e *Engine) RevokeSetupLink(ctx context.Context, actor Actor, tenantID, id string) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.RevokeSetupLink(ctx, tenantID, id, e.now()); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "setup_link.revoke", "setup_link", id, nil, nil)
	})
}

// SaveSetupProgress records the wizard's progress on the link.
func (e *Engine) SaveSetupProgress(ctx context.Context, l *SetupLink) error {
	s := e.Store
	return s.SaveSetupProgress(ctx, l.TenantID, l.ID, l.Progress)
}

// ActorSetupLink is the actor kind of changes made through a set-up link.
const ActorSetupLink ActorKind = "setup_link"

// SetupActor is the actor of changes made through a set-up link.
func SetupActor(l *SetupLink, ip string) Actor {
	return Actor{Kind: ActorSetupLink, ID: l.ID, Name: "set-up link", IP: ip}
}
