-- +goose Up
-- A dispatch record keeps the W3C traceparent of the request that queued
-- its run, so a run admitted later by a relay (its team at its cap when
-- the request committed) still continues that request's trace in the
-- worker. NULL when the run was queued outside a traced context (the
-- reconciler's re-sends).
ALTER TABLE job_outbox ADD COLUMN traceparent text;

-- +goose Down
ALTER TABLE job_outbox DROP COLUMN traceparent;
