-- +goose Up
-- Times are unix microseconds (BIGINT) in both dialects: one encoding, exact ordering, no
-- driver time-zone surprises.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    seat_limit  INTEGER NOT NULL CHECK (seat_limit >= 0),
    seats_used  INTEGER NOT NULL DEFAULT 0 CHECK (seats_used >= 0 AND seats_used <= seat_limit),
    policy      TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('scim', 'admin')),
    name         TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name          TEXT NOT NULL,
    user_name_key      TEXT NOT NULL,
    email_key          TEXT NOT NULL DEFAULT '',
    external_id        TEXT NOT NULL DEFAULT '',
    name_formatted     TEXT NOT NULL DEFAULT '',
    family_name        TEXT NOT NULL DEFAULT '',
    given_name         TEXT NOT NULL DEFAULT '',
    middle_name        TEXT NOT NULL DEFAULT '',
    honorific_prefix   TEXT NOT NULL DEFAULT '',
    honorific_suffix   TEXT NOT NULL DEFAULT '',
    display_name       TEXT NOT NULL DEFAULT '',
    nick_name          TEXT NOT NULL DEFAULT '',
    profile_url        TEXT NOT NULL DEFAULT '',
    title              TEXT NOT NULL DEFAULT '',
    user_type          TEXT NOT NULL DEFAULT '',
    preferred_language TEXT NOT NULL DEFAULT '',
    locale             TEXT NOT NULL DEFAULT '',
    timezone           TEXT NOT NULL DEFAULT '',
    business_unit      TEXT NOT NULL DEFAULT '',
    employee_number    TEXT NOT NULL DEFAULT '',
    cost_center        TEXT NOT NULL DEFAULT '',
    organization       TEXT NOT NULL DEFAULT '',
    division           TEXT NOT NULL DEFAULT '',
    department         TEXT NOT NULL DEFAULT '',
    manager_id         TEXT NOT NULL DEFAULT '',
    addresses          TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
    source             TEXT NOT NULL,
    managed_by_idp     BOOLEAN NOT NULL DEFAULT FALSE,
    seat               BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash      TEXT NOT NULL DEFAULT '',
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    last_login_at      BIGINT
);
CREATE UNIQUE INDEX users_tenant_user_name ON users (tenant_id, user_name_key);
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, email_key) WHERE email_key <> '';
CREATE INDEX users_tenant_id ON users (tenant_id, id);
CREATE INDEX users_tenant_external_id ON users (tenant_id, external_id) WHERE external_id <> '';
CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);
CREATE INDEX users_tenant_updated ON users (tenant_id, updated_at, id);

-- Simple multi-valued attributes (emails, phoneNumbers, ims, photos, entitlements, roles,
-- x509Certificates): rows, so that SCIM value-path filters become EXISTS sub-queries.
CREATE TABLE user_values (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    attr       TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    value      TEXT NOT NULL DEFAULT '',
    value_key  TEXT NOT NULL DEFAULT '',
    display    TEXT NOT NULL DEFAULT '',
    type       TEXT NOT NULL DEFAULT '',
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, attr, idx)
);
CREATE INDEX user_values_lookup ON user_values (tenant_id, attr, value_key);

CREATE TABLE groups (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id      TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX groups_tenant_id ON groups (tenant_id, id);
CREATE INDEX groups_tenant_name ON groups (tenant_id, display_name_key);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    built_in    BOOLEAN NOT NULL DEFAULT FALSE,
    permissions TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name_key)
);

CREATE TABLE user_roles (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id   TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    source    TEXT NOT NULL DEFAULT 'admin',
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name_key)
);

CREATE TABLE team_members (
    tenant_id TEXT NOT NULL,
    team_id   TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source    TEXT NOT NULL DEFAULT 'admin',
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_name  TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT,
    ip          TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id, id);

CREATE TABLE login_events (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL DEFAULT '',
    connection_id TEXT NOT NULL DEFAULT '',
    method        TEXT NOT NULL,
    result        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    ip            TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    at            BIGINT NOT NULL
);
CREATE INDEX login_events_tenant ON login_events (tenant_id, id);
CREATE INDEX login_events_user ON login_events (tenant_id, user_id, id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_hash BYTEA NOT NULL,
    amr         TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

-- A user deleted by the directory stays deleted: SSO never recreates it (JIT included).
CREATE TABLE tombstones (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name_key TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    deleted_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_name_key)
);

-- +goose Down
DROP TABLE tombstones;
DROP TABLE sessions;
DROP TABLE login_events;
DROP TABLE audit_events;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE user_roles;
DROP TABLE roles;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_values;
DROP TABLE users;
DROP TABLE api_tokens;
DROP TABLE tenants;
