-- +goose Up
-- Every webhook attempt is a row of webhook_attempts, successes included (issue 16):
-- before, a delivery's successful attempt lived only in its own row (last_worker,
-- last_latency_ms, last_excerpt), so a replay overwrote it and the earlier success
-- vanished from the attempt list. Those kept successes become rows; the columns stay,
-- unused, for older binaries during a rolling upgrade.
INSERT INTO webhook_attempts (id, tenant_id, delivery_id, attempt, worker, status_code, latency_ms, error, response_excerpt, at)
SELECT 'wha_' || id || '_' || CAST(attempts AS TEXT), tenant_id, id, attempts, last_worker, last_status, last_latency_ms, '',
       last_excerpt, delivered_at
FROM webhook_deliveries WHERE delivered_at IS NOT NULL;

