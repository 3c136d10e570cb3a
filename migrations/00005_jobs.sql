-- +goose Up
-- runs counts how many times a job was queued by a client (1 + retries
-- asked for); it names the job's current queue task, so a retried job gets
-- a new task while re-dispatches of one run deduplicate.
ALTER TABLE jobs ADD COLUMN runs integer NOT NULL DEFAULT 1;

-- A succeeded job's output files, written in the transaction that records
-- its result (fenced by the attempt), so a job run twice has one set.
CREATE TABLE job_outputs (
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    size          bigint NOT NULL CHECK (size >= 0),
    content_type  text NOT NULL,
    object_key    text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, name)
);

CREATE INDEX jobs_file_idx ON jobs (file_id) WHERE file_id IS NOT NULL;

-- +goose Down
DROP INDEX jobs_file_idx;
DROP TABLE job_outputs;
ALTER TABLE jobs DROP COLUMN runs;
