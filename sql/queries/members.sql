-- name: ListMembers :many
SELECT u.id AS user_id, u.email, u.name, u.issuer, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.team_id = sqlc.arg('team_id')
  AND (sqlc.narg('after')::uuid IS NULL OR m.user_id > sqlc.narg('after')::uuid)
ORDER BY m.user_id
LIMIT sqlc.arg('limit');

-- name: GetMember :one
SELECT u.id AS user_id, u.email, u.name, u.issuer, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.team_id = $1 AND m.user_id = $2;

-- name: LockTeamManagers :many
-- Locks the team's manager rows so concurrent changes cannot remove the last one.
SELECT user_id FROM memberships WHERE team_id = $1 AND role = 'manager' FOR UPDATE;

-- name: UpdateMembershipRole :execrows
UPDATE memberships SET role = $3 WHERE team_id = $1 AND user_id = $2;

-- name: DeleteMembership :execrows
DELETE FROM memberships WHERE team_id = $1 AND user_id = $2;

-- name: LockMember :one
-- The membership row, locked for a conditional change.
SELECT user_id FROM memberships WHERE team_id = $1 AND user_id = $2 FOR UPDATE;
