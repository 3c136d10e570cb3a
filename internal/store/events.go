package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
)

// The event log. Each change that reports team events logs them in its own
// transaction (writeEvents): the change and its events commit together, or
// neither does, whatever Redis is doing. The log's consumers (in the
// workers) each keep a cursor per team: the events relay (events.Relay)
// moves the events to the teams' streams, the notify consumer
// (events.Notifier) fans them out to webhook deliveries and emails (see
// Fanout).

// eventLog collects the events a change reports, in the order it reports
// them; writeEvents writes them last in the change's transaction.
type eventLog struct{ events []domain.Event }

// add logs e with the change.
func (l *eventLog) add(e ...domain.Event) { l.events = append(l.events, e...) }

// logEvents writes evs, team by team (in team id order, so two changes
// never take two teams' clocks in opposite orders), each team's in the
// order given, in one statement per team whatever their number: a block of
// ids from the team's clock (locked until the commit), and the rows. q is
// the commit's batch (see commit).
func logEvents(ctx context.Context, q *db.Queries, evs []domain.Event) error {
	if len(evs) == 0 {
		return nil
	}
	byTeam := map[uuid.UUID][]domain.Event{}
	var teams []uuid.UUID
	for _, e := range evs {
		if _, ok := byTeam[e.TeamID]; !ok {
			teams = append(teams, e.TeamID)
		}
		byTeam[e.TeamID] = append(byTeam[e.TeamID], e)
	}
	slices.SortFunc(teams, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, t := range teams {
		es := byTeam[t]
		types, payloads := make([]string, len(es)), make([]string, len(es))
		for i, e := range es {
			b, err := events.Encode(e)
			if err != nil {
				return fmt.Errorf("store: encode event: %w", err)
			}
			types[i], payloads[i] = string(e.Type), string(b)
		}
		if err := q.LogTeamEvents(ctx, db.LogTeamEventsParams{TeamID: t, Types: types, Payloads: payloads}); err != nil {
			return err
		}
	}
	return nil
}

// The log's consumers, each with its own cursor per team: the Redis
// stream relay and the notify consumer (webhook deliveries, emails, in
// PostgreSQL alone). An event is deleted once both have passed it.
const (
	ConsumerStream = "stream"
	ConsumerNotify = "notify"
)

// eventConsumers are every consumer an event waits for before deletion.
var eventConsumers = []string{ConsumerStream, ConsumerNotify}

// EventTeams lists up to limit teams with events the stream relay has not
// passed, in id order after after (uuid.Nil: from the first).
func (s *Store) EventTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	return s.consumerTeams(ctx, ConsumerStream, after, limit)
}

// FanoutTeams is EventTeams for the notify consumer.
func (s *Store) FanoutTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	return s.consumerTeams(ctx, ConsumerNotify, after, limit)
}

func (s *Store) consumerTeams(ctx context.Context, consumer string, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		ids, err = q.ListConsumerTeams(ctx, db.ListConsumerTeamsParams{Consumer: consumer, After: after, Lim: int32(limit)})
		return err
	})
	return ids, err
}

// errRelayFailed carries deliver's failure out of the transaction.
var errRelayFailed = errors.New("store: event delivery failed")

// RelayTeamEvents hands up to limit of the team's oldest events that the
// stream relay has not passed, in id order, to deliver and, once it
// returns nil, moves the relay's cursor past them, in one transaction held
// under a per-team lock (another relay of the team meanwhile gets busy).
// When deliver fails, or the process dies before the commit, the cursor
// stays and the events are handed over again: delivery is at least once.
// n is how many it passed. Events every consumer has passed are deleted.
func (s *Store) RelayTeamEvents(ctx context.Context, team uuid.UUID, limit int, deliver func(ctx context.Context, recs []events.Record) error) (n int, busy bool, err error) {
	return s.consume(ctx, ConsumerStream, team, limit, func(ctx context.Context, _ *db.Queries, recs []events.Record) error {
		return deliver(ctx, recs)
	})
}

// consume is one step of consumer through team's events: up to limit of
// them, after the consumer's cursor, handed to fn in a transaction that
// moves the cursor past them and deletes what every consumer has passed.
func (s *Store) consume(ctx context.Context, consumer string, team uuid.UUID, limit int, fn func(ctx context.Context, q *db.Queries, recs []events.Record) error) (n int, busy bool, err error) {
	var fnErr error
	err = s.write(ctx, func(q *db.Queries) error {
		n, busy = 0, false
		locked, err := q.TryLockTeamEvents(ctx, db.TryLockTeamEventsParams{Consumer: consumer, TeamID: team})
		if err != nil {
			return err
		}
		if !locked {
			busy = true
			return nil
		}
		rows, err := q.ListTeamEventsAfterCursor(ctx, db.ListTeamEventsAfterCursorParams{Consumer: consumer, TeamID: team, Lim: int32(limit)})
		if err != nil || len(rows) == 0 {
			return err
		}
		recs := make([]events.Record, len(rows))
		for i, r := range rows {
			recs[i] = events.Record{ID: events.ID{MS: uint64(r.Ms), Seq: uint64(r.Seq)}, TeamID: r.TeamID,
				Type: domain.EventType(r.Type), Payload: []byte(r.Payload), LoggedAt: r.CreatedAt}
		}
		if fnErr = fn(ctx, q, recs); fnErr != nil {
			return errRelayFailed
		}
		last := rows[len(rows)-1]
		if err := q.SetTeamEventCursor(ctx, db.SetTeamEventCursorParams{TeamID: team, Consumer: consumer, Ms: last.Ms, Seq: last.Seq}); err != nil {
			return err
		}
		if _, err := q.PruneTeamEvents(ctx, db.PruneTeamEventsParams{TeamID: team, Consumers: eventConsumers}); err != nil {
			return err
		}
		n = len(rows)
		return nil
	})
	if errors.Is(err, errRelayFailed) {
		return 0, false, fnErr
	}
	if err != nil {
		n = 0
	}
	return n, busy, err
}

// PruneEvents deletes every event all consumers have passed. Each
// consumer's step prunes its team as it goes; this catches what two
// consumers passing the same events at once both left (each saw the
// other's old cursor). n is how many it deleted.
func (s *Store) PruneEvents(ctx context.Context) (n int64, err error) {
	err = s.write(ctx, func(q *db.Queries) (err error) {
		n, err = q.PruneEvents(ctx, eventConsumers)
		return err
	})
	return n, err
}

// EventBacklog reports how many events wait in the log for a consumer
// (counted up to 100,000) and the age of the oldest.
func (s *Store) EventBacklog(ctx context.Context) (int64, time.Duration, error) {
	var row db.TeamEventBacklogRow
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		row, err = q.TeamEventBacklog(ctx)
		return err
	})
	return row.Depth, time.Duration(row.OldestSeconds * float64(time.Second)), err
}

// writeLogged is write for a change that reports events (see writeEvents).
func (s *Store) writeLogged(ctx context.Context, fn func(q *db.Queries, log *eventLog) error) error {
	return s.writeEvents(ctx, func(q *db.Queries, log *eventLog) ([]string, error) { return nil, fn(q, log) })
}
