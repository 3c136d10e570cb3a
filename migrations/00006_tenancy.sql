-- +goose Up
-- A deleted team is a tombstone: deleted_at hides it from every read and
-- write at once; the worker then removes its objects and rows, and records
-- purged_at. The row itself stays, so the team's audit trail (which refers
-- to it) is kept for platform admins.
ALTER TABLE teams ADD COLUMN deleted_at timestamptz;
ALTER TABLE teams ADD COLUMN purged_at timestamptz;
CREATE INDEX teams_live_idx ON teams (id DESC) WHERE deleted_at IS NULL;
CREATE INDEX teams_purge_idx ON teams (deleted_at) WHERE deleted_at IS NOT NULL AND purged_at IS NULL;

-- When a user last called the API (recorded at most once a minute per user).
ALTER TABLE users ADD COLUMN last_seen_at timestamptz;
CREATE INDEX users_active_idx ON users (id DESC) WHERE issuer <> '';

-- Usage is aggregated per request: live files' sizes from the index alone,
-- jobs counted by state from the index alone.
CREATE INDEX files_team_usage_idx ON files (team_id) INCLUDE (size) WHERE deleted_at IS NULL;
CREATE INDEX jobs_team_status_idx ON jobs (team_id, status);

-- A live team's usage: its live files (count and bytes), the recorded
-- outputs of its jobs (bytes; a deleted file's jobs lose theirs) and its
-- jobs by state. A plain view, so a query filtering on team_id computes
-- only the teams it asks for.
CREATE VIEW team_usage AS
SELECT t.id AS team_id,
       (SELECT count(*) FROM files f WHERE f.team_id = t.id AND f.deleted_at IS NULL)::bigint AS file_count,
       (SELECT COALESCE(sum(f.size), 0) FROM files f WHERE f.team_id = t.id AND f.deleted_at IS NULL)::bigint AS file_bytes,
       (SELECT COALESCE(sum(o.size), 0) FROM jobs j JOIN job_outputs o ON o.job_id = j.id WHERE j.team_id = t.id)::bigint AS output_bytes,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'queued')::bigint AS jobs_queued,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'running')::bigint AS jobs_running,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'succeeded')::bigint AS jobs_succeeded,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'failed')::bigint AS jobs_failed,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'cancelled')::bigint AS jobs_cancelled
FROM teams t WHERE t.deleted_at IS NULL;

-- Nothing is created in a deleted team, however a request raced the
-- deletion: each insert of a team's row share-locks the live team row, so
-- it either commits before the deletion (which waits for it, and then
-- sees the row) or fails once the deletion has committed. The error's
-- SQLSTATE (CV404) is mapped to "Team not found." by the store.
-- +goose StatementBegin
CREATE FUNCTION require_live_team() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM teams WHERE id = NEW.team_id AND deleted_at IS NULL FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team % does not exist or was deleted', NEW.team_id USING ERRCODE = 'CV404';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER files_live_team BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION require_live_team();
CREATE TRIGGER jobs_live_team BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION require_live_team();
CREATE TRIGGER uploads_live_team BEFORE INSERT ON uploads FOR EACH ROW EXECUTE FUNCTION require_live_team();
CREATE TRIGGER api_keys_live_team BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION require_live_team();
CREATE TRIGGER memberships_live_team BEFORE INSERT ON memberships FOR EACH ROW EXECUTE FUNCTION require_live_team();

-- +goose Down
DROP TRIGGER memberships_live_team ON memberships;
DROP TRIGGER api_keys_live_team ON api_keys;
DROP TRIGGER uploads_live_team ON uploads;
DROP TRIGGER jobs_live_team ON jobs;
DROP TRIGGER files_live_team ON files;
DROP FUNCTION require_live_team();
DROP VIEW team_usage;
DROP INDEX jobs_team_status_idx;
DROP INDEX files_team_usage_idx;
DROP INDEX users_active_idx;
ALTER TABLE users DROP COLUMN last_seen_at;
DROP INDEX teams_purge_idx;
DROP INDEX teams_live_idx;
ALTER TABLE teams DROP COLUMN purged_at;
ALTER TABLE teams DROP COLUMN deleted_at;
