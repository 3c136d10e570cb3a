-- +goose Up
-- Each consumer of the event log keeps its own place in it, per team, so
-- one never waits on another: the Redis stream relay ("stream") stops
-- while Redis is down, and the notify consumer ("notify": webhook
-- deliveries, emails; PostgreSQL only) goes on. A consumer reads a team's
-- events after its cursor, in id order, and moves the cursor in the same
-- transaction as what it did with them. An event is deleted once every
-- consumer's cursor has passed it.
CREATE TABLE team_event_cursors (
    team_id  uuid   NOT NULL,
    consumer text   NOT NULL,
    ms       bigint NOT NULL,
    seq      bigint NOT NULL,
    PRIMARY KEY (team_id, consumer)
);

-- +goose Down
DROP TABLE team_event_cursors;
