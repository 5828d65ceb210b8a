-- +goose Up
-- SSO: connections of a tenant, identity links, and the protocol state every replica must
-- see (SAML request IDs, OIDC state / nonce / PKCE verifier, authorization codes, access
-- tokens, the assertion replay cache), OAuth clients and ID token signing keys.
CREATE TABLE connections (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL CHECK (type IN ('saml', 'oidc')),
    mode       TEXT NOT NULL CHECK (mode IN ('jit', 'pre_provisioned', 'directory')),
    domains    TEXT NOT NULL DEFAULT '[]',
    disabled   INTEGER NOT NULL DEFAULT 0,
    config     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX connections_tenant ON connections (tenant_id);

CREATE TABLE identities (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT,
    PRIMARY KEY (connection_id, subject)
);
CREATE INDEX identities_user ON identities (user_id);

ALTER TABLE sessions ADD COLUMN connection_id TEXT NOT NULL DEFAULT '';

CREATE TABLE sso_states (
    kind          TEXT NOT NULL,
    state_key     TEXT NOT NULL,
    tenant_id     TEXT NOT NULL DEFAULT '',
    connection_id TEXT NOT NULL DEFAULT '',
    session_id    TEXT NOT NULL DEFAULT '',
    data          TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (kind, state_key)
);
CREATE INDEX sso_states_expires ON sso_states (expires_at);
CREATE INDEX sso_states_session ON sso_states (session_id);

CREATE TABLE saml_assertions (
    connection_id TEXT NOT NULL,
    assertion_id  TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX saml_assertions_expires ON saml_assertions (expires_at);

CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BLOB,
    public                    INTEGER NOT NULL DEFAULT 0,
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    created_at                BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    private_sealed BLOB NOT NULL,
    public_jwk     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE oauth_clients;
DROP TABLE saml_assertions;
DROP TABLE sso_states;
ALTER TABLE sessions DROP COLUMN connection_id;
DROP TABLE identities;
DROP TABLE connections;
