-- name: GetUserByIdentity :one
SELECT * FROM users WHERE issuer = $1 AND subject = $2;

-- name: UpsertUser :one
INSERT INTO users (id, issuer, subject, email, name)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (issuer, subject) DO UPDATE
SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now()
RETURNING *;

-- name: ClaimPendingUser :one
-- Turns the pending placeholder invited under this email into the user with
-- this identity, keeping its id (and so its memberships).
UPDATE users SET issuer = $1, subject = $2, name = $3, updated_at = now()
WHERE issuer = '' AND lower(email) = lower(sqlc.arg('email'))
RETURNING *;

-- name: FindActiveUserByEmail :one
SELECT * FROM users WHERE lower(email) = lower($1) AND issuer <> ''
ORDER BY updated_at DESC LIMIT 1;

-- name: UpsertPendingUser :one
INSERT INTO users (id, issuer, subject, email, name)
VALUES ($1, '', sqlc.arg('subject'), lower(sqlc.arg('email')), '')
ON CONFLICT (lower(email)) WHERE issuer = '' DO UPDATE SET updated_at = now()
RETURNING *;

-- name: ListActiveUsers :many
-- Everyone who has called the API (not pending invitations), newest first.
SELECT * FROM users
WHERE issuer <> ''
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: GetActiveUser :one
SELECT * FROM users WHERE id = $1 AND issuer <> '';

-- name: ListMembershipsForUsers :many
-- The live teams and roles of each user in ids, at most 1000 per user.
SELECT user_id, team_id, team_name, role FROM (
    SELECT m.user_id, m.team_id, t.name AS team_name, m.role,
           row_number() OVER (PARTITION BY m.user_id ORDER BY t.name, m.team_id) AS n
    FROM memberships m JOIN teams t ON t.id = m.team_id AND t.deleted_at IS NULL
    WHERE m.user_id = ANY(sqlc.arg('ids')::uuid[])
) ranked
WHERE n <= 1000
ORDER BY user_id, team_name, team_id;

-- name: TouchUser :exec
-- Records that a user called the API, at most once a minute.
UPDATE users SET last_seen_at = now()
WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < now() - interval '1 minute');

-- name: LockActiveUserForUpdate :one
SELECT * FROM users WHERE id = $1 AND issuer <> '' FOR UPDATE;

-- name: SetUserDisabled :one
-- Disables (keeping the first time and admin when already disabled) or
-- enables a user.
UPDATE users
SET disabled_at = CASE WHEN sqlc.arg('disabled')::boolean THEN COALESCE(disabled_at, now()) END,
    disabled_by = CASE WHEN sqlc.arg('disabled')::boolean THEN
                    CASE WHEN disabled_at IS NULL THEN sqlc.narg('by')::uuid ELSE disabled_by END END,
    updated_at = now()
WHERE id = sqlc.arg('id')
RETURNING *;

-- name: ListDisabledUserIDs :many
-- Every disabled user (what each API process holds in memory).
SELECT id FROM users WHERE disabled_at IS NOT NULL;

-- name: GetUserNotifications :one
SELECT job_failed_email FROM users WHERE id = $1 AND issuer <> '';

-- name: UpdateUserNotifications :one
-- Changes the settings given (NULL keeps one).
UPDATE users
SET job_failed_email = COALESCE(sqlc.narg('job_failed_email')::boolean, job_failed_email)
WHERE id = sqlc.arg('id') AND issuer <> ''
RETURNING job_failed_email;
