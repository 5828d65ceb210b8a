package provisioning

import (
	"context"
	"time"
)

// TwoFactor is a user's TOTP authenticator (RFC 6238). SecretSealed is the base32 secret
// sealed by the Accounts' Sealer; RecoveryHashes are SHA-256 hex digests of the unused
// recovery codes. ConfirmedAt is nil while the enrolment waits for its first code.
type TwoFactor struct {
	TenantID       string
	UserID         string
	SecretSealed   []byte
	ConfirmedAt    *time.Time
	LastStep       int64
	RecoveryHashes []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Enabled reports whether the authenticator is confirmed and so asked for at sign-in.
func (t *TwoFactor) Enabled() bool { return t != nil && t.ConfirmedAt != nil }

// TwoFactorReader reads second factors; store.DB implements it.
type TwoFactorReader interface {
	// GetTwoFactor returns ErrNotFound when the user has none.
	GetTwoFactor(ctx context.Context, tenantID, userID string) (*TwoFactor, error)
}

// TwoFactorTx changes second factors inside a transaction.
type TwoFactorTx interface {
	TwoFactorReader
	// UpdateTwoFactor locks (or creates) the user's second factor and applies fn.
	UpdateTwoFactor(ctx context.Context, tenantID, userID string, fn func(*TwoFactor) error) (*TwoFactor, error)
	// DeleteTwoFactor removes it; a missing one is not an error.
	DeleteTwoFactor(ctx context.Context, tenantID, userID string) error
}
