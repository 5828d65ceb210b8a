package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Engine holds every rule about tenants, users, seats, roles, teams and groups. The doors
// (SCIM, SSO, admin API, CLI) call it; it calls the Store. Each mutating method runs in one
// transaction together with its audit event.
type Engine struct {
	Store Store
	Log   *slog.Logger
	// Now and NewID are injected so tests control time and identifiers.
	Now   func() time.Time
	NewID func() string
	// LoginObserver, when set, hears of every login event recorded (for metrics).
	LoginObserver func(method, result string)
	// TokenCache is how long a SCIM token that authenticated is trusted without reading it
	// again (NewEngine: MaxTokenCache; zero: every request reads it; capped at
	// MaxTokenCache). It bounds how late another replica's revocation takes effect here.
	TokenCache time.Duration

	// tokens is shared by copies of the engine; nil (an Engine not made by NewEngine)
	// caches nothing.
	tokens *tokenCache
}

// inTenantTx runs fn in one transaction with the tenant read in it.
func (e *Engine) inTenantTx(ctx context.Context, tenantID string, fn func(tx Tx, t *Tenant) error) error {
	return e.Store.InTx(ctx, func(tx Tx) error {
		t, err := tx.GetTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		return fn(tx, t)
	})
}

// NewEngine returns an engine over s with the real clock and UUIDv7 identifiers.
func NewEngine(s Store, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.Default()
	}
	return &Engine{Store: s, Log: log, Now: func() time.Time { return time.Now().UTC() }, NewID: newUUID,
		TokenCache: MaxTokenCache, tokens: &tokenCache{}}
}

func newUUID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func (e *Engine) now() time.Time { return e.Now().UTC().Truncate(time.Microsecond) }

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// CreateTenant creates a tenant with the built-in roles.
func (e *Engine) CreateTenant(ctx context.Context, actor Actor, slug, name string, seats int) (*Tenant, error) {
	slug = strings.TrimSpace(slug)
	if !slugRE.MatchString(slug) {
		return nil, Invalid("slug", "must be 1-63 lower-case letters, digits or '-', not starting or ending with '-'")
	}
	if strings.TrimSpace(name) == "" {
		name = slug
	}
	if seats < 0 {
		return nil, Invalid("seats", "must not be negative")
	}
	now := e.now()
	t := &Tenant{ID: e.NewID(), Slug: slug, Name: strings.TrimSpace(name), SeatLimit: seats,
		Policy: Policy{InvitationTTL: Duration(DefaultInvitationTTL), DefaultRole: RoleAgent}, CreatedAt: now, UpdatedAt: now}
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		for _, r := range BuiltInRoles() {
			r.ID, r.TenantID, r.CreatedAt = e.NewID(), t.ID, now
			if err := tx.CreateRole(ctx, t.ID, &r); err != nil {
				return err
			}
		}
		return e.audit(ctx, tx, actor, t.ID, "tenant.create", "tenant", t.ID, nil, t)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// UpdateTenant changes a tenant's name, seat limit or policy. Lowering the limit below the
// seats in use is refused: seats are taken away from users explicitly, never implicitly.
func (e *Engine) UpdateTenant(ctx context.Context, actor Actor, id string, fn func(*Tenant) error) (*Tenant, error) {
	var out *Tenant
	err := e.Store.InTx(ctx, func(tx Tx) error {
		var before Tenant
		t, err := tx.UpdateTenant(ctx, id, func(t *Tenant) error {
			before = *t
			if err := fn(t); err != nil {
				return err
			}
			if t.SeatLimit < 0 {
				return Invalid("seatLimit", "must not be negative")
			}
			if t.SeatLimit < t.SeatsUsed {
				return Invalid("seatLimit", "%d seats are in use; unassign seats before lowering the limit to %d", t.SeatsUsed, t.SeatLimit)
			}
			t.UpdatedAt = e.now()
			return nil
		})
		if err != nil {
			return err
		}
		out = t
		return e.audit(ctx, tx, actor, id, "tenant.update", "tenant", id, &before, t)
	})
	return out, err
}

// TokenPrefix starts every Seatbridge API token so that secret scanners can spot leaked ones.
const TokenPrefix = "sbt_"

// CreateToken issues a bearer token. The returned secret is shown once; only its SHA-256
// is stored (the secret has 256 bits of entropy, so a slow hash adds nothing).
func (e *Engine) CreateToken(ctx context.Context, actor Actor, tenantID string, kind TokenKind, name string) (string, *APIToken, error) {
	if kind != TokenSCIM && kind != TokenAdmin {
		return "", nil, Invalid("kind", "must be %q or %q", TokenSCIM, TokenAdmin)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("token secret: %w", err)
	}
	id := strings.ReplaceAll(e.NewID(), "-", "")
	secret := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(secret))
	t := &APIToken{ID: id, TenantID: tenantID, Kind: kind, Name: strings.TrimSpace(name), SecretHash: sum[:], CreatedAt: e.now()}
	if t.Name == "" {
		t.Name = string(kind) + " token"
	}
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetTenant(ctx, tenantID); err != nil {
			return err
		}
		if err := tx.CreateToken(ctx, t); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "token.create", "token", id, nil, t)
	})
	if err != nil {
		return "", nil, err
	}
	return TokenPrefix + id + "_" + secret, t, nil
}

// RevokeToken makes a token unusable at once in this process, and in other replicas
// within MaxTokenCache.
func (e *Engine) RevokeToken(ctx context.Context, actor Actor, tenantID, id string) error {
	err := e.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.RevokeToken(ctx, tenantID, id, e.now()); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "token.revoke", "token", id, nil, nil)
	})
	// Forgotten whatever the outcome: a failed commit may still have revoked it.
	if e.tokens != nil {
		e.tokens.forget(id)
	}
	return err
}

// ErrBadToken is returned for any token that does not authenticate; callers answer 401
// without saying which check failed.
var ErrBadToken = errors.New("invalid bearer token")

// AuthenticateToken checks a presented bearer token of the wanted kind and returns it with
// its tenant. The secret is compared in constant time.
func (e *Engine) AuthenticateToken(ctx context.Context, presented string, kind TokenKind) (*APIToken, *Tenant, error) {
	rest, ok := strings.CutPrefix(presented, TokenPrefix)
	if !ok {
		return nil, nil, ErrBadToken
	}
	id, secret, ok := strings.Cut(rest, "_")
	// The text rule runs before the database sees the id: PostgreSQL refuses NUL bytes and
	// invalid UTF-8 with an error that must not become a 500 for an unauthenticated caller.
	if !ok || id == "" || secret == "" || TextProblem(id, 64) != "" {
		return nil, nil, ErrBadToken
	}
	ttl := min(e.TokenCache, MaxTokenCache)
	cacheable := kind == TokenSCIM && ttl > 0 && e.tokens != nil
	var t *APIToken
	var tenant *Tenant
	hit := false
	if cacheable {
		t, tenant, hit = e.tokens.get(id, ttl)
	}
	loadedAt := time.Now()
	if !hit {
		var err error
		t, tenant, err = e.Store.GetTokenTenant(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, nil, ErrBadToken
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load token: %w", err)
		}
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], t.SecretHash) != 1 || t.RevokedAt != nil || t.Kind != kind {
		return nil, nil, ErrBadToken
	}
	if cacheable && !hit {
		e.tokens.put(t, tenant, loadedAt, ttl)
	}
	// Last use is recorded at most once a minute per token: admins see which tokens are
	// alive ('token list') without a write on every request.
	if now := e.now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= tokenTouchEvery {
		if err := e.Store.InTx(ctx, func(tx Tx) error { return tx.TouchToken(ctx, t.ID, now) }); err != nil {
			return nil, nil, fmt.Errorf("touch token: %w", err)
		}
		t.LastUsedAt = &now
		if cacheable {
			e.tokens.touched(t.ID, now)
		}
	}
	return t, tenant, nil
}

// tokenTouchEvery is how stale a token's last-used time may get.
const tokenTouchEvery = time.Minute
