-- name: CreateWebhookEndpoint :one
INSERT INTO webhook_endpoints (id, team_id, url, description, event_types, secret)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: GetWebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE team_id = $1 AND id = $2;

-- name: LockWebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE team_id = $1 AND id = $2 FOR UPDATE;

-- name: ListWebhookEndpoints :many
SELECT * FROM webhook_endpoints
WHERE team_id = sqlc.arg('team_id')
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: UpdateWebhookEndpoint :one
UPDATE webhook_endpoints SET url = $3, description = $4, event_types = $5, updated_at = now()
WHERE team_id = $1 AND id = $2
RETURNING *;

-- name: SetWebhookEndpointEnabled :one
-- Enabling clears the failure streak and any disabling; disabling by a
-- manager records the reason given.
UPDATE webhook_endpoints SET enabled = sqlc.arg('enabled')::boolean,
    disabled_reason = CASE WHEN sqlc.arg('enabled')::boolean THEN NULL ELSE sqlc.narg('reason')::text END,
    disabled_at = CASE WHEN sqlc.arg('enabled')::boolean THEN NULL ELSE COALESCE(disabled_at, now()) END,
    failing_since = CASE WHEN sqlc.arg('enabled')::boolean THEN NULL ELSE failing_since END,
    updated_at = now()
WHERE team_id = sqlc.arg('team_id') AND id = sqlc.arg('id')
RETURNING *;

-- name: RotateWebhookSecret :one
UPDATE webhook_endpoints SET previous_secret = secret, secret = sqlc.arg('secret'), rotated_at = sqlc.arg('rotated_at'), updated_at = now()
WHERE team_id = sqlc.arg('team_id') AND id = sqlc.arg('id')
RETURNING *;

-- name: DeleteWebhookEndpoint :execrows
DELETE FROM webhook_endpoints WHERE team_id = $1 AND id = $2;

-- name: PurgeTeamWebhooks :exec
DELETE FROM webhook_endpoints WHERE team_id = $1;

-- name: ListFanoutEndpoints :many
-- The team's enabled endpoints (of a live team) and what they subscribe to.
SELECT w.id, w.event_types FROM webhook_endpoints w
JOIN teams t ON t.id = w.team_id AND t.deleted_at IS NULL
WHERE w.team_id = $1 AND w.enabled;

-- name: InsertWebhookDeliveries :exec
INSERT INTO webhook_deliveries (id, endpoint_id, team_id, msg_id, event_type, body, next_attempt_at, created_at)
SELECT unnest(sqlc.arg('ids')::uuid[]), unnest(sqlc.arg('endpoint_ids')::uuid[]), sqlc.arg('team_id')::uuid,
    unnest(sqlc.arg('msg_ids')::text[]), unnest(sqlc.arg('event_types')::text[]), unnest(sqlc.arg('bodies')::text[]),
    now(), now();

-- name: ClaimWebhookDeliveries :many
-- Up to lim due deliveries of enabled endpoints (a disabled endpoint's
-- wait until it is enabled again), each leased until lease
-- (its next_attempt_at moves there): a worker killed mid-attempt leaves it
-- due again then. Skips rows another worker is claiming.
WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT sqlc.arg('lim')
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET next_attempt_at = sqlc.arg('lease')::timestamptz, attempts = d.attempts + 1, step = d.step + 1, updated_at = now()
FROM due, webhook_endpoints w
WHERE d.id = due.id AND w.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, d.team_id, d.msg_id, d.event_type, d.body, d.attempts, d.step,
    w.url, w.enabled, w.secret, w.previous_secret, w.rotated_at;

-- name: InsertWebhookAttempt :exec
INSERT INTO webhook_attempts (delivery_id, n, at, status_code, duration_ms, response, error)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (delivery_id, n) DO NOTHING;

-- name: FinishWebhookDelivery :one
-- Records the outcome of attempt n, unless the delivery was claimed again
-- since (its attempts moved on): status 'pending' with next_attempt_at
-- for a retry, or 'succeeded' / 'failed'.
UPDATE webhook_deliveries SET status = sqlc.arg('status'), next_attempt_at = sqlc.narg('next_attempt_at'), updated_at = now()
WHERE id = sqlc.arg('id') AND attempts = sqlc.arg('n')
RETURNING endpoint_id;

-- name: MarkWebhookEndpointSucceeded :exec
UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL;

-- name: MarkWebhookEndpointFailing :one
-- Starts the endpoint's failure streak (if none) and returns it.
UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, sqlc.arg('at')::timestamptz)
WHERE id = sqlc.arg('id')
RETURNING team_id, enabled, failing_since;

-- name: DisableWebhookEndpoint :execrows
-- The worker disables an endpoint (410, or failing too long); its managers
-- are to be told.
UPDATE webhook_endpoints SET enabled = false, disabled_reason = sqlc.arg('reason'), disabled_at = now(), notice_due = true, updated_at = now()
WHERE id = sqlc.arg('id') AND enabled;

-- name: FailPendingWebhookDeliveries :exec
-- A disabled endpoint's pending deliveries fail (recover queues them again).
UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, updated_at = now()
WHERE endpoint_id = $1 AND status = 'pending';

-- name: ClaimWebhookNotice :one
-- One endpoint whose disabling the managers are still to be told of, with
-- its team's name, locked until the transaction ends.
SELECT w.id, w.team_id, w.url, w.disabled_reason, w.disabled_at, t.name AS team_name
FROM webhook_endpoints w JOIN teams t ON t.id = w.team_id
WHERE w.notice_due
LIMIT 1
FOR UPDATE OF w SKIP LOCKED;

-- name: ClearWebhookNotice :exec
UPDATE webhook_endpoints SET notice_due = false WHERE id = $1;

-- name: ListTeamManagerEmails :many
SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.team_id = $1 AND m.role = 'manager' AND u.email <> ''
ORDER BY u.email;

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries
WHERE endpoint_id = sqlc.arg('endpoint_id')
  AND (sqlc.narg('before')::uuid IS NULL OR id < sqlc.narg('before')::uuid)
ORDER BY id DESC
LIMIT sqlc.arg('limit');

-- name: ListWebhookAttempts :many
SELECT * FROM webhook_attempts WHERE delivery_id = ANY(sqlc.arg('ids')::uuid[]) ORDER BY delivery_id, n;

-- name: GetWebhookDelivery :one
SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2;

-- name: RequeueWebhookDelivery :one
-- Redelivers one delivery now (under its webhook-id), starting its
-- schedule again.
UPDATE webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = now(), updated_at = now()
WHERE endpoint_id = $1 AND id = $2
RETURNING *;

-- name: RequeueFailedWebhookDeliveries :execrows
UPDATE webhook_deliveries SET status = 'pending', step = 0, next_attempt_at = now(), updated_at = now()
WHERE endpoint_id = sqlc.arg('endpoint_id') AND status = 'failed' AND created_at >= sqlc.arg('since');
