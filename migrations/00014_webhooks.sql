-- +goose Up
-- Webhook endpoints of a team (Standard Webhooks). The secret is kept as
-- its "whsec_" form: it signs every delivery, so it cannot be hashed.
-- During a rotation's grace the replaced secret signs too.
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    team_id         uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    event_types     text[] NOT NULL,
    secret          text NOT NULL,
    previous_secret text,
    rotated_at      timestamptz,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text,
    disabled_at     timestamptz,
    -- Set at the first failed attempt after a success (or since the
    -- start); an endpoint failing for too long is disabled.
    failing_since   timestamptz,
    -- The managers are still to be told that the endpoint was disabled
    -- (an outbox of one: sent by a worker, at least once).
    notice_due      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_team_idx ON webhook_endpoints (team_id, id DESC);
CREATE INDEX webhook_endpoints_notice_idx ON webhook_endpoints (id) WHERE notice_due;

-- One message to one endpoint: an event the endpoint subscribes to (fanned
-- out from the event log), or a test. msg_id is its webhook-id, the same on
-- every attempt. A pending delivery is due at next_attempt_at; a worker
-- that claims it moves next_attempt_at past the attempt's timeout (a
-- lease), so a worker killed mid-attempt leaves it due again.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    team_id         uuid NOT NULL,
    msg_id          text NOT NULL,
    event_type      text NOT NULL,
    -- The body, {"type", "timestamp", "data"}, exactly as signed and sent.
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- attempts counts every attempt (their rows are numbered by it);
    -- step counts those since the delivery was last queued (it picks the
    -- retry's delay; a redelivery starts the schedule again).
    attempts        int NOT NULL DEFAULT 0,
    step            int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (endpoint_id, created_at) WHERE status = 'failed';

-- Each attempt of a delivery: when, the answer's status (null: no answer,
-- see error), how long it took and the first KiB of the answer's body.
CREATE TABLE webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    n           int NOT NULL,
    at          timestamptz NOT NULL,
    status_code int,
    duration_ms int NOT NULL,
    response    text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
