-- +goose Up
-- Emails waiting to be sent, one row per message. The email fan-out of the
-- event log's notify consumer writes them in the transaction that moves
-- the consumer past the event (so an event makes its emails once), and the
-- workers' email sender sends them through the SMTP relay, retried with
-- backoff. id is the message's Message-ID (<id@conveyor>), the same on every
-- attempt, so a resend after a crash between the relay's answer and the
-- row's update is recognisable as the same message.
CREATE TABLE email_outbox (
    id              uuid        PRIMARY KEY,
    team_id         uuid        NOT NULL,
    -- The event that made it ("ms-seq" within the team) and what it is.
    event_id        text        NOT NULL,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    -- When it may be tried next: also the lease of a sender trying it now.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Set once the relay accepted it, or when the sender gave up (failed).
    sent_at         timestamptz,
    failed_at       timestamptz,
    -- One message of a kind per event and recipient, even if a fan-out ran
    -- twice.
    UNIQUE (team_id, event_id, kind, recipient)
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_outbox_done_idx ON email_outbox (created_at) WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

-- +goose Down
DROP TABLE email_outbox;
