-- name: CreateUpload :one
INSERT INTO uploads (id, team_id, name, size, sha256, object_key, s3_upload_id, part_size, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING *;

-- name: LockUpload :one
SELECT * FROM uploads WHERE team_id = $1 AND id = $2 FOR UPDATE;

-- name: GetUpload :one
SELECT * FROM uploads WHERE team_id = $1 AND id = $2;

-- name: MarkUploadCompleted :exec
UPDATE uploads SET completed_file_id = $2 WHERE id = $1;

-- name: MarkUploadAborted :exec
UPDATE uploads SET aborted_at = now() WHERE id = $1 AND completed_file_id IS NULL;

-- name: ListExpiredUploads :many
SELECT * FROM uploads
WHERE completed_file_id IS NULL AND aborted_at IS NULL AND expires_at < now()
ORDER BY expires_at LIMIT sqlc.arg('limit');
