-- name: InsertAuditEvent :exec
INSERT INTO audit_events (id, team_id, actor_type, actor_id, actor_name, action, target_type, target_id, details, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: ListAuditEvents :many
SELECT * FROM audit_events
WHERE team_id = sqlc.arg('team_id')
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: ListAllAuditEvents :many
-- Every team's audit events (deleted teams' included), or one team's.
SELECT * FROM audit_events
WHERE (sqlc.narg('team_id')::uuid IS NULL OR team_id = sqlc.narg('team_id')::uuid)
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');
