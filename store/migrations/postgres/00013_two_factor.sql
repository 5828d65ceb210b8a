-- +goose Up
-- Second factors of password sign-in: one TOTP authenticator per user (RFC 6238). The
-- secret is sealed (internal/secretbox); recovery codes are kept as SHA-256 hashes (they
-- are random, so a fast hash suffices, as for tokens). confirmed_at is NULL while an
-- enrolment waits for its first code. last_step is the newest time step accepted, so a
-- code cannot be replayed. Numbered 00013 (the issue) so that parallel branches' migrations
-- do not collide; goose runs them out of order.
CREATE TABLE two_factor (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    totp_secret    BYTEA NOT NULL,
    confirmed_at   BIGINT,
    last_step      BIGINT NOT NULL DEFAULT 0,
    recovery_codes TEXT NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id)
);
CREATE INDEX two_factor_tenant ON two_factor (tenant_id);

-- +goose Down
DROP TABLE two_factor;
