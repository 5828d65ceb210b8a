-- +goose Up
-- Teams given when an admin created a local user or sent an invitation were stored with
-- source 'invite', which the admin API could not remove; they are the admin's grants.
UPDATE team_members SET source = 'admin' WHERE source = 'invite';
