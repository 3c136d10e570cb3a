-- name: CreateFile :one
INSERT INTO files (id, team_id, name, size, sha256, content_type, object_key, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: GetFile :one
SELECT * FROM files WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL;

-- name: GetFileByID :one
SELECT * FROM files WHERE id = $1;

-- name: ListFiles :many
SELECT * FROM files
WHERE team_id = sqlc.arg('team_id') AND deleted_at IS NULL
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');
