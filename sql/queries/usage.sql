-- name: ReserveStorage :one
-- Adds bytes to the team's reservations if its stored and reserved bytes
-- stay within the limit; no row when they would not. The counter row's
-- lock orders concurrent reservations: two cannot both pass on the same
-- room.
INSERT INTO team_usage_counters AS c (team_id, reserved_bytes)
SELECT sqlc.arg('team_id')::uuid, sqlc.arg('bytes')::bigint
WHERE sqlc.arg('bytes')::bigint <= sqlc.arg('max_bytes')::bigint
ON CONFLICT (team_id) DO UPDATE SET reserved_bytes = c.reserved_bytes + EXCLUDED.reserved_bytes
WHERE c.file_bytes + c.output_bytes + c.reserved_bytes + EXCLUDED.reserved_bytes <= sqlc.arg('max_bytes')::bigint
RETURNING *;

-- name: HoldReservation :exec
-- Records (or grows, and extends) one upload's reservation.
INSERT INTO storage_reservations AS r (id, team_id, bytes, expires_at)
VALUES (sqlc.arg('id'), sqlc.arg('team_id'), sqlc.arg('bytes'), sqlc.arg('expires_at'))
ON CONFLICT (id) DO UPDATE SET bytes = r.bytes + EXCLUDED.bytes, expires_at = GREATEST(r.expires_at, EXCLUDED.expires_at);

-- name: TakeReservation :one
-- Removes one upload's reservation and returns its bytes (none: it was
-- released, or dropped as stale).
DELETE FROM storage_reservations WHERE id = $1 RETURNING team_id, bytes;

-- name: UnreserveStorage :exec
UPDATE team_usage_counters SET reserved_bytes = GREATEST(reserved_bytes - sqlc.arg('bytes')::bigint, 0)
WHERE team_id = sqlc.arg('team_id');

-- name: ConvertReservation :one
-- Turns held bytes into a file of size bytes, in the transaction that
-- records the file: the reservation is given back, and when it held less
-- than the file (it was dropped as stale) the file must still fit. No row
-- when it does not.
UPDATE team_usage_counters c SET reserved_bytes = GREATEST(c.reserved_bytes - sqlc.arg('held')::bigint, 0)
WHERE c.team_id = sqlc.arg('team_id')
  AND (sqlc.arg('size')::bigint <= sqlc.arg('held')::bigint
       OR c.file_bytes + c.output_bytes + GREATEST(c.reserved_bytes - sqlc.arg('held')::bigint, 0) + sqlc.arg('size')::bigint
          <= sqlc.arg('max_bytes')::bigint)
RETURNING *;

-- name: ExtendReservation :exec
UPDATE storage_reservations SET expires_at = GREATEST(expires_at, sqlc.arg('expires_at')) WHERE id = sqlc.arg('id');

-- name: GetUsageCounters :one
SELECT * FROM team_usage_counters WHERE team_id = $1;

-- name: GetTeamQuota :one
-- A live team's own quotas (NULL: the platform default).
SELECT max_stored_bytes, max_file_bytes, max_running_jobs FROM teams WHERE id = $1 AND deleted_at IS NULL;

-- name: SetTeamQuota :one
UPDATE teams SET max_stored_bytes = sqlc.narg('max_stored_bytes'), max_file_bytes = sqlc.narg('max_file_bytes'),
    max_running_jobs = sqlc.narg('max_running_jobs'), updated_at = now()
WHERE id = sqlc.arg('id') AND deleted_at IS NULL RETURNING *;

-- name: ListLiveTeamIDs :many
-- A page of live teams' ids, in id order (the reconciler's walk).
SELECT id FROM teams
WHERE deleted_at IS NULL AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id LIMIT sqlc.arg('limit');

-- name: LockUsageCounters :many
-- Locks the teams' counter rows (creating any missing) before they are
-- recounted, in id order so two reconcilers never deadlock.
INSERT INTO team_usage_counters (team_id)
SELECT unnest(sqlc.arg('ids')::uuid[]) ORDER BY 1
ON CONFLICT (team_id) DO UPDATE SET team_id = EXCLUDED.team_id
RETURNING *;

-- name: DropStaleReservations :execrows
-- Reservations of these teams that outlived their process.
DELETE FROM storage_reservations WHERE team_id = ANY(sqlc.arg('ids')::uuid[]) AND expires_at < now();

-- name: RecountUsage :many
-- Sets the (locked) counters of the teams to what their rows say, and
-- returns the ones that had drifted, with the values they had.
WITH actual AS (
    SELECT t.id AS team_id,
           (SELECT count(*) FROM files f WHERE f.team_id = t.id AND f.deleted_at IS NULL)::bigint AS file_count,
           (SELECT COALESCE(sum(f.size), 0) FROM files f WHERE f.team_id = t.id AND f.deleted_at IS NULL)::bigint AS file_bytes,
           (SELECT COALESCE(sum(o.size), 0) FROM jobs j JOIN job_outputs o ON o.job_id = j.id WHERE j.team_id = t.id)::bigint AS output_bytes,
           (SELECT COALESCE(sum(r.bytes), 0) FROM storage_reservations r WHERE r.team_id = t.id)::bigint AS reserved_bytes
    FROM teams t WHERE t.id = ANY(sqlc.arg('ids')::uuid[])
), old AS (
    SELECT * FROM team_usage_counters WHERE team_id = ANY(sqlc.arg('ids')::uuid[])
), fixed AS (
    UPDATE team_usage_counters c
    SET file_count = a.file_count, file_bytes = a.file_bytes, output_bytes = a.output_bytes,
        reserved_bytes = a.reserved_bytes, reconciled_at = now()
    FROM actual a WHERE c.team_id = a.team_id
    RETURNING c.*
)
SELECT f.team_id, o.file_count AS was_file_count, o.file_bytes AS was_file_bytes, o.output_bytes AS was_output_bytes,
       o.reserved_bytes AS was_reserved_bytes, f.file_count, f.file_bytes, f.output_bytes, f.reserved_bytes
FROM fixed f JOIN old o ON o.team_id = f.team_id
WHERE (o.file_count, o.file_bytes, o.output_bytes, o.reserved_bytes) IS DISTINCT FROM (f.file_count, f.file_bytes, f.output_bytes, f.reserved_bytes);

-- name: PurgeTeamReservations :exec
DELETE FROM storage_reservations WHERE team_id = $1;
