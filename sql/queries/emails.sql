-- name: InsertEmails :exec
-- Queues messages; one already queued for the same event, kind and
-- recipient is kept as it is.
INSERT INTO email_outbox (id, team_id, event_id, kind, recipient, subject, text_body, html_body)
SELECT unnest(sqlc.arg('ids')::uuid[]), sqlc.arg('team_id')::uuid, unnest(sqlc.arg('event_ids')::text[]),
    unnest(sqlc.arg('kinds')::text[]), unnest(sqlc.arg('recipients')::text[]), unnest(sqlc.arg('subjects')::text[]),
    unnest(sqlc.arg('text_bodies')::text[]), unnest(sqlc.arg('html_bodies')::text[])
ON CONFLICT (team_id, event_id, kind, recipient) DO NOTHING;

-- name: ClaimDueEmails :many
-- Takes up to lim messages that are due, leasing each until now + lease
-- (a sender that dies leaves it to be taken again then) and counting the
-- attempt.
UPDATE email_outbox SET attempts = attempts + 1,
    next_attempt_at = now() + make_interval(secs => sqlc.arg('lease_seconds')::float8)
WHERE id IN (
    SELECT id FROM email_outbox
    WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT sqlc.arg('lim')
    FOR UPDATE SKIP LOCKED
)
RETURNING id, team_id, event_id, kind, recipient, subject, text_body, html_body, attempts;

-- name: MarkEmailSent :exec
UPDATE email_outbox SET sent_at = now(), last_error = NULL WHERE id = $1 AND sent_at IS NULL;

-- name: RetryEmailLater :exec
-- Records a failed attempt: tried again after delay, or given up on (failed).
UPDATE email_outbox SET last_error = sqlc.arg('last_error'),
    next_attempt_at = now() + make_interval(secs => sqlc.arg('delay_seconds')::float8),
    failed_at = CASE WHEN sqlc.arg('give_up')::boolean THEN now() END
WHERE id = sqlc.arg('id') AND sent_at IS NULL;

-- name: DeleteDoneEmails :execrows
-- Forgets messages sent or given up on before the cutoff.
DELETE FROM email_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < sqlc.arg('before')::timestamptz;

-- name: EmailTeamName :one
SELECT name FROM teams WHERE id = $1;

-- name: JobFailedRecipient :one
-- The person to tell that their job failed: a signed-in user who has not
-- turned these emails off and is not disabled.
SELECT email, name, job_failed_email FROM users WHERE id = $1 AND issuer <> '' AND disabled_at IS NULL;

-- name: EmailFileName :one
SELECT name FROM files WHERE id = $1;

-- name: EmailMemberAddedBy :one
-- Who added the user to the team last (the audit record written with the
-- change): the name an invitation gives.
SELECT actor_name FROM audit_events
WHERE team_id = $1 AND action = 'member.added' AND target_type = 'user' AND target_id = sqlc.arg('user_id')::text
ORDER BY id DESC LIMIT 1;
