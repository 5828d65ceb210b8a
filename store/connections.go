package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements the store contract's connections, identities and sessions, on conn
// (so the engine's sign-in runs in one transaction).

type connectionRow struct {
	ID        string `db:"id"`
	TenantID  string `db:"tenant_id"`
	Name      string `db:"name"`
	Type      string `db:"type"`
	Mode      string `db:"mode"`
	Domains   string `db:"domains"`
	Disabled  bool   `db:"disabled"`
	Config    string `db:"config"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

// connectionConfig is the JSON kept in connections.config.
type connectionConfig struct {
	SAML    *provisioning.SAMLSettings `json:"saml,omitempty"`
	OIDC    *provisioning.OIDCSettings `json:"oidc,omitempty"`
	Mapping provisioning.Mapping       `json:"mapping"`
}

func (r *connectionRow) connection() (*provisioning.Connection, error) { return r.decode(false) }

// decode builds the connection; cached says whether its config may come from (and go
// to) configCache: only single reads by ID (sign-ins) use it, not listings.
func (r *connectionRow) decode(cached bool) (*provisioning.Connection, error) {
	c := &provisioning.Connection{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Type: provisioning.ConnectionType(r.Type),
		Mode: provisioning.Mode(r.Mode), Disabled: r.Disabled, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.Domains), &c.Domains); err != nil {
		return nil, fmt.Errorf("connection %s domains: %w", r.ID, err)
	}
	var cfg connectionConfig
	var err error
	if cached {
		cfg, err = decodeConfig(r.ID, r.Config)
	} else {
		err = json.Unmarshal([]byte(r.Config), &cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("connection %s config: %w", r.ID, err)
	}
	c.SAML, c.OIDC, c.Mapping = cfg.SAML, cfg.OIDC, cfg.Mapping
	return c, nil
}

// configCache keeps the decoded config of each connection read, by connection ID, with
// the column's text it was decoded from. A SAML sign-in reads its connection twice (the
// door, then the login transaction), and decoding the JSON (IdP metadata, sealed key,
// certificate) was 3 % of a login's CPU. An entry is used only when the text read now is
// byte-for-byte the text it was decoded from, so an edit made on any replica shows at
// once; the cache holds nothing that is not in the row just read, and every caller gets
// its own copy (clone). One entry (a few kB) per connection read by ID in this process
// (GetConnection: sign-ins, settings pages; not listings), dropped when it is deleted here
// — the same bound as the SAML protocol's cache of parsed connections.
var configCache sync.Map // connection id → *decodedConfig

type decodedConfig struct {
	raw string
	cfg connectionConfig
}

func decodeConfig(id, raw string) (connectionConfig, error) {
	if v, ok := configCache.Load(id); ok && v.(*decodedConfig).raw == raw {
		return v.(*decodedConfig).cfg.clone(), nil
	}
	var cfg connectionConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return cfg, err
	}
	configCache.Store(id, &decodedConfig{raw: raw, cfg: cfg.clone()})
	return cfg, nil
}

// clone is a deep copy: callers may change the connection they were given (an edit
// builds on the one read), which must not reach the cache or another caller.
func (c connectionConfig) clone() connectionConfig {
	out := connectionConfig{Mapping: c.Mapping}
	if c.SAML != nil {
		s := *c.SAML
		s.SPKeySealed = slices.Clone(s.SPKeySealed)
		s.IdPCertificatesPEM = slices.Clone(s.IdPCertificatesPEM)
		out.SAML = &s
	}
	if c.OIDC != nil {
		o := *c.OIDC
		o.ClientSecretSealed = slices.Clone(o.ClientSecretSealed)
		o.Scopes = slices.Clone(o.Scopes)
		out.OIDC = &o
	}
	if c.Mapping.Rules != nil {
		out.Mapping.Rules = make([]provisioning.GroupRule, len(c.Mapping.Rules))
		for i, r := range c.Mapping.Rules {
			r.Roles, r.Teams = slices.Clone(r.Roles), slices.Clone(r.Teams)
			out.Mapping.Rules[i] = r
		}
	}
	return out
}

const connectionCols = `id, tenant_id, name, type, mode, domains, disabled, config, created_at, updated_at`

// connectionColumns encodes the JSON columns of a connection: its domains and its config.
func connectionColumns(x *provisioning.Connection) (domains, cfg []byte, err error) {
	if domains, err = json.Marshal(append([]string{}, x.Domains...)); err != nil {
		return nil, nil, fmt.Errorf("connection domains: %w", err)
	}
	if cfg, err = json.Marshal(connectionConfig{SAML: x.SAML, OIDC: x.OIDC, Mapping: x.Mapping}); err != nil {
		return nil, nil, fmt.Errorf("connection config: %w", err)
	}
	return domains, cfg, nil
}

func (c *conn) CreateConnection(ctx context.Context, x *provisioning.Connection) error {
	domains, cfg, err := connectionColumns(x)
	if err != nil {
		return err
	}
	_, err = c.exec(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.TenantID, x.Name, string(x.Type), string(x.Mode), string(domains), x.Disabled, string(cfg),
		micros(x.CreatedAt), micros(x.UpdatedAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "id", Value: x.ID}
	}
	if err != nil {
		return fmt.Errorf("create connection: %w", err)
	}
	return nil
}

func (c *conn) UpdateConnection(ctx context.Context, x *provisioning.Connection) error {
	domains, cfg, err := connectionColumns(x)
	if err != nil {
		return err
	}
	res, err := c.exec(ctx, `UPDATE connections SET name = ?, mode = ?, domains = ?, disabled = ?, config = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`, x.Name, string(x.Mode), string(domains), x.Disabled, string(cfg), micros(x.UpdatedAt),
		x.TenantID, x.ID)
	if err != nil {
		return fmt.Errorf("update connection: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("connection %s: %w", x.ID, provisioning.ErrNotFound)
	}
	return nil
}

func (c *conn) GetConnection(ctx context.Context, tenantID, id string) (*provisioning.Connection, error) {
	var r connectionRow
	if err := c.get(ctx, &r, `SELECT `+connectionCols+` FROM connections WHERE tenant_id = ? AND id = ?`, tenantID, id); err != nil {
		return nil, fmt.Errorf("connection %s: %w", id, err)
	}
	return r.decode(true)
}

func (c *conn) ListConnections(ctx context.Context, tenantID string) ([]provisioning.Connection, error) {
	var rows []connectionRow
	if err := c.selectx(ctx, &rows, `SELECT `+connectionCols+` FROM connections WHERE tenant_id = ? ORDER BY created_at, id`, tenantID); err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return fromRows(rows, (*connectionRow).connection)
}

func (c *conn) DeleteConnection(ctx context.Context, tenantID, id string) error {
	res, err := c.exec(ctx, `DELETE FROM connections WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("connection %s: %w", id, provisioning.ErrNotFound)
	}
	configCache.Delete(id)
	return nil
}

type identityRow struct {
	TenantID     string        `db:"tenant_id"`
	ConnectionID string        `db:"connection_id"`
	Subject      string        `db:"subject"`
	UserID       string        `db:"user_id"`
	CreatedAt    int64         `db:"created_at"`
	LastLoginAt  sql.NullInt64 `db:"last_login_at"`
}

func (c *conn) GetIdentity(ctx context.Context, tenantID, connectionID, subject string) (*provisioning.Identity, error) {
	var r identityRow
	if err := c.get(ctx, &r, `SELECT tenant_id, connection_id, subject, user_id, created_at, last_login_at FROM identities
		WHERE tenant_id = ? AND connection_id = ? AND subject = ?`, tenantID, connectionID, subject); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return &provisioning.Identity{TenantID: r.TenantID, ConnectionID: r.ConnectionID, Subject: r.Subject, UserID: r.UserID,
		CreatedAt: fromMicros(r.CreatedAt), LastLoginAt: fromOptMicros(r.LastLoginAt)}, nil
}

func (c *conn) ListUserIdentities(ctx context.Context, tenantID, userID string) ([]provisioning.Identity, error) {
	var rows []struct {
		identityRow
		Name string `db:"name"`
		Type string `db:"type"`
	}
	if err := c.selectx(ctx, &rows, `SELECT i.tenant_id, i.connection_id, i.subject, i.user_id, i.created_at, i.last_login_at, c.name, c.type
		FROM identities i JOIN connections c ON c.id = i.connection_id AND c.tenant_id = i.tenant_id
		WHERE i.tenant_id = ? AND i.user_id = ? ORDER BY i.created_at, i.connection_id`, tenantID, userID); err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	out := make([]provisioning.Identity, 0, len(rows))
	for _, r := range rows {
		out = append(out, provisioning.Identity{TenantID: r.TenantID, ConnectionID: r.ConnectionID, Subject: r.Subject, UserID: r.UserID,
			CreatedAt: fromMicros(r.CreatedAt), LastLoginAt: fromOptMicros(r.LastLoginAt),
			ConnectionName: r.Name, ConnectionType: provisioning.ConnectionType(r.Type)})
	}
	return out, nil
}

// LinkIdentity links (connection, subject) to a user, replacing a link left behind.
func (c *conn) LinkIdentity(ctx context.Context, id *provisioning.Identity) error {
	_, err := c.exec(ctx, `INSERT INTO identities (tenant_id, connection_id, subject, user_id, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (connection_id, subject) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at`,
		id.TenantID, id.ConnectionID, id.Subject, id.UserID, micros(id.CreatedAt))
	if err != nil {
		return fmt.Errorf("link identity: %w", err)
	}
	return nil
}

func (c *conn) TouchIdentity(ctx context.Context, tenantID, connectionID, subject string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE identities SET last_login_at = ? WHERE tenant_id = ? AND connection_id = ? AND subject = ?`,
		micros(at), tenantID, connectionID, subject); err != nil {
		return fmt.Errorf("touch identity: %w", err)
	}
	return nil
}

type sessionRow struct {
	ID           string        `db:"id"`
	TenantID     string        `db:"tenant_id"`
	UserID       string        `db:"user_id"`
	SecretHash   []byte        `db:"secret_hash"`
	ConnectionID string        `db:"connection_id"`
	AMR          string        `db:"amr"`
	CreatedAt    int64         `db:"created_at"`
	ExpiresAt    int64         `db:"expires_at"`
	EndedAt      sql.NullInt64 `db:"ended_at"`
}

func (c *conn) CreateSession(ctx context.Context, s *provisioning.Session) error {
	if _, err := c.exec(ctx, `INSERT INTO sessions (id, tenant_id, user_id, secret_hash, connection_id, amr, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.TenantID, s.UserID, s.SecretHash, s.ConnectionID, s.AMR,
		micros(s.CreatedAt), micros(s.ExpiresAt)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

func (c *conn) GetSession(ctx context.Context, id string) (*provisioning.Session, error) {
	var r sessionRow
	if err := c.get(ctx, &r, `SELECT id, tenant_id, user_id, secret_hash, connection_id, amr, created_at, expires_at, ended_at
		FROM sessions WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return &provisioning.Session{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, SecretHash: r.SecretHash,
		ConnectionID: r.ConnectionID, AMR: r.AMR, CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt),
		EndedAt: fromOptMicros(r.EndedAt)}, nil
}

func (c *conn) EndSession(ctx context.Context, id string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`, micros(at), id); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

func (c *conn) EndUserSessions(ctx context.Context, tenantID, userID string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE sessions SET ended_at = ? WHERE tenant_id = ? AND user_id = ? AND ended_at IS NULL`, micros(at), tenantID, userID); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// ListUserSessions returns the user's sessions open at now, newest first.
func (c *conn) ListUserSessions(ctx context.Context, tenantID, userID string, now time.Time) ([]provisioning.Session, error) {
	var rows []sessionRow
	if err := c.selectx(ctx, &rows, `SELECT id, tenant_id, user_id, secret_hash, connection_id, amr, created_at, expires_at, ended_at
		FROM sessions WHERE tenant_id = ? AND user_id = ? AND ended_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id LIMIT 200`,
		tenantID, userID, micros(now)); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]provisioning.Session, len(rows))
	for i, r := range rows {
		out[i] = provisioning.Session{ID: r.ID, TenantID: r.TenantID, UserID: r.UserID, ConnectionID: r.ConnectionID, AMR: r.AMR,
			CreatedAt: fromMicros(r.CreatedAt), ExpiresAt: fromMicros(r.ExpiresAt)}
	}
	return out, nil
}
