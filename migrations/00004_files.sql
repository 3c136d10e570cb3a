-- +goose Up
-- A deleted file's object is removed by a worker, which records it here.
ALTER TABLE files ADD COLUMN object_removed_at timestamptz;
CREATE INDEX files_pending_removal_idx ON files (deleted_at) WHERE deleted_at IS NOT NULL AND object_removed_at IS NULL;

-- Direct-to-S3 uploads: created with presigned URLs, completed into a file,
-- or aborted (object and multipart upload removed) once expired.
CREATE TABLE uploads (
    id                 uuid PRIMARY KEY,
    team_id            uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name               text NOT NULL,
    size               bigint NOT NULL CHECK (size >= 0),
    sha256             text,
    object_key         text NOT NULL UNIQUE,
    s3_upload_id       text,
    part_size          bigint NOT NULL DEFAULT 0,
    created_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    completed_file_id  uuid REFERENCES files (id) ON DELETE SET NULL,
    aborted_at         timestamptz
);
CREATE INDEX uploads_open_idx ON uploads (expires_at) WHERE completed_file_id IS NULL AND aborted_at IS NULL;

-- +goose Down
DROP TABLE uploads;
DROP INDEX files_pending_removal_idx;
ALTER TABLE files DROP COLUMN object_removed_at;
