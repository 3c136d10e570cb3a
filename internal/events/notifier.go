package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// NotifyStore is what the Notifier needs of the event log (store.Store).
type NotifyStore interface {
	// FanoutTeams lists up to limit teams with events the notify
	// consumer has not passed, in id order after after.
	FanoutTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
	// FanoutTeamEvents fans up to limit of the team's next events out
	// (webhook deliveries, emails: rows in PostgreSQL) in the transaction
	// that moves the notify consumer's cursor past them; busy reports
	// that another worker holds the team.
	FanoutTeamEvents(ctx context.Context, team uuid.UUID, limit int) (n int, busy bool, err error)
	// PruneEvents deletes the events every consumer has passed.
	PruneEvents(ctx context.Context) (int64, error)
}

// pruneEvery is how often the Notifier prunes the whole log (each step
// prunes its own team already; this catches what concurrent steps left).
const pruneEvery = time.Minute

// Notifier is the log's notify consumer: it fans each team's events out,
// in id order, into the rows the senders work from (a delivery per
// subscribed webhook endpoint, emails), with PostgreSQL alone: it never
// waits on Redis or on the stream Relay, so a change committed while
// Redis is down still reaches webhooks and email. Several may run at once
// (one per worker): a team is fanned out by one at a time. Wakes, when
// set, is only a faster wake-up than Interval.
type Notifier struct {
	Store    NotifyStore
	Wakes    *redis.Client // optional: listen on WakeChannel
	Interval time.Duration // default 1 s
	Batch    int           // events per team and round (default 100)
	Logger   *slog.Logger
	// FannedOut, when set, is called after a round that fanned events
	// out (to wake the senders); it must not block.
	FannedOut func()

	loop   loop
	pruned time.Time
}

// Wake makes the notifier do a round now (or right after the current one).
func (n *Notifier) Wake() { n.loop.Wake() }

// Run fans events out until ctx is done.
func (n *Notifier) Run(ctx context.Context) error {
	return n.loop.run(ctx, n.Interval, n.Wakes, n.Round)
}

// Round fans out one batch of each team with events the notify consumer
// has not passed and reports whether another round could do more at once.
func (n *Notifier) Round(ctx context.Context) (again bool) {
	batch := n.Batch
	if batch <= 0 {
		batch = 100
	}
	total := 0
	again = n.loop.round(ctx, n.Store.FanoutTeams, func(ctx context.Context, t uuid.UUID) (int, error) {
		k, _, err := n.Store.FanoutTeamEvents(ctx, t, batch)
		total += k
		return k, err
	}, batch, n.Logger, "notify")
	if total > 0 && n.FannedOut != nil {
		n.FannedOut()
	}
	if time.Since(n.pruned) > pruneEvery {
		n.pruned = time.Now()
		if _, err := n.Store.PruneEvents(ctx); err != nil && ctx.Err() == nil {
			n.Logger.Warn("events: prune the log", "err", err)
		}
	}
	return again
}
