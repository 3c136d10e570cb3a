-- +goose Up
-- A team's quotas, set by platform admins. NULL means "the platform's
-- default" (CONVEYOR_TEAM_DEFAULT_* settings), so a change of the default
-- applies to every team that was never given its own limit.
ALTER TABLE teams ADD COLUMN max_stored_bytes bigint CHECK (max_stored_bytes > 0);
ALTER TABLE teams ADD COLUMN max_file_bytes bigint CHECK (max_file_bytes > 0);
ALTER TABLE teams ADD COLUMN max_running_jobs integer CHECK (max_running_jobs > 0);

-- +goose Down
ALTER TABLE teams DROP COLUMN max_running_jobs;
ALTER TABLE teams DROP COLUMN max_file_bytes;
ALTER TABLE teams DROP COLUMN max_stored_bytes;
