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
