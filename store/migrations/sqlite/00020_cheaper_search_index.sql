-- +goose Up
-- PostgreSQL replaces its five-column trigram index of the admin search by one over the
-- joined columns; SQLite has no trigram index (the search scans the tenant's users).
SELECT 1;

-- +goose Down
SELECT 1;
