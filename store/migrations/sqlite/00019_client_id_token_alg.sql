-- +goose Up
-- The JWS algorithm of a client's ID tokens (id_token_signed_response_alg): RS256, the
-- default every client had so far, or ES256. Signing keys already carry their own alg.
ALTER TABLE oauth_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN id_token_alg;
