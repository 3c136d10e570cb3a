-- name: CreateTeam :one
INSERT INTO teams (id, name) VALUES ($1, $2) RETURNING *;

-- name: GetTeam :one
SELECT * FROM teams WHERE id = $1;

-- name: ListTeams :many
SELECT * FROM teams
WHERE sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: ListTeamsForUser :many
SELECT t.* FROM teams t
JOIN memberships m ON m.team_id = t.id AND m.user_id = sqlc.arg('user_id')
WHERE sqlc.narg('before')::uuid IS NULL OR t.id < sqlc.narg('before')::uuid
ORDER BY t.id DESC
LIMIT sqlc.arg('limit');

-- name: GetMembershipRole :one
SELECT role FROM memberships WHERE team_id = $1 AND user_id = $2;

-- name: ListMembershipsForUser :many
SELECT m.team_id, t.name AS team_name, m.role
FROM memberships m JOIN teams t ON t.id = m.team_id
WHERE m.user_id = $1
ORDER BY t.name, m.team_id
LIMIT 1000;

-- name: UpsertMembership :exec
INSERT INTO memberships (team_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role;
