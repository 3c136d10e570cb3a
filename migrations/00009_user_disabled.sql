-- +goose Up
-- A platform admin may disable a user: disabled_at (and who did it) is set
-- while the user is disabled, NULL otherwise. Every API process keeps the
-- set of disabled users in memory (read through users_disabled_idx) and
-- refuses their requests.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN disabled_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX users_disabled_idx ON users (id) WHERE disabled_at IS NOT NULL;

-- Platform-wide audit events (a user disabled or enabled) belong to no
-- team: their team_id is NULL (the API shows the nil UUID).
ALTER TABLE audit_events ALTER COLUMN team_id DROP NOT NULL;

-- +goose Down
DELETE FROM audit_events WHERE team_id IS NULL;
ALTER TABLE audit_events ALTER COLUMN team_id SET NOT NULL;
DROP INDEX users_disabled_idx;
ALTER TABLE users DROP COLUMN disabled_by;
ALTER TABLE users DROP COLUMN disabled_at;
