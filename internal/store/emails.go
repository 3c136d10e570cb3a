package store

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/notify/emails"
	"github.com/conveyorhq/conveyor/internal/notify/mail"
)

// The email outbox (migration 00017). The email fan-out queues what
// emails.Plan makes of each event, in the notify consumer's transaction;
// the workers' emails.Sender sends it.

// FanoutEmails returns the email fan-out of the event log: for one team's
// batch of events, run in the transaction that moves the notify consumer
// past them (q), it queues each email emails.Plan makes of an event (one
// per event, kind and recipient, even when a batch is handed over twice).
// An event this release cannot read is skipped (logged); an error (the
// database's) rolls the batch back, to be handed over again.
func (s *Store) FanoutEmails(links emails.Links) func(ctx context.Context, q *db.Queries, recs []events.Record) error {
	return func(ctx context.Context, q *db.Queries, recs []events.Record) error {
		if len(recs) == 0 {
			return nil
		}
		l := emailLookup{q}
		var p db.InsertEmailsParams
		p.TeamID = recs[0].TeamID
		for _, rec := range recs {
			e, err := events.Decode(rec.ID.String(), string(rec.Payload))
			if err != nil {
				s.opts.Logger.Warn("emails: an event this release cannot read makes no email", "team", rec.TeamID, "event", rec.ID.String(), "err", err)
				continue
			}
			out, err := emails.Plan(ctx, l, links, e)
			if err != nil {
				return err
			}
			for _, o := range out {
				id, err := uuid.NewV7()
				if err != nil {
					return err
				}
				p.Ids = append(p.Ids, id)
				p.EventIds = append(p.EventIds, rec.ID.String())
				p.Kinds = append(p.Kinds, o.Kind)
				p.Recipients = append(p.Recipients, o.Message.To[0])
				p.Subjects = append(p.Subjects, o.Message.Subject)
				p.TextBodies = append(p.TextBodies, o.Message.Text)
				p.HtmlBodies = append(p.HtmlBodies, o.Message.HTML)
			}
		}
		if len(p.Ids) == 0 {
			return nil
		}
		return q.InsertEmails(ctx, p)
	}
}

// emailLookup is emails.Lookup in the fan-out's transaction.
type emailLookup struct{ q *db.Queries }

func (l emailLookup) TeamName(ctx context.Context, team uuid.UUID) (string, error) {
	name, err := l.q.EmailTeamName(ctx, team)
	if mapErr(err) == errNotFound {
		return "", nil
	}
	return name, err
}

func (l emailLookup) AddedBy(ctx context.Context, team, user uuid.UUID) (string, error) {
	name, err := l.q.EmailMemberAddedBy(ctx, db.EmailMemberAddedByParams{TeamID: &team, UserID: user.String()})
	if mapErr(err) == errNotFound {
		return "", nil
	}
	return name, err
}

func (l emailLookup) JobFailedRecipient(ctx context.Context, user uuid.UUID) (string, bool, bool, error) {
	r, err := l.q.JobFailedRecipient(ctx, user)
	if mapErr(err) == errNotFound {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, err
	}
	return r.Email, r.JobFailedEmail, true, nil
}

func (l emailLookup) FileName(ctx context.Context, file uuid.UUID) (string, error) {
	name, err := l.q.EmailFileName(ctx, file)
	if mapErr(err) == errNotFound {
		return "", nil
	}
	return name, err
}

// ClaimEmails implements emails.Outbox.
func (s *Store) ClaimEmails(ctx context.Context, n int, lease time.Duration) ([]emails.Queued, error) {
	var out []emails.Queued
	err := s.write(ctx, func(q *db.Queries) error {
		rows, err := q.ClaimDueEmails(ctx, db.ClaimDueEmailsParams{Lim: int32(n), LeaseSeconds: lease.Seconds()})
		out = make([]emails.Queued, len(rows))
		for i, r := range rows {
			out[i] = emails.Queued{ID: r.ID, Kind: r.Kind, Attempts: int(r.Attempts),
				Message: mail.Message{To: []string{r.Recipient}, Subject: r.Subject, Text: r.TextBody, HTML: r.HtmlBody}}
		}
		return err
	})
	// Oldest first (ids are time-ordered): RETURNING keeps no order.
	slices.SortFunc(out, func(a, b emails.Queued) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out, err
}

// EmailSent implements emails.Outbox.
func (s *Store) EmailSent(ctx context.Context, id uuid.UUID) error {
	return s.write(ctx, func(q *db.Queries) error { return q.MarkEmailSent(ctx, id) })
}

// EmailFailed implements emails.Outbox.
func (s *Store) EmailFailed(ctx context.Context, id uuid.UUID, reason string, delay time.Duration, giveUp bool) error {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	return s.write(ctx, func(q *db.Queries) error {
		return q.RetryEmailLater(ctx, db.RetryEmailLaterParams{ID: id, LastError: &reason, DelaySeconds: delay.Seconds(), GiveUp: giveUp})
	})
}

// ForgetEmails implements emails.Outbox.
func (s *Store) ForgetEmails(ctx context.Context, before time.Time) (n int64, err error) {
	err = s.write(ctx, func(q *db.Queries) (err error) {
		n, err = q.DeleteDoneEmails(ctx, before)
		return err
	})
	return n, err
}
