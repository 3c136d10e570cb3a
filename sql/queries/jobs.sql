-- name: CreateJob :one
INSERT INTO jobs (id, team_id, file_id, processor, params, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: EnqueueJobDispatch :exec
-- A run waiting for admission: the relay sends it once its team has room
-- under its cap. traceparent is the queuing request's ('' for none), which
-- the run's task carries whenever it is admitted.
INSERT INTO job_outbox (job_id, team_id, admit, traceparent)
VALUES (sqlc.arg('job_id'), sqlc.arg('team_id')::uuid, true, NULLIF(sqlc.arg('traceparent')::text, ''));

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
-- A task of an earlier run (before a retry) does not start the new run.
UPDATE jobs
SET status = 'running', attempts = attempts + 1, progress = 0,
    started_at = COALESCE(started_at, now()), updated_at = now()
WHERE id = sqlc.arg('id') AND status IN ('queued', 'running')
  AND (sqlc.narg('run')::integer IS NULL OR runs = sqlc.narg('run')::integer)
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

-- name: ClaimResends :many
-- Dispatch records that send an admitted run again (the reconciler's):
-- they take no room under the team's cap, so they go at once.
SELECT o.id, o.job_id, COALESCE(o.traceparent, '')::text AS traceparent, j.processor, j.runs, j.status FROM job_outbox o
JOIN jobs j ON j.id = o.job_id
WHERE o.dispatched_at IS NULL AND NOT o.admit
ORDER BY o.id
LIMIT sqlc.arg('limit')
FOR UPDATE OF o SKIP LOCKED;

-- name: ListAdmitTeams :many
-- Teams with runs waiting for admission, in id order after after: a skip
-- scan of the waiting records' index, so it reads one entry per team, not
-- a team's whole backlog.
WITH RECURSIVE t(team_id) AS (
    (SELECT o.team_id FROM job_outbox o
     WHERE o.dispatched_at IS NULL AND o.admit AND o.team_id > sqlc.arg('after')::uuid
     ORDER BY o.team_id LIMIT 1)
    UNION ALL
    SELECT (SELECT o.team_id FROM job_outbox o
            WHERE o.dispatched_at IS NULL AND o.admit AND o.team_id > t.team_id
            ORDER BY o.team_id LIMIT 1)
    FROM t WHERE t.team_id IS NOT NULL
)
SELECT t.team_id::uuid AS team_id FROM t WHERE t.team_id IS NOT NULL LIMIT sqlc.arg('limit');

-- name: TryLockTeamDispatch :one
-- One admitter at a time per team (until the transaction ends), so two
-- relays cannot both admit into the team's last free place; a relay that
-- does not get it moves on to the next team.
SELECT pg_try_advisory_xact_lock(1313, hashtext(sqlc.arg('team_id')::uuid::text));

-- name: TeamAdmission :one
-- A team's cap on running jobs (its own, or the platform's default) and
-- its admitted runs not yet finished: queued in Redis or running; of them,
-- queued counts those not started yet.
SELECT COALESCE(t.max_running_jobs, sqlc.arg('default_cap')::integer)::integer AS cap,
       (SELECT count(*) FROM jobs j
        WHERE j.team_id = t.id AND j.admitted_at IS NOT NULL AND j.status IN ('queued', 'running'))::integer AS in_flight,
       (SELECT count(*) FROM jobs j
        WHERE j.team_id = t.id AND j.admitted_at IS NOT NULL AND j.status = 'queued')::integer AS queued
FROM teams t WHERE t.id = sqlc.arg('team_id');

-- name: ClaimAdmits :many
-- A team's runs waiting for admission, oldest first.
SELECT o.id, o.job_id, o.created_at, COALESCE(o.traceparent, '')::text AS traceparent,
       j.processor, j.runs, j.status, j.admitted_at FROM job_outbox o
JOIN jobs j ON j.id = o.job_id
WHERE o.team_id = sqlc.arg('team_id')::uuid AND o.dispatched_at IS NULL AND o.admit
ORDER BY o.id
LIMIT sqlc.arg('limit')
FOR UPDATE OF o SKIP LOCKED;

-- name: MarkAdmitted :exec
-- Records the runs handed to the queue; a job retried meanwhile (a newer
-- run) waits for its own admission.
UPDATE jobs SET admitted_at = now()
WHERE id = ANY(sqlc.arg('ids')::uuid[])
  AND runs = (sqlc.arg('runs')::integer[])[array_position(sqlc.arg('ids')::uuid[], id)];

-- name: MarkDispatched :exec
UPDATE job_outbox SET dispatched_at = now() WHERE id = ANY(sqlc.arg('ids')::bigint[]);

-- name: RedispatchStuckJobs :execrows
-- Gives a new dispatch record to jobs stuck past the bound: admitted
-- queued ones (their task may be lost in Redis) and running ones past the
-- running bound (a lost task of a dead worker) are sent again; a queued
-- one never admitted with no record waiting (its record lost) waits for
-- admission again. A run waiting for room under its team's cap is not
-- stuck. The task id deduplicates when the original task still exists.
INSERT INTO job_outbox (job_id, team_id, admit)
SELECT j.id, j.team_id, j.admitted_at IS NULL FROM jobs j
WHERE ((j.status = 'queued' AND COALESCE(j.admitted_at, j.updated_at) < now() - sqlc.arg('queued_after')::interval)
    OR (j.status = 'running' AND j.updated_at < now() - sqlc.arg('running_after')::interval))
  AND NOT EXISTS (
      SELECT 1 FROM job_outbox o
      WHERE o.job_id = j.id
        AND (o.dispatched_at IS NULL OR o.dispatched_at > now() - sqlc.arg('queued_after')::interval))
LIMIT 500;

-- name: UpdateJobProgress :one
-- Records an attempt's progress; no row when the attempt is no longer the
-- job's (cancelled, or overtaken), which tells the attempt to stop.
UPDATE jobs SET progress = $3, updated_at = now()
WHERE id = $1 AND attempts = $2 AND status = 'running'
RETURNING *;

-- name: CancelJob :one
UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now()
WHERE team_id = $1 AND id = $2 AND status IN ('queued', 'running')
RETURNING *;

-- name: RetryJob :one
UPDATE jobs
SET status = 'queued', runs = runs + 1, error = NULL, result = NULL, progress = 0,
    started_at = NULL, finished_at = NULL, admitted_at = NULL, updated_at = now()
WHERE team_id = $1 AND id = $2 AND status IN ('failed', 'cancelled')
RETURNING *;

-- name: InsertJobOutput :exec
-- Not for a job whose file was deleted meanwhile: DeleteFile locks the
-- file's jobs first, so the two transactions serialise on the job row.
INSERT INTO job_outputs (job_id, name, size, content_type, object_key)
SELECT sqlc.arg('job_id'), sqlc.arg('name'), sqlc.arg('size'), sqlc.arg('content_type'), sqlc.arg('object_key')
WHERE NOT EXISTS (
    SELECT 1 FROM jobs j JOIN files f ON f.id = j.file_id
    WHERE j.id = sqlc.arg('job_id') AND f.deleted_at IS NOT NULL)
ON CONFLICT (job_id, name) DO NOTHING;

-- name: ListJobOutputs :many
SELECT * FROM job_outputs WHERE job_id = $1 ORDER BY name;

-- name: GetJobOutput :one
SELECT * FROM job_outputs WHERE job_id = $1 AND name = $2;

-- name: LockFileJobs :exec
-- Taken before DeleteFileJobOutputs, in its own statement, so that a job
-- succeeding concurrently either commits its outputs first (and they are
-- deleted) or sees the file deleted (and writes none).
SELECT id FROM jobs WHERE file_id = $1 FOR UPDATE;

-- name: DeleteFileJobOutputs :exec
-- A deleted file's jobs lose their outputs; the objects, no longer
-- referred to, are swept by the janitor.
DELETE FROM job_outputs WHERE job_id IN (SELECT id FROM jobs WHERE file_id = $1);

-- name: ListJobsAscending :many
-- A team's jobs, oldest first (exports).
SELECT * FROM jobs
WHERE team_id = sqlc.arg('team_id')
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id
LIMIT sqlc.arg('limit');

-- name: LockJob :one
-- A team's job, locked until the transaction ends: its state is checked
-- against the domain's state machine before a user's change to it.
SELECT * FROM jobs WHERE team_id = $1 AND id = $2 FOR UPDATE;

-- name: DispatchBacklog :one
-- Runs waiting for admission, all teams together, and how long the oldest
-- has waited: the backlog the queues no longer hold.
SELECT count(*)::bigint AS waiting,
       COALESCE(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds
FROM job_outbox WHERE dispatched_at IS NULL AND admit;
