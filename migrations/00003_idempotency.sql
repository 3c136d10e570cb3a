-- +goose Up
-- Idempotency keys: the first response to a creating request, kept per
-- principal and key so that retries replay it (Stripe's semantics).
CREATE TABLE idempotency_keys (
    principal         text NOT NULL,
    key               text NOT NULL,
    method            text NOT NULL,
    path              text NOT NULL,
    fingerprint       bytea,            -- of the request, once it finished
    status            integer,          -- NULL while the first request runs
    response_headers  jsonb,
    response_body     bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
