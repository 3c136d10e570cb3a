-- +goose Up
-- A user invited by email before they ever called the API is a placeholder
-- with an empty issuer; their first token with that email claims the row
-- (issuer and subject are filled in), so their id never changes.
CREATE UNIQUE INDEX users_pending_email_idx ON users (lower(email)) WHERE issuer = '';
CREATE INDEX users_email_idx ON users (lower(email));

-- API keys for partners' machines: one team, one role, stored as a hash.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    team_id       uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('member', 'viewer')),
    prefix        text NOT NULL UNIQUE,
    secret_hash   bytea NOT NULL,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_team_idx ON api_keys (team_id, id DESC);

-- Who did what in a team; written in the transaction of the change.
CREATE TABLE audit_events (
    id           uuid PRIMARY KEY,
    team_id      uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    actor_type   text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id     text NOT NULL,
    actor_name   text NOT NULL DEFAULT '',
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_team_idx ON audit_events (team_id, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP INDEX users_email_idx;
DROP INDEX users_pending_email_idx;
