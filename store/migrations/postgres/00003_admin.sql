-- +goose Up
-- Indexes for the admin users overview (measured on a 100,000-user tenant, see
-- admin/bench_test.go). The search box matches substrings (LIKE '%q%') of five columns:
-- only a trigram index serves that without scanning the tenant, and one GIN index over
-- the five expressions lets the planner OR their bitmaps. pg_trgm is a trusted extension
-- (PostgreSQL 13+); it goes to public so that every schema of the database finds it.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE INDEX users_search_trgm ON users USING gin (
    user_name_key public.gin_trgm_ops, email_key public.gin_trgm_ops, lower(display_name) public.gin_trgm_ops,
    lower(given_name) public.gin_trgm_ops, lower(family_name) public.gin_trgm_ops);
-- The overview sorts by display name (the store sorts strings by lower()).
CREATE INDEX users_tenant_display ON users (tenant_id, lower(display_name), id);
-- "Platform users without a seat" and the status filters count with an index-only scan.
CREATE INDEX users_tenant_seat ON users (tenant_id, seat, status, id);

-- +goose Down
DROP INDEX users_tenant_seat;
DROP INDEX users_tenant_display;
DROP INDEX users_search_trgm;
