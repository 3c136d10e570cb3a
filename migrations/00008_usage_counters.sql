-- +goose Up
-- A team's stored bytes and files as counters, kept exact in the
-- transaction of every change by the triggers below, so a quota check and
-- a usage read cost one row however many files the team holds.
-- reserved_bytes are held for uploads under way (the sum of the team's
-- storage_reservations); the worker's reconciler recomputes every column
-- from the rows, corrects drift and drops reservations whose process died.
-- Every writer takes the counter row's lock (an UPDATE) before its rows
-- become visible, so a reconciler that locks the row first and counts in
-- a later statement sees each change either counted or not yet applied.
CREATE TABLE team_usage_counters (
    team_id        uuid PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    file_count     bigint NOT NULL DEFAULT 0,
    file_bytes     bigint NOT NULL DEFAULT 0,
    output_bytes   bigint NOT NULL DEFAULT 0,
    reserved_bytes bigint NOT NULL DEFAULT 0,
    reconciled_at  timestamptz
);

-- Bytes held for one upload: a stream through the API (id = the file's id)
-- or a direct upload (id = the upload's id). Released or turned into the
-- file's bytes when the upload ends; one that outlives expires_at belongs
-- to a process that died and is dropped by the reconciler.
CREATE TABLE storage_reservations (
    id         uuid PRIMARY KEY,
    team_id    uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    bytes      bigint NOT NULL CHECK (bytes >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX storage_reservations_team_idx ON storage_reservations (team_id);
CREATE INDEX storage_reservations_expiry_idx ON storage_reservations (expires_at);

INSERT INTO team_usage_counters (team_id, file_count, file_bytes, output_bytes, reconciled_at)
SELECT t.id,
       (SELECT count(*) FROM files f WHERE f.team_id = t.id AND f.deleted_at IS NULL),
       (SELECT COALESCE(sum(f.size), 0) FROM files f WHERE f.team_id = t.id AND f.deleted_at IS NULL),
       (SELECT COALESCE(sum(o.size), 0) FROM jobs j JOIN job_outputs o ON o.job_id = j.id WHERE j.team_id = t.id),
       now()
FROM teams t;

-- +goose StatementBegin
CREATE FUNCTION team_usage_counter_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_usage_counters (team_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER teams_usage_counter AFTER INSERT ON teams FOR EACH ROW EXECUTE FUNCTION team_usage_counter_row();

-- Live files (deleted_at IS NULL) count; one statement's change of many
-- rows is one counter update per team (transition tables).
-- +goose StatementBegin
CREATE FUNCTION count_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO team_usage_counters AS c (team_id, file_count, file_bytes)
        SELECT team_id, count(*), sum(size) FROM new_files WHERE deleted_at IS NULL GROUP BY team_id ORDER BY team_id
        ON CONFLICT (team_id) DO UPDATE SET file_count = c.file_count + EXCLUDED.file_count, file_bytes = c.file_bytes + EXCLUDED.file_bytes;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE team_usage_counters c SET file_count = c.file_count - d.n, file_bytes = c.file_bytes - d.b
        FROM (SELECT team_id, count(*) AS n, sum(size) AS b FROM old_files WHERE deleted_at IS NULL GROUP BY team_id) d
        WHERE c.team_id = d.team_id;
    ELSE
        UPDATE team_usage_counters c SET file_count = c.file_count + d.n, file_bytes = c.file_bytes + d.b
        FROM (SELECT team_id, sum(n) AS n, sum(b) AS b FROM (
                  SELECT team_id, count(*) AS n, sum(size) AS b FROM new_files WHERE deleted_at IS NULL GROUP BY team_id
                  UNION ALL
                  SELECT team_id, -count(*), -sum(size) FROM old_files WHERE deleted_at IS NULL GROUP BY team_id) x
              GROUP BY team_id) d
        WHERE c.team_id = d.team_id AND (d.n <> 0 OR d.b <> 0);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER files_count_insert AFTER INSERT ON files REFERENCING NEW TABLE AS new_files
    FOR EACH STATEMENT EXECUTE FUNCTION count_files();
CREATE TRIGGER files_count_update AFTER UPDATE ON files REFERENCING OLD TABLE AS old_files NEW TABLE AS new_files
    FOR EACH STATEMENT EXECUTE FUNCTION count_files();
CREATE TRIGGER files_count_delete AFTER DELETE ON files REFERENCING OLD TABLE AS old_files
    FOR EACH STATEMENT EXECUTE FUNCTION count_files();

-- Job outputs count for their job's team. (When a purged team's jobs take
-- their outputs with them, the jobs are gone first and the dead team's
-- counter is left as it was.)
-- +goose StatementBegin
CREATE FUNCTION count_outputs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE team_usage_counters c SET output_bytes = c.output_bytes + d.b
        FROM (SELECT j.team_id, sum(o.size) AS b FROM new_outputs o JOIN jobs j ON j.id = o.job_id GROUP BY j.team_id) d
        WHERE c.team_id = d.team_id;
    ELSE
        UPDATE team_usage_counters c SET output_bytes = c.output_bytes - d.b
        FROM (SELECT j.team_id, sum(o.size) AS b FROM old_outputs o JOIN jobs j ON j.id = o.job_id GROUP BY j.team_id) d
        WHERE c.team_id = d.team_id;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER job_outputs_count_insert AFTER INSERT ON job_outputs REFERENCING NEW TABLE AS new_outputs
    FOR EACH STATEMENT EXECUTE FUNCTION count_outputs();
CREATE TRIGGER job_outputs_count_delete AFTER DELETE ON job_outputs REFERENCING OLD TABLE AS old_outputs
    FOR EACH STATEMENT EXECUTE FUNCTION count_outputs();

-- Usage reads take files and bytes from the counters (same columns as before).
CREATE OR REPLACE VIEW team_usage AS
SELECT t.id AS team_id,
       COALESCE(c.file_count, 0)::bigint AS file_count,
       COALESCE(c.file_bytes, 0)::bigint AS file_bytes,
       COALESCE(c.output_bytes, 0)::bigint AS output_bytes,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'queued')::bigint AS jobs_queued,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'running')::bigint AS jobs_running,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'succeeded')::bigint AS jobs_succeeded,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'failed')::bigint AS jobs_failed,
       (SELECT count(*) FROM jobs j WHERE j.team_id = t.id AND j.status = 'cancelled')::bigint AS jobs_cancelled
FROM teams t LEFT JOIN team_usage_counters c ON c.team_id = t.id
WHERE t.deleted_at IS NULL;

-- +goose Down
CREATE OR REPLACE VIEW team_usage AS
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
DROP TRIGGER job_outputs_count_delete ON job_outputs;
DROP TRIGGER job_outputs_count_insert ON job_outputs;
DROP FUNCTION count_outputs();
DROP TRIGGER files_count_delete ON files;
DROP TRIGGER files_count_update ON files;
DROP TRIGGER files_count_insert ON files;
DROP FUNCTION count_files();
DROP TRIGGER teams_usage_counter ON teams;
DROP FUNCTION team_usage_counter_row();
DROP TABLE storage_reservations;
DROP TABLE team_usage_counters;
