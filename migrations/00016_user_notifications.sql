-- +goose Up
-- Each person's email settings: job_failed_email says whether they are
-- emailed when a job they started fails (on unless they turned it off,
-- with PATCH /me).
ALTER TABLE users ADD COLUMN job_failed_email boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE users DROP COLUMN job_failed_email;
