-- +goose Up
-- PostgreSQL numbers events after commit through a queue table; SQLite has one writer,
-- so its transactions keep numbering their events themselves (store/events.go).
SELECT 1;

-- +goose Down
SELECT 1;
