package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// This file implements connections, identities and sessions on conn (so the engine's
// login runs in one transaction) and the SSO protocol state on DB.

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

func (r *connectionRow) connection() (*provisioning.Connection, error) {
	c := &provisioning.Connection{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Type: provisioning.ConnectionType(r.Type),
		Mode: provisioning.Mode(r.Mode), Disabled: r.Disabled, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.Domains), &c.Domains); err != nil {
		return nil, fmt.Errorf("connection %s domains: %w", r.ID, err)
	}
	var cfg connectionConfig
	if err := json.Unmarshal([]byte(r.Config), &cfg); err != nil {
		return nil, fmt.Errorf("connection %s config: %w", r.ID, err)
	}
	c.SAML, c.OIDC, c.Mapping = cfg.SAML, cfg.OIDC, cfg.Mapping
	return c, nil
}

const connectionCols = `id, tenant_id, name, type, mode, domains, disabled, config, created_at, updated_at`

func (c *conn) CreateConnection(ctx context.Context, x *provisioning.Connection) error {
	domains, err := json.Marshal(append([]string{}, x.Domains...))
	if err != nil {
		return fmt.Errorf("connection domains: %w", err)
	}
	cfg, err := json.Marshal(connectionConfig{SAML: x.SAML, OIDC: x.OIDC, Mapping: x.Mapping})
	if err != nil {
		return fmt.Errorf("connection config: %w", err)
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
	domains, err := json.Marshal(append([]string{}, x.Domains...))
	if err != nil {
		return fmt.Errorf("connection domains: %w", err)
	}
	cfg, err := json.Marshal(connectionConfig{SAML: x.SAML, OIDC: x.OIDC, Mapping: x.Mapping})
	if err != nil {
		return fmt.Errorf("connection config: %w", err)
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
	return r.connection()
}

func (c *conn) ListConnections(ctx context.Context, tenantID string) ([]provisioning.Connection, error) {
	var rows []connectionRow
	if err := c.selectx(ctx, &rows, `SELECT `+connectionCols+` FROM connections WHERE tenant_id = ? ORDER BY created_at, id`, tenantID); err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	out := make([]provisioning.Connection, 0, len(rows))
	for i := range rows {
		x, err := rows[i].connection()
		if err != nil {
			return nil, err
		}
		out = append(out, *x)
	}
	return out, nil
}

func (c *conn) DeleteConnection(ctx context.Context, tenantID, id string) error {
	res, err := c.exec(ctx, `DELETE FROM connections WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("connection %s: %w", id, provisioning.ErrNotFound)
	}
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

func (c *conn) TouchLastLogin(ctx context.Context, tenantID, userID string, at time.Time) error {
	if _, err := c.exec(ctx, `UPDATE users SET last_login_at = ? WHERE tenant_id = ? AND id = ?`, micros(at), tenantID, userID); err != nil {
		return fmt.Errorf("touch last login: %w", err)
	}
	return nil
}

func (c *conn) FindUsersByEmail(ctx context.Context, tenantID, emailKey string) ([]provisioning.User, error) {
	emailKey = provisioning.FoldKey(emailKey)
	if !strings.Contains(emailKey, "@") {
		// SCIM stores e-mail values without "@" as the directory sends them; such a value
		// is no address, so it never links a sign-in nor counts as an address in use.
		return nil, nil
	}
	var ids []string
	if err := c.selectx(ctx, &ids, `SELECT u.id FROM users u WHERE u.tenant_id = ? AND (u.email_key = ? OR u.user_name_key = ?
		OR u.id IN (SELECT v.user_id FROM user_values v WHERE v.tenant_id = ? AND v.attr = 'emails' AND v.value_key = ?))
		ORDER BY u.id`, tenantID, emailKey, emailKey, tenantID, emailKey); err != nil {
		return nil, fmt.Errorf("find users by e-mail: %w", err)
	}
	out := make([]provisioning.User, 0, len(ids))
	for _, id := range ids {
		u, err := c.GetUser(ctx, tenantID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

func (c *conn) SetSourcedRoles(ctx context.Context, tenantID, userID, source string, roleIDs []string) error {
	if source == "admin" {
		return errors.New("set sourced roles: the admin source is managed by SetUserRoles")
	}
	if _, err := c.exec(ctx, `DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ? AND source = ?`, tenantID, userID, source); err != nil {
		return fmt.Errorf("clear sourced roles: %w", err)
	}
	for _, id := range dedupe(roleIDs) {
		if _, err := c.exec(ctx, `INSERT INTO user_roles (tenant_id, user_id, role_id, source)
			SELECT ?, ?, r.id, ? FROM roles r WHERE r.tenant_id = ? AND r.id = ? ON CONFLICT (user_id, role_id) DO NOTHING`,
			tenantID, userID, source, tenantID, id); err != nil {
			return fmt.Errorf("grant sourced role: %w", err)
		}
	}
	return nil
}

func (c *conn) SetSourcedTeams(ctx context.Context, tenantID, userID, source string, teamIDs []string) error {
	if source == "admin" {
		return errors.New("set sourced teams: the admin source is not managed here")
	}
	if _, err := c.exec(ctx, `DELETE FROM team_members WHERE tenant_id = ? AND user_id = ? AND source = ?`, tenantID, userID, source); err != nil {
		return fmt.Errorf("clear sourced teams: %w", err)
	}
	for _, id := range dedupe(teamIDs) {
		if _, err := c.exec(ctx, `INSERT INTO team_members (tenant_id, team_id, user_id, source)
			SELECT ?, t.id, ?, ? FROM teams t WHERE t.tenant_id = ? AND t.id = ? ON CONFLICT (team_id, user_id) DO NOTHING`,
			tenantID, userID, source, tenantID, id); err != nil {
			return fmt.Errorf("add sourced team: %w", err)
		}
	}
	return nil
}

type teamRow struct {
	ID          string `db:"id"`
	TenantID    string `db:"tenant_id"`
	Name        string `db:"name"`
	Description string `db:"description"`
	Members     int    `db:"members"`
	CreatedAt   int64  `db:"created_at"`
	UpdatedAt   int64  `db:"updated_at"`
}

// ListTeams lists the tenant's teams. (Named so that a later team store in another file
// can take it over; kept here because the SSO group mapping needs it first.)
func (c *conn) ListTeams(ctx context.Context, tenantID string) ([]provisioning.Team, error) {
	var rows []teamRow
	if err := c.selectx(ctx, &rows, `SELECT t.id, t.tenant_id, t.name, t.description, t.created_at, t.updated_at,
		(SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members
		FROM teams t WHERE t.tenant_id = ? ORDER BY t.name_key`, tenantID); err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	out := make([]provisioning.Team, 0, len(rows))
	for _, r := range rows {
		out = append(out, provisioning.Team{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Description: r.Description,
			MemberCount: r.Members, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)})
	}
	return out, nil
}

func (c *conn) CreateTeam(ctx context.Context, tenantID string, t *provisioning.Team) error {
	_, err := c.exec(ctx, `INSERT INTO teams (id, tenant_id, name, name_key, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, tenantID, t.Name, provisioning.FoldKey(t.Name), t.Description, micros(t.CreatedAt), micros(t.UpdatedAt))
	if errors.Is(err, errUnique) {
		return &provisioning.ConflictError{Field: "name", Value: t.Name}
	}
	if err != nil {
		return fmt.Errorf("create team: %w", err)
	}
	t.TenantID = tenantID
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

// writer returns a conn on the write pool for single statements outside InTx. On SQLite
// it must not be used while a transaction of the same DB is open in the same goroutine.
func (db *DB) writer() *conn { return &conn{ext: db.write, d: db.dialect} }

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
	w := db.writer()
	if _, err := w.exec(ctx, `DELETE FROM saml_assertions WHERE connection_id = ? AND assertion_id = ? AND expires_at <= ?`,
		connectionID, assertionID, micros(now)); err != nil {
		return fmt.Errorf("replay cache: %w", err)
	}
	_, err := w.exec(ctx, `INSERT INTO saml_assertions (connection_id, assertion_id, expires_at) VALUES (?, ?, ?)`,
		connectionID, assertionID, micros(expiresAt))
	if errors.Is(err, errUnique) {
		return fmt.Errorf("assertion %q seen before: %w", assertionID, provisioning.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("replay cache: %w", err)
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
}

func (r *clientRow) client() (*provisioning.OAuthClient, error) {
	c := &provisioning.OAuthClient{ID: r.ID, Name: r.Name, SecretHash: r.SecretHash, Public: r.Public, CreatedAt: fromMicros(r.CreatedAt),
		BackchannelLogoutURI: r.Backchannel}
	if err := json.Unmarshal([]byte(r.Redirects), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("client %s redirect URIs: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.PostLogouts), &c.PostLogoutRedirectURIs); err != nil {
		return nil, fmt.Errorf("client %s post-logout URIs: %w", r.ID, err)
	}
	return c, nil
}

const clientCols = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris, created_at, backchannel_logout_uri`

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
	_, err = db.writer().exec(ctx, `INSERT INTO oauth_clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, secret, c.Public, string(red), string(pl), micros(c.CreatedAt), c.BackchannelLogoutURI)
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
	out := make([]provisioning.OAuthClient, 0, len(rows))
	for i := range rows {
		c, err := rows[i].client()
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
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
	if _, err := db.writer().exec(ctx, `UPDATE signing_keys SET retired_at = ? WHERE id <> ? AND (retired_at IS NULL OR retired_at > ?)`,
		micros(at), keepID, micros(at)); err != nil {
		return fmt.Errorf("retire signing keys: %w", err)
	}
	return nil
}
