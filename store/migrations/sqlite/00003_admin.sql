-- +goose Up
-- Indexes for the admin users overview (see admin/bench_test.go). SQLite has no index for
-- substring search; the overview's sort by display name and its seat / status filters
-- get one each.
CREATE INDEX users_tenant_display ON users (tenant_id, lower(display_name), id);
CREATE INDEX users_tenant_seat ON users (tenant_id, seat, status, id);

-- +goose Down
DROP INDEX users_tenant_seat;
DROP INDEX users_tenant_display;
