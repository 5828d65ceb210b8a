-- +goose Up
-- Events, webhooks and back-channel logout (issue 16).
--
-- events: the typed, per-tenant ordered record of every change, written in the change's
-- transaction. seq comes from event_cursors, whose row the writing transaction locks
-- until it commits: a transaction holding a lower seq always commits before one holding a
-- higher seq can take its number, so a reader that has seen seq N never later finds a
-- committed N-1 (no lost events). The store takes the number as the last statement of the
-- transaction so the lock is held only for the commit.
CREATE TABLE event_cursors (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL
);
CREATE TABLE events (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX events_created ON events (created_at);

-- Webhook endpoints: secrets holds the sealed signing secrets (JSON list, newest first;
-- two during a rotation). cursor is the last event seq fanned out into deliveries.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_filter    TEXT NOT NULL DEFAULT '[]',
    secrets         BYTEA NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('active', 'disabled')),
    disabled_reason TEXT NOT NULL DEFAULT '',
    cursor          BIGINT NOT NULL DEFAULT 0,
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at, id);

-- One delivery per (endpoint, event); user_key orders deliveries of one user.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_seq       BIGINT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    user_key        TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT NOT NULL DEFAULT '',
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    -- The successful attempt is logged here rather than in webhook_attempts: one row
    -- written per delivery instead of two on the common path.
    last_worker     TEXT NOT NULL DEFAULT '',
    last_latency_ms BIGINT NOT NULL DEFAULT 0,
    last_excerpt    TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (endpoint_id, event_seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_user ON webhook_deliveries (endpoint_id, user_key, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Every failed attempt: status, latency and a response excerpt (a delivery's successful
-- attempt is in its row).
CREATE TABLE webhook_attempts (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    worker           TEXT NOT NULL DEFAULT '',
    status_code      INTEGER NOT NULL DEFAULT 0,
    latency_ms       BIGINT NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    response_excerpt TEXT NOT NULL DEFAULT '',
    at               BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

-- Back-channel logouts to send: written in the transaction that deactivates, deletes,
-- unseats or signs out the user; the OIDC provider's worker sends them.
CREATE TABLE logout_outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    session_id      TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT NOT NULL DEFAULT '',
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);
CREATE INDEX logout_outbox_due ON logout_outbox (status, next_attempt_at);

-- Broker sinks (NATS JetStream): per sink and tenant, the last event seq published.
-- Rows are leased (claimed_by / claimed_until) so a worker never holds a transaction, and
-- SQLite's single writer, while it talks to the broker.
CREATE TABLE event_sinks (
    sink          TEXT NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    cursor        BIGINT NOT NULL DEFAULT 0,
    claimed_by    TEXT NOT NULL DEFAULT '',
    claimed_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (sink, tenant_id)
);

ALTER TABLE oauth_clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN backchannel_logout_uri;
DROP TABLE event_sinks;
DROP TABLE logout_outbox;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
DROP TABLE event_cursors;
