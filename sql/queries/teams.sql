-- name: CreateTeam :one
INSERT INTO teams (id, name) VALUES ($1, $2) RETURNING *;

-- name: GetTeam :one
-- A live team: a deleted one is not found.
SELECT * FROM teams WHERE id = $1 AND deleted_at IS NULL;

-- name: GetTeamWithUsage :one
-- A live team and its usage, in one statement.
SELECT t.*, u.file_count, u.file_bytes, u.output_bytes,
       u.jobs_queued, u.jobs_running, u.jobs_succeeded, u.jobs_failed, u.jobs_cancelled
FROM teams t JOIN team_usage u ON u.team_id = t.id
WHERE t.id = $1 AND t.deleted_at IS NULL;

-- name: TeamUsage :many
-- The usage of each live team in ids (a page of a list), in one statement.
SELECT * FROM team_usage WHERE team_id = ANY(sqlc.arg('ids')::uuid[]);

-- name: ListTeams :many
SELECT * FROM teams
WHERE deleted_at IS NULL
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: ListTeamsForUser :many
SELECT t.* FROM teams t
JOIN memberships m ON m.team_id = t.id AND m.user_id = sqlc.arg('user_id')
WHERE t.deleted_at IS NULL
  AND (sqlc.narg('before')::uuid IS NULL OR t.id < sqlc.narg('before')::uuid)
ORDER BY t.id DESC
LIMIT sqlc.arg('limit');

-- name: GetMembershipRole :one
SELECT m.role FROM memberships m JOIN teams t ON t.id = m.team_id AND t.deleted_at IS NULL
WHERE m.team_id = $1 AND m.user_id = $2;

-- name: ListMembershipsForUser :many
SELECT m.team_id, t.name AS team_name, m.role
FROM memberships m JOIN teams t ON t.id = m.team_id AND t.deleted_at IS NULL
WHERE m.user_id = $1
ORDER BY t.name, m.team_id
LIMIT 1000;

-- name: UpsertMembership :exec
INSERT INTO memberships (team_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role;

-- name: LockLiveTeam :one
-- The live team, share-locked: a deletion waits for the transaction, and
-- a deleted team is not found.
SELECT * FROM teams WHERE id = $1 AND deleted_at IS NULL FOR SHARE;

-- name: LockLiveTeamForUpdate :one
-- The live team, locked for a change of its own (rename, delete).
SELECT * FROM teams WHERE id = $1 AND deleted_at IS NULL FOR UPDATE;

-- name: RenameTeam :one
UPDATE teams SET name = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING *;

-- name: MarkTeamDeleted :exec
UPDATE teams SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL;

-- name: DeleteTeamMemberships :many
-- A deleted team's memberships and invitations end at once.
DELETE FROM memberships WHERE team_id = $1 RETURNING user_id;

-- name: RevokeTeamAPIKeys :many
-- A deleted team's keys stop at once.
UPDATE api_keys SET revoked_at = now() WHERE team_id = $1 AND revoked_at IS NULL RETURNING prefix;

-- name: CancelTeamJobs :many
-- The deleted team's queued and running jobs, cancelled under the same
-- rule as CancelJob: only queued or running jobs move to cancelled. The
-- time is the clock's when the row is changed, not the transaction's
-- start: a progress heartbeat that committed meanwhile must not look newer
-- (event snapshots are ordered by updated_at).
UPDATE jobs SET status = 'cancelled', finished_at = clock_timestamp(),
    updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond')
WHERE team_id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: ListTeamsToPurge :many
-- Deleted teams whose objects and rows the worker has not yet removed.
SELECT * FROM teams WHERE deleted_at IS NOT NULL AND purged_at IS NULL
ORDER BY deleted_at LIMIT sqlc.arg('limit');

-- name: ListTeamOpenUploads :many
-- A deleted team's direct uploads still open in S3 (to abort).
SELECT * FROM uploads WHERE team_id = $1 AND completed_file_id IS NULL AND aborted_at IS NULL
ORDER BY id LIMIT sqlc.arg('limit');

-- name: PurgeTeamJobs :exec
-- Jobs take their outputs and dispatch records with them (ON DELETE CASCADE).
DELETE FROM jobs WHERE team_id = $1;

-- name: PurgeTeamUploads :exec
DELETE FROM uploads WHERE team_id = $1;

-- name: PurgeTeamFiles :exec
DELETE FROM files WHERE team_id = $1;

-- name: PurgeTeamAPIKeys :exec
DELETE FROM api_keys WHERE team_id = $1;

-- name: PurgeTeamMemberships :exec
DELETE FROM memberships WHERE team_id = $1;

-- name: MarkTeamPurged :exec
UPDATE teams SET purged_at = now() WHERE id = $1 AND deleted_at IS NOT NULL;
