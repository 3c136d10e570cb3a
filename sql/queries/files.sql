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
  AND (sqlc.narg('content_type')::text IS NULL OR content_type = sqlc.narg('content_type')::text
       OR (right(sqlc.narg('content_type')::text, 2) = '/*'
           AND content_type LIKE left(sqlc.narg('content_type')::text, -1) || '%'))
  AND (sqlc.narg('name_prefix')::text IS NULL
       OR starts_with(name, sqlc.narg('name_prefix')::text))
  AND (sqlc.narg('created_after')::timestamptz IS NULL OR created_at >= sqlc.narg('created_after')::timestamptz)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: SoftDeleteFile :one
UPDATE files SET deleted_at = now()
WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL
RETURNING *;

-- name: ListFilesToRemove :many
SELECT * FROM files WHERE deleted_at IS NOT NULL AND object_removed_at IS NULL
ORDER BY deleted_at LIMIT sqlc.arg('limit');

-- name: MarkObjectRemoved :exec
UPDATE files SET object_removed_at = now() WHERE id = $1;

-- name: KnownObjectKeys :many
-- Which of these keys a file or an open upload still refers to, or a
-- streaming upload still holds a reservation for (its object is written
-- before its file row, which may wait on the database for a long time;
-- the reservation's id is the file's, its key files.ObjectKey's).
SELECT object_key FROM files WHERE object_key = ANY(sqlc.arg('keys')::text[])
UNION
SELECT object_key FROM uploads WHERE object_key = ANY(sqlc.arg('keys')::text[])
  AND completed_file_id IS NULL AND aborted_at IS NULL
UNION
SELECT object_key FROM job_outputs WHERE object_key = ANY(sqlc.arg('keys')::text[])
UNION
SELECT 'teams/' || r.team_id::text || '/files/' || r.id::text FROM storage_reservations r
WHERE 'teams/' || r.team_id::text || '/files/' || r.id::text = ANY(sqlc.arg('keys')::text[]);

-- name: ListFilesAscending :many
-- A team's files, oldest first (exports).
SELECT * FROM files
WHERE team_id = sqlc.arg('team_id') AND deleted_at IS NULL
  AND (sqlc.narg('after')::uuid IS NULL OR id > sqlc.narg('after')::uuid)
ORDER BY id
LIMIT sqlc.arg('limit');
