package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/events"
)

// Fanout is a consumer of the event log that keeps what it makes of the
// events in PostgreSQL: webhook deliveries (built in), email outbox rows,
// and so on. The notify consumer (FanoutTeamEvents) hands each registered
// Fanout a batch of one team's events, in id order, inside the one
// transaction that moves its cursor past them; q runs in that transaction.
// So what a Fanout writes with q commits exactly when the events count as
// consumed: each event is fanned out once (a step that fails or dies
// before the commit is done again, whole), whatever Redis is doing (the
// notify consumer never touches it).
//
// A Fanout must only write rows (no network calls, nothing slow: the
// team's notify step holds its lock meanwhile); the sending is done later,
// by a worker reading those rows. An error rolls back the whole batch,
// every Fanout's rows with it, and the batch is handed over again at the
// next round: return one only for a failure worth retrying (the
// database's), and skip events you cannot use. recs[i].Payload is the
// event in the wire encoding (events.Decode reads it).
type Fanout interface {
	Fanout(ctx context.Context, q *db.Queries, recs []events.Record) error
}

// FanoutFunc is a Fanout made of a function.
type FanoutFunc func(ctx context.Context, q *db.Queries, recs []events.Record) error

// Fanout calls f.
func (f FanoutFunc) Fanout(ctx context.Context, q *db.Queries, recs []events.Record) error {
	return f(ctx, q, recs)
}

type namedFanout struct {
	name string
	f    Fanout
}

// fanouts is the registry of the notify consumer: the webhook fan-out
// (built in, first), then the registered ones in registration order.
type fanouts struct {
	mu   sync.RWMutex
	list []namedFanout
}

// RegisterFanout adds f, under name (unique: "email", say), to what the
// notify consumer runs in each of its transactions, after the webhook
// fan-out and those registered before it. Register at wiring time, before
// the notify consumer runs (events.Notifier in `conveyor work`); it is
// safe for concurrent use anyway. It returns an error for a name already
// registered.
func (s *Store) RegisterFanout(name string, f Fanout) error {
	s.fanouts.mu.Lock()
	defer s.fanouts.mu.Unlock()
	if name == "webhooks" {
		return fmt.Errorf("store: fan-out %q is built in", name)
	}
	for _, n := range s.fanouts.list {
		if n.name == name {
			return fmt.Errorf("store: fan-out %q is registered already", name)
		}
	}
	s.fanouts.list = append(s.fanouts.list, namedFanout{name, f})
	return nil
}

// FanoutTeamEvents is one step of the notify consumer for a team: up to
// limit of the team's events it has not passed, in id order, fanned out by
// the webhook fan-out and every registered Fanout in one transaction that
// also moves its cursor past them, under a per-team lock (busy: another
// worker holds the team). n is how many events it passed. It needs
// PostgreSQL alone.
func (s *Store) FanoutTeamEvents(ctx context.Context, team uuid.UUID, limit int) (n int, busy bool, err error) {
	s.fanouts.mu.RLock()
	list := append([]namedFanout{{"webhooks", FanoutFunc(s.fanoutWebhooks)}}, s.fanouts.list...)
	s.fanouts.mu.RUnlock()
	return s.consume(ctx, ConsumerNotify, team, limit, func(ctx context.Context, q *db.Queries, recs []events.Record) error {
		for _, f := range list {
			if err := f.f.Fanout(ctx, q, recs); err != nil {
				return fmt.Errorf("fan-out %s: %w", f.name, err)
			}
		}
		return nil
	})
}
