-- +goose Up
-- Fair dispatch across teams. A job is admitted when the relay (or the API
-- right after the job's commit) hands its run to the queue, and only while
-- its team's admitted, unfinished jobs (queued in Redis or running) number
-- fewer than the team's max_running_jobs: the queue never holds one team's
-- whole backlog, so another team's job waits behind at most the others'
-- caps, not behind their backlogs. Of those, only a few at a time wait
-- in Redis not started (the relay tops them up as workers start them), so
-- another team's job waits behind few tasks even when caps are large.
ALTER TABLE jobs ADD COLUMN admitted_at timestamptz;
-- Jobs queued or running now were handed to the queue already (or are
-- about to be, by their pending dispatch record): they count as admitted.
UPDATE jobs SET admitted_at = COALESCE(started_at, updated_at) WHERE status IN ('queued', 'running');
-- A team's admitted, unfinished jobs: at most its cap of entries.
CREATE INDEX jobs_admitted_idx ON jobs (team_id, status) WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running');

-- A dispatch record either admits a run (written with the job, or with a
-- client's retry: it waits for room under the team's cap) or sends an
-- admitted run again (the reconciler's, for a task that may be lost: it is
-- sent at once, as it takes no room). team_id lets the relay go round the
-- teams with waiting work without reading their backlogs.
ALTER TABLE job_outbox ADD COLUMN team_id uuid;
ALTER TABLE job_outbox ADD COLUMN admit boolean NOT NULL DEFAULT false;
ALTER TABLE job_outbox ADD CONSTRAINT job_outbox_admit_team CHECK (NOT admit OR team_id IS NOT NULL);
DROP INDEX job_outbox_pending_idx;
CREATE INDEX job_outbox_resend_idx ON job_outbox (id) WHERE dispatched_at IS NULL AND NOT admit;
CREATE INDEX job_outbox_admit_idx ON job_outbox (team_id, id) WHERE dispatched_at IS NULL AND admit;

-- +goose Down
DROP INDEX job_outbox_admit_idx;
DROP INDEX job_outbox_resend_idx;
CREATE INDEX job_outbox_pending_idx ON job_outbox (id) WHERE dispatched_at IS NULL;
ALTER TABLE job_outbox DROP COLUMN admit;
ALTER TABLE job_outbox DROP COLUMN team_id;
DROP INDEX jobs_admitted_idx;
ALTER TABLE jobs DROP COLUMN admitted_at;
