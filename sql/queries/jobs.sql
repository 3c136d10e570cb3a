-- name: CreateJob :one
INSERT INTO jobs (id, team_id, file_id, processor, params, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: EnqueueJobDispatch :exec
INSERT INTO job_outbox (job_id) VALUES ($1);

-- name: GetJob :one
SELECT * FROM jobs WHERE team_id = $1 AND id = $2;

-- name: GetJobByID :one
SELECT * FROM jobs WHERE id = $1;

-- name: ListJobs :many
SELECT * FROM jobs
WHERE team_id = sqlc.arg('team_id')
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: StartJobAttempt :one
-- Moves a queued (or re-delivered running) job to running and counts the
-- attempt; the returned attempts value fences the attempt's later writes.
UPDATE jobs
SET status = 'running', attempts = attempts + 1, progress = 0,
    started_at = COALESCE(started_at, now()), updated_at = now()
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: SucceedJob :one
UPDATE jobs
SET status = 'succeeded', result = $3, error = NULL, progress = 100,
    finished_at = now(), updated_at = now()
WHERE id = $1 AND status = 'running' AND attempts = $2
RETURNING *;

-- name: FailJob :one
UPDATE jobs
SET status = 'failed', error = $3, finished_at = now(), updated_at = now()
WHERE id = $1 AND status = 'running' AND attempts = $2
RETURNING *;

-- name: ClaimPendingDispatches :many
SELECT id, job_id FROM job_outbox
WHERE dispatched_at IS NULL
ORDER BY id
LIMIT sqlc.arg('limit')
FOR UPDATE SKIP LOCKED;

-- name: MarkDispatched :exec
UPDATE job_outbox SET dispatched_at = now() WHERE id = ANY(sqlc.arg('ids')::bigint[]);

-- name: RedispatchStuckJobs :execrows
-- Gives a new dispatch record to jobs stuck past the bound: queued ones
-- (their task may be lost in Redis) and running ones past the running
-- bound (a lost task of a dead worker). The task id deduplicates when the
-- original task still exists.
INSERT INTO job_outbox (job_id)
SELECT j.id FROM jobs j
WHERE ((j.status = 'queued' AND j.updated_at < now() - sqlc.arg('queued_after')::interval)
    OR (j.status = 'running' AND j.updated_at < now() - sqlc.arg('running_after')::interval))
  AND NOT EXISTS (
      SELECT 1 FROM job_outbox o
      WHERE o.job_id = j.id
        AND (o.dispatched_at IS NULL OR o.dispatched_at > now() - sqlc.arg('queued_after')::interval))
LIMIT 500;
