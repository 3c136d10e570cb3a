-- +goose Up
-- One event log, written in the transaction of the change it reports: a
-- team's events reach PostgreSQL or nothing does, whether or not Redis is
-- up at the commit. A relay (in the workers) feeds each team's Redis stream
-- from here, in (ms, seq) order, and deletes what it delivered.
--
-- An event's id is "ms-seq", stable from the commit on: ms is the commit's
-- wall clock in milliseconds (never below the team's previous event's),
-- seq counts the team's events within that millisecond. Both come from
-- team_event_clocks, whose row for the team each change updates last in its
-- transaction: the row lock orders a team's events by commit, so a relay
-- reading in id order never sees a later id commit before an earlier one.
CREATE TABLE team_event_clocks (
    team_id uuid PRIMARY KEY,
    ms      bigint NOT NULL,
    seq     bigint NOT NULL
);

CREATE TABLE team_events (
    team_id    uuid        NOT NULL,
    ms         bigint      NOT NULL,
    seq        bigint      NOT NULL,
    type       text        NOT NULL,
    -- The event in the versioned wire encoding (internal/events/wire.go).
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (team_id, ms, seq)
);
CREATE INDEX team_events_created_idx ON team_events (created_at);

-- +goose Down
DROP TABLE team_events;
DROP TABLE team_event_clocks;
