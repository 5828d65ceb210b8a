-- +goose Up
-- The admin console sorts the users list by last sign-in, never-signed-in users counting as
-- oldest: the expression is the one store/filter.go sorts by, so the index serves the
-- first pages (and the keyset) without sorting the tenant.
CREATE INDEX users_tenant_last_login ON users (tenant_id, (COALESCE(last_login_at, 0)), id);

-- +goose Down
DROP INDEX users_tenant_last_login;
