-- +goose Up
-- Set-up links: a single-tenant link handed to the customer's IT admin (only the token's
-- SHA-256 is kept), with the wizard's progress. Provisioning log: the last SCIM requests
-- of each token, redacted and size-capped, purged after the retention.
CREATE TABLE setup_links (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_hash BLOB NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    progress    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX setup_links_tenant ON setup_links (tenant_id);

CREATE TABLE provisioning_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    token_id   TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    status     INTEGER NOT NULL,
    latency_us BIGINT NOT NULL,
    scim_type  TEXT NOT NULL DEFAULT '',
    error      TEXT NOT NULL DEFAULT '',
    request    TEXT NOT NULL DEFAULT '',
    response   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX provisioning_log_tenant_at ON provisioning_log (tenant_id, at);
CREATE INDEX provisioning_log_at ON provisioning_log (at);

-- +goose Down
DROP TABLE provisioning_log;
DROP TABLE setup_links;
