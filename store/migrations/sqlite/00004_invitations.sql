-- +goose Up
-- Invitations, local password accounts, the mail outbox and the suppression list.
--
-- An invitation keeps only a SHA-256 of its token. "expired" is not stored: it is a
-- pending invitation whose expires_at has passed, so no job has to flip it. user_id has no
-- foreign key on purpose: revoking deletes the invited user, and the revoked invitation
-- must still answer "revoked" for its token.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,
    display_name    TEXT NOT NULL DEFAULT '',
    roles           TEXT NOT NULL DEFAULT '[]',
    teams           TEXT NOT NULL DEFAULT '[]',
    seat            INTEGER NOT NULL DEFAULT 0,
    token_hash      BLOB NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    expires_at      BIGINT NOT NULL,
    sent_count      INTEGER NOT NULL DEFAULT 0,
    delivery_status TEXT NOT NULL DEFAULT '',
    delivery_error  TEXT NOT NULL DEFAULT '',
    invited_by      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    revoked_at      BIGINT
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_pending_email ON invitations (tenant_id, email_key) WHERE state = 'pending';
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at, id);
CREATE INDEX invitations_user ON invitations (tenant_id, user_id);

-- Local password accounts: the hash stays in users.password_hash; this row holds what only
-- password sign-in needs, kept in the database so lockout holds across replicas.
CREATE TABLE local_accounts (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    platform_role       TEXT NOT NULL DEFAULT 'user' CHECK (platform_role IN ('user', 'password_restricted')),
    must_change         INTEGER NOT NULL DEFAULT 0,
    failed_count        INTEGER NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    last_failed_at      BIGINT,
    password_changed_at BIGINT,
    PRIMARY KEY (user_id)
);
CREATE INDEX local_accounts_tenant ON local_accounts (tenant_id);

-- The transactional outbox: a message is inserted in the transaction of the change that
-- causes it and delivered by a worker. payload is sealed (it carries invitation links and
-- temporary passwords) and wiped once the message is final.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    ref_id          TEXT NOT NULL DEFAULT '',
    recipient       TEXT NOT NULL,
    recipient_key   TEXT NOT NULL,
    payload         BLOB,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'suppressed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT NOT NULL DEFAULT '',
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_ref ON mail_outbox (tenant_id, ref_id);

-- Addresses whose mail server refused our mail permanently (5xx). No mail goes to them
-- until an admin of the tenant clears the entry.
CREATE TABLE mail_suppressions (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email_key  TEXT NOT NULL,
    email      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, email_key)
);

-- +goose Down
DROP TABLE mail_suppressions;
DROP TABLE mail_outbox;
DROP TABLE local_accounts;
DROP TABLE invitations;
