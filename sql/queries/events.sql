-- name: LogTeamEvents :exec
-- Logs a team's events, in the order given, under ids "ms-seq" after the
-- team's last: ms is the wall clock (never going back), seq counts within
-- it. The team's clock row stays locked until the transaction ends, so a
-- team's events are numbered in commit order; writers log last in their
-- transactions, in the round trip that commits (store.writeEvents), so the
-- lock is held for as short a time as the commit itself.
WITH tick AS (
    INSERT INTO team_event_clocks AS c (team_id, ms, seq)
    VALUES (sqlc.arg('team_id')::uuid, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint,
        cardinality(sqlc.arg('types')::text[])::bigint - 1)
    ON CONFLICT (team_id) DO UPDATE SET
        ms = greatest(c.ms, excluded.ms),
        seq = CASE WHEN excluded.ms > c.ms THEN excluded.seq ELSE c.seq + excluded.seq + 1 END
    RETURNING ms, seq
)
INSERT INTO team_events (team_id, ms, seq, type, payload)
SELECT sqlc.arg('team_id')::uuid, tick.ms, tick.seq - (cardinality(sqlc.arg('types')::text[]) - e.ord),
    e.type, (sqlc.arg('payloads')::text[])[e.ord]::jsonb
FROM tick, unnest(sqlc.arg('types')::text[]) WITH ORDINALITY AS e(type, ord);

-- name: ListConsumerTeams :many
-- Teams with events the consumer has not passed, in id order after after.
SELECT DISTINCT e.team_id FROM team_events e
LEFT JOIN team_event_cursors c ON c.team_id = e.team_id AND c.consumer = sqlc.arg('consumer')::text
WHERE e.team_id > sqlc.arg('after')::uuid AND (c.team_id IS NULL OR (e.ms, e.seq) > (c.ms, c.seq))
ORDER BY e.team_id
LIMIT sqlc.arg('lim');

-- name: TryLockTeamEvents :one
-- One reader per consumer and team at a time (until the transaction
-- ends), so each consumer gets a team's events in order; two consumers
-- never wait on each other.
SELECT pg_try_advisory_xact_lock(hashtext('conveyor.events.' || sqlc.arg('consumer')::text), hashtext(sqlc.arg('team_id')::uuid::text));

-- name: ListTeamEventsAfterCursor :many
-- The team's oldest events the consumer has not passed, in id order.
SELECT e.team_id, e.ms, e.seq, e.type, e.payload::text AS payload, e.created_at FROM team_events e
LEFT JOIN team_event_cursors c ON c.team_id = e.team_id AND c.consumer = sqlc.arg('consumer')::text
WHERE e.team_id = sqlc.arg('team_id')::uuid AND (c.team_id IS NULL OR (e.ms, e.seq) > (c.ms, c.seq))
ORDER BY e.ms, e.seq
LIMIT sqlc.arg('lim');

-- name: SetTeamEventCursor :exec
INSERT INTO team_event_cursors (team_id, consumer, ms, seq)
VALUES (sqlc.arg('team_id')::uuid, sqlc.arg('consumer')::text, sqlc.arg('ms')::bigint, sqlc.arg('seq')::bigint)
ON CONFLICT (team_id, consumer) DO UPDATE SET ms = excluded.ms, seq = excluded.seq;

-- name: PruneTeamEvents :execrows
-- Deletes the team's events every one of consumers has passed (as far as
-- this transaction sees: a consumer's concurrent move is pruned by the
-- next call, or by PruneEvents).
DELETE FROM team_events e
WHERE e.team_id = sqlc.arg('team_id')::uuid
  AND (SELECT count(*) FROM team_event_cursors c
       WHERE c.team_id = e.team_id AND c.consumer = ANY(sqlc.arg('consumers')::text[]) AND (c.ms, c.seq) >= (e.ms, e.seq))
      = cardinality(sqlc.arg('consumers')::text[]);

-- name: PruneEvents :execrows
-- PruneTeamEvents for every team.
DELETE FROM team_events e
WHERE (SELECT count(*) FROM team_event_cursors c
       WHERE c.team_id = e.team_id AND c.consumer = ANY(sqlc.arg('consumers')::text[]) AND (c.ms, c.seq) >= (e.ms, e.seq))
      = cardinality(sqlc.arg('consumers')::text[]);

-- name: TeamEventBacklog :one
SELECT (SELECT count(*) FROM (SELECT 1 FROM team_events LIMIT 100000) AS b)::bigint AS depth,
    COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - (SELECT min(created_at) FROM team_events)), 0)::float8 AS oldest_seconds;
