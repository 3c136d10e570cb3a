-- name: CreateAPIKey :one
INSERT INTO api_keys (id, team_id, name, role, prefix, secret_hash, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: GetAPIKeyByPrefix :one
-- A key of a deleted team is not found (its keys are also revoked with it).
SELECT k.* FROM api_keys k JOIN teams t ON t.id = k.team_id AND t.deleted_at IS NULL
WHERE k.prefix = $1;

-- name: ListAPIKeys :many
SELECT * FROM api_keys
WHERE team_id = sqlc.arg('team_id')
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: RevokeAPIKey :one
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE team_id = $1 AND id = $2
RETURNING *;

-- name: TouchAPIKeys :execrows
-- Records the use of several keys in one statement (each API process
-- batches them); a key some process recorded less than a minute ago is
-- left alone, so a busy key is written about once a minute in all.
UPDATE api_keys SET last_used_at = now()
WHERE id = ANY(sqlc.arg('ids')::uuid[])
  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: GetAPIKey :one
SELECT * FROM api_keys WHERE team_id = $1 AND id = $2;

-- name: LockAPIKey :one
SELECT * FROM api_keys WHERE team_id = $1 AND id = $2 FOR UPDATE;
