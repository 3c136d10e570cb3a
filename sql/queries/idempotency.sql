-- name: ClaimIdempotencyKey :one
-- Takes the key for a new request: inserts it, or takes over a row that
-- expired or whose request died in flight (older than the lease).
INSERT INTO idempotency_keys (principal, key, method, path, expires_at)
VALUES ($1, $2, $3, $4, now() + sqlc.arg('ttl')::interval)
ON CONFLICT (principal, key) DO UPDATE
SET method = EXCLUDED.method, path = EXCLUDED.path, fingerprint = NULL, status = NULL,
    response_headers = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
WHERE idempotency_keys.expires_at < now()
   OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < now() - sqlc.arg('lease')::interval)
RETURNING created_at;

-- name: GetIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE principal = $1 AND key = $2;

-- name: CompleteIdempotencyKey :exec
UPDATE idempotency_keys
SET fingerprint = $3, status = $4, response_headers = $5, response_body = $6
WHERE principal = $1 AND key = $2 AND status IS NULL;

-- name: ReleaseIdempotencyKey :exec
DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL;

-- name: DeleteExpiredIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE expires_at < now();
