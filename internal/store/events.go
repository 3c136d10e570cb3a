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
// neither does, whatever Redis is doing. The events relay
// (events.Relay, in the workers) moves them to the teams' streams.

// eventLog collects the events a change reports, in the order it reports
// them; writeEvents writes them last in the change's transaction.
type eventLog struct{ events []domain.Event }

// add logs e with the change.
func (l *eventLog) add(e ...domain.Event) { l.events = append(l.events, e...) }

// logEvents writes evs, team by team (in team id order, so two changes
// never take two teams' clocks in opposite orders), each team's in the
// order given: a block of ids from the team's clock (locked until the
// commit), then the rows, in two statements whatever their number.
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
		tick, err := q.TickTeamEventClock(ctx, db.TickTeamEventClockParams{TeamID: t, N: int64(len(es))})
		if err != nil {
			return err
		}
		seqs := make([]int64, len(es))
		for i := range seqs {
			seqs[i] = tick.Seq - int64(len(es)-1-i)
		}
		if err := q.InsertTeamEvents(ctx, db.InsertTeamEventsParams{TeamID: t, Ms: tick.Ms, Seqs: seqs, Types: types, Payloads: payloads}); err != nil {
			return err
		}
	}
	return nil
}

// EventTeams lists up to limit teams with logged events, in id order after
// after (uuid.Nil: from the first).
func (s *Store) EventTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		ids, err = q.ListEventTeams(ctx, db.ListEventTeamsParams{After: after, Lim: int32(limit)})
		return err
	})
	return ids, err
}

// errRelayFailed carries deliver's failure out of the transaction.
var errRelayFailed = errors.New("store: event delivery failed")

// RelayTeamEvents hands up to limit of the team's oldest logged events, in
// id order, to deliver and, once it returns nil, removes them from the log,
// in one transaction held under a per-team lock (another relay of the team
// meanwhile gets busy). When deliver fails, or the process dies before the
// commit, the events stay and are handed over again: delivery is at least
// once. n is how many were removed.
//
// The log's later consumers (webhook deliveries, emails) are fed here, in
// the same transaction: each event fanned out into its consumer's table
// (a delivery row per matching endpoint, an email row) is removed with it,
// so every consumer gets each event once and in order.
func (s *Store) RelayTeamEvents(ctx context.Context, team uuid.UUID, limit int, deliver func(ctx context.Context, recs []events.Record) error) (n int, busy bool, err error) {
	var deliverErr error
	err = s.write(ctx, func(q *db.Queries) error {
		n, busy = 0, false
		locked, err := q.TryLockTeamEvents(ctx, team)
		if err != nil {
			return err
		}
		if !locked {
			busy = true
			return nil
		}
		rows, err := q.ListTeamEvents(ctx, db.ListTeamEventsParams{TeamID: team, Limit: int32(limit)})
		if err != nil || len(rows) == 0 {
			return err
		}
		recs := make([]events.Record, len(rows))
		for i, r := range rows {
			recs[i] = events.Record{ID: events.ID{MS: uint64(r.Ms), Seq: uint64(r.Seq)}, TeamID: r.TeamID,
				Type: domain.EventType(r.Type), Payload: []byte(r.Payload), LoggedAt: r.CreatedAt}
		}
		if deliverErr = deliver(ctx, recs); deliverErr != nil {
			return errRelayFailed
		}
		last := rows[len(rows)-1]
		if err := q.DeleteTeamEventsThrough(ctx, db.DeleteTeamEventsThroughParams{TeamID: team, Ms: last.Ms, Seq: last.Seq}); err != nil {
			return err
		}
		n = len(rows)
		return nil
	})
	if errors.Is(err, errRelayFailed) {
		return 0, false, deliverErr
	}
	if err != nil {
		n = 0
	}
	return n, busy, err
}

// EventBacklog reports how many events wait in the log (counted up to
// 100,000) and the age of the oldest.
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
