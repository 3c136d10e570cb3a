-- name: TickTeamEventClock :one
-- Takes n ids for a team's events, "ms-seq" after the team's last: ms is
-- the wall clock (never going back), seq counts within it. The row stays
-- locked until the transaction ends, so a team's events are numbered in
-- commit order; writers take it last in their transactions.
INSERT INTO team_event_clocks AS c (team_id, ms, seq)
VALUES (sqlc.arg('team_id')::uuid, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint, sqlc.arg('n')::bigint - 1)
ON CONFLICT (team_id) DO UPDATE SET
    ms = greatest(c.ms, excluded.ms),
    seq = CASE WHEN excluded.ms > c.ms THEN sqlc.arg('n')::bigint - 1 ELSE c.seq + sqlc.arg('n')::bigint END
RETURNING ms, seq;

-- name: InsertTeamEvents :exec
INSERT INTO team_events (team_id, ms, seq, type, payload)
SELECT sqlc.arg('team_id')::uuid, sqlc.arg('ms')::bigint,
    unnest(sqlc.arg('seqs')::bigint[]), unnest(sqlc.arg('types')::text[]), unnest(sqlc.arg('payloads')::text[])::jsonb;

-- name: ListEventTeams :many
SELECT DISTINCT team_id FROM team_events
WHERE team_id > sqlc.arg('after')::uuid
ORDER BY team_id
LIMIT sqlc.arg('lim');

-- name: TryLockTeamEvents :one
-- One relay at a time per team (until the transaction ends), so a team's
-- events reach its stream in order.
SELECT pg_try_advisory_xact_lock(1314, hashtext(sqlc.arg('team_id')::uuid::text));

-- name: ListTeamEvents :many
SELECT team_id, ms, seq, type, payload::text AS payload, created_at FROM team_events
WHERE team_id = $1
ORDER BY ms, seq
LIMIT $2;

-- name: DeleteTeamEventsThrough :exec
DELETE FROM team_events
WHERE team_id = sqlc.arg('team_id')::uuid AND (ms, seq) <= (sqlc.arg('ms')::bigint, sqlc.arg('seq')::bigint);

-- name: TeamEventBacklog :one
SELECT (SELECT count(*) FROM (SELECT 1 FROM team_events LIMIT 100000) AS b)::bigint AS depth,
    COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - (SELECT min(created_at) FROM team_events)), 0)::float8 AS oldest_seconds;
