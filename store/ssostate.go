package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's SSO protocol state (single-use states,
// assertion replay), OAuth clients and signing keys: work outside a caller's transaction,
// on DB.

type stateRow struct {
	Kind         string `db:"kind"`
	Key          string `db:"state_key"`
	TenantID     string `db:"tenant_id"`
	ConnectionID string `db:"connection_id"`
	SessionID    string `db:"session_id"`
	Data         string `db:"data"`
	CreatedAt    int64  `db:"created_at"`
	ExpiresAt    int64  `db:"expires_at"`
}

func (r *stateRow) state() *provisioning.AuthState {
	return &provisioning.AuthState{Kind: r.Kind, Key: r.Key, TenantID: r.TenantID, ConnectionID: r.ConnectionID,
		SessionID: r.SessionID, Data: []byte(r.Data), CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt)}
}

const stateCols = `kind, state_key, tenant_id, connection_id, session_id, data, created_at, expires_at`

func (db *DB) PutState(ctx context.Context, s *provisioning.AuthState) error {
	_, err := db.writer().exec(ctx, `INSERT INTO sso_states (`+stateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Kind, s.Key, s.TenantID, s.ConnectionID, s.SessionID, string(s.Data), micros(s.CreatedAt), micros(s.ExpiresAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "state", Value: s.Kind}
	}
	if err != nil {
		return fmt.Errorf("put %s state: %w", s.Kind, err)
	}
	return nil
}

func (db *DB) TakeState(ctx context.Context, kind, key string, now time.Time) (*provisioning.AuthState, error) {
	var r stateRow
	err := db.writer().get(ctx, &r, `DELETE FROM sso_states WHERE kind = ? AND state_key = ? RETURNING `+stateCols, kind, key)
	if err != nil {
		return nil, fmt.Errorf("take %s state: %w", kind, err)
	}
	if !now.Before(fromMicros(r.ExpiresAt)) {
		return nil, fmt.Errorf("take %s state: expired: %w", kind, provisioning.ErrNotFound)
	}
	return r.state(), nil
}

func (db *DB) GetState(ctx context.Context, kind, key string, now time.Time) (*provisioning.AuthState, error) {
	var r stateRow
	if err := db.get(ctx, &r, `SELECT `+stateCols+` FROM sso_states WHERE kind = ? AND state_key = ? AND expires_at > ?`,
		kind, key, micros(now)); err != nil {
		return nil, fmt.Errorf("get %s state: %w", kind, err)
	}
	return r.state(), nil
}

func (db *DB) DeleteSessionStates(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	if _, err := db.writer().exec(ctx, `DELETE FROM sso_states WHERE session_id = ?`, sessionID); err != nil {
		return fmt.Errorf("delete session states: %w", err)
	}
	return nil
}

func (db *DB) RememberAssertion(ctx context.Context, connectionID, assertionID string, expiresAt, now time.Time) error {
	return db.writer().RememberAssertion(ctx, connectionID, assertionID, expiresAt, now)
}

// RememberAssertion runs in the caller's transaction (the sign-in's), or alone on the
// write pool (DB.RememberAssertion).
func (c *conn) RememberAssertion(ctx context.Context, connectionID, assertionID string, expiresAt, now time.Time) error {
	// One statement: a new ID is inserted; an ID remembered before takes the new expiry
	// only when its old one has passed (its row is then stale), else nothing changes and
	// the assertion is a replay. The primary key makes it atomic against a concurrent use.
	res, err := c.exec(ctx, `INSERT INTO saml_assertions (connection_id, assertion_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (connection_id, assertion_id) DO UPDATE SET expires_at = excluded.expires_at
		WHERE saml_assertions.expires_at <= ?`, connectionID, assertionID, micros(expiresAt), micros(now))
	if err != nil {
		return fmt.Errorf("replay cache: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("replay cache: %w", err)
	} else if n == 0 {
		return fmt.Errorf("assertion %q seen before: %w", assertionID, provisioning.ErrConflict)
	}
	return nil
}

func (db *DB) PurgeExpired(ctx context.Context, now time.Time) error {
	w := db.writer()
	if _, err := w.exec(ctx, `DELETE FROM sso_states WHERE expires_at <= ?`, micros(now)); err != nil {
		return fmt.Errorf("purge states: %w", err)
	}
	if _, err := w.exec(ctx, `DELETE FROM saml_assertions WHERE expires_at <= ?`, micros(now)); err != nil {
		return fmt.Errorf("purge replay cache: %w", err)
	}
	return nil
}

type clientRow struct {
	ID          string `db:"id"`
	Name        string `db:"name"`
	SecretHash  []byte `db:"secret_hash"`
	Public      bool   `db:"public"`
	Redirects   string `db:"redirect_uris"`
	PostLogouts string `db:"post_logout_redirect_uris"`
	CreatedAt   int64  `db:"created_at"`
	Backchannel string `db:"backchannel_logout_uri"`
	IDTokenAlg  string `db:"id_token_alg"`
}

func (r *clientRow) client() (*provisioning.OAuthClient, error) {
	c := &provisioning.OAuthClient{ID: r.ID, Name: r.Name, SecretHash: r.SecretHash, Public: r.Public, CreatedAt: fromMicros(r.CreatedAt),
		BackchannelLogoutURI: r.Backchannel, IDTokenAlg: r.IDTokenAlg}
	if err := json.Unmarshal([]byte(r.Redirects), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("client %s redirect URIs: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.PostLogouts), &c.PostLogoutRedirectURIs); err != nil {
		return nil, fmt.Errorf("client %s post-logout URIs: %w", r.ID, err)
	}
	return c, nil
}

const clientCols = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris, created_at, backchannel_logout_uri, id_token_alg`

func (db *DB) CreateClient(ctx context.Context, c *provisioning.OAuthClient) error {
	red, err := json.Marshal(append([]string{}, c.RedirectURIs...))
	if err != nil {
		return err
	}
	pl, err := json.Marshal(append([]string{}, c.PostLogoutRedirectURIs...))
	if err != nil {
		return err
	}
	var secret any
	if c.SecretHash != nil {
		secret = c.SecretHash
	}
	_, err = db.writer().exec(ctx, `INSERT INTO oauth_clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, secret, c.Public, string(red), string(pl), micros(c.CreatedAt), c.BackchannelLogoutURI, idTokenAlg(c.IDTokenAlg))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "clientId", Value: c.ID}
	}
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

func (db *DB) GetClient(ctx context.Context, id string) (*provisioning.OAuthClient, error) {
	var r clientRow
	if err := db.get(ctx, &r, `SELECT `+clientCols+` FROM oauth_clients WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("client %s: %w", id, err)
	}
	return r.client()
}

func (db *DB) ListClients(ctx context.Context) ([]provisioning.OAuthClient, error) {
	var rows []clientRow
	if err := db.selectx(ctx, &rows, `SELECT `+clientCols+` FROM oauth_clients ORDER BY created_at, id`); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return fromRows(rows, (*clientRow).client)
}

// idTokenAlg is the stored ID token algorithm of a client: RS256 when it registered none.
func idTokenAlg(alg string) string {
	if alg == "" {
		return provisioning.DefaultIDTokenAlg
	}
	return alg
}

type keyRow struct {
	ID            string        `db:"id"`
	Alg           string        `db:"alg"`
	PrivateSealed []byte        `db:"private_sealed"`
	PublicJWK     string        `db:"public_jwk"`
	CreatedAt     int64         `db:"created_at"`
	RetiredAt     sql.NullInt64 `db:"retired_at"`
}

func (db *DB) AddSigningKey(ctx context.Context, k *provisioning.SigningKey) error {
	if _, err := db.writer().exec(ctx, `INSERT INTO signing_keys (id, alg, private_sealed, public_jwk, created_at, retired_at)
		VALUES (?, ?, ?, ?, ?, ?)`, k.ID, k.Alg, k.PrivateSealed, string(k.PublicJWK), micros(k.CreatedAt), optMicros(k.RetiredAt)); err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}

func (db *DB) ListSigningKeys(ctx context.Context, now time.Time) ([]provisioning.SigningKey, error) {
	var rows []keyRow
	if err := db.selectx(ctx, &rows, `SELECT id, alg, private_sealed, public_jwk, created_at, retired_at FROM signing_keys
		WHERE retired_at IS NULL OR retired_at > ? ORDER BY created_at DESC, id DESC`, micros(now)); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out := make([]provisioning.SigningKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, provisioning.SigningKey{ID: r.ID, Alg: r.Alg, PrivateSealed: r.PrivateSealed, PublicJWK: []byte(r.PublicJWK),
			CreatedAt: fromMicros(r.CreatedAt), RetiredAt: fromOptMicros(r.RetiredAt)})
	}
	return out, nil
}

func (db *DB) RetireSigningKeys(ctx context.Context, keepID string, at time.Time) error {
	if _, err := db.writer().exec(ctx, `UPDATE signing_keys SET retired_at = ?
		WHERE id <> ? AND alg = (SELECT alg FROM signing_keys WHERE id = ?) AND (retired_at IS NULL OR retired_at > ?)`,
		micros(at), keepID, keepID, micros(at)); err != nil {
		return fmt.Errorf("retire signing keys: %w", err)
	}
	return nil
}
