package events

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/breaker"
)

// loop runs the rounds of one consumer of the log: a round does one step
// of each team with events the consumer has not passed (up to relayTeams
// teams, round-robin from where the last round stopped). Nothing polls in
// a tight loop: a consumer looks when woken (a commit in this process, or
// WakeChannel), after a round that filled a batch, and otherwise every
// interval, which bounds how long an event waits when a wake-up was lost
// (Redis down at the commit).
type loop struct {
	once   sync.Once
	wake   chan struct{}
	cursor uuid.UUID
}

func (l *loop) wakeCh() chan struct{} {
	l.once.Do(func() { l.wake = make(chan struct{}, 1) })
	return l.wake
}

// Wake makes the loop do a round now (or right after the current one).
func (l *loop) Wake() {
	select {
	case l.wakeCh() <- struct{}{}:
	default:
	}
}

// run does rounds until ctx is done; wakes, when set, is listened to on
// WakeChannel.
func (l *loop) run(ctx context.Context, interval time.Duration, wakes *redis.Client, round func(context.Context) bool) error {
	if interval <= 0 {
		interval = time.Second
	}
	if wakes != nil {
		go breaker.Listen(ctx, func(ctx context.Context) *redis.PubSub {
			return wakes.Subscribe(ctx, WakeChannel)
		}, func(m any) {
			if _, ok := m.(*redis.Message); ok {
				l.Wake()
			}
		})
	}
	wake := l.wakeCh()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		again := round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if again {
			continue // each such round passed a full batch: bounded by the log
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// round does one step of each team list names (up to relayTeams) and
// reports whether another round could do more at once: a step passed a
// full batch, or there were more teams than one round looks at.
func (l *loop) round(ctx context.Context, list func(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error),
	step func(ctx context.Context, team uuid.UUID) (int, error), batch int, log *slog.Logger, what string) (again bool) {
	teams, err := l.teams(ctx, list)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("events: "+what+": list teams with logged events", "err", err)
		}
		return false
	}
	failed := false
	for _, t := range teams {
		n, err := step(ctx, t)
		if err != nil {
			if ctx.Err() == nil && !failed {
				// Once per round: with a dependency down every team fails alike.
				log.Warn("events: "+what+" round failed; the events stay logged and go out later", "team", t, "err", err)
			}
			failed = true
			continue
		}
		l.cursor = t
		again = again || n == batch
	}
	if len(teams) == relayTeams && !failed {
		again = true
	}
	return again && !failed
}

// teams lists up to relayTeams teams, the ones after the cursor first,
// then from the start.
func (l *loop) teams(ctx context.Context, list func(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)) ([]uuid.UUID, error) {
	teams, err := list(ctx, l.cursor, relayTeams)
	if err != nil || len(teams) == relayTeams || l.cursor == uuid.Nil {
		return teams, err
	}
	more, err := list(ctx, uuid.Nil, relayTeams-len(teams))
	seen := make(map[uuid.UUID]bool, len(teams))
	for _, t := range teams {
		seen[t] = true
	}
	for _, t := range more {
		if !seen[t] {
			teams = append(teams, t)
		}
	}
	return teams, err
}
