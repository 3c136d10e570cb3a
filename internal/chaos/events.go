package chaos

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/events"
)

// subscriber follows one team's events across resumes: every few seconds
// it closes its stream and opens a new one with Last-Event-ID (and the SDK
// reconnects by itself whenever a connection drops).
type subscriber struct {
	team uuid.UUID

	mu         sync.Mutex
	got        map[string]bool
	first      events.ID
	last       events.ID
	received   int
	repeats    int
	resumes    int
	reconnects int
	resets     int
	errs       []string
}

// subscribe runs s until ctx ends; while load is on it resumes every 2-6 s.
func (r *run) subscribe(ctx, load context.Context, c *conveyor.Client, s *subscriber, seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	last := ""
	for ctx.Err() == nil {
		var st *conveyor.EventStream
		err := r.rec.do(ctx, "streamTeamEvents", func(cctx context.Context) error {
			opts := []conveyor.EventsOption{
				conveyor.WithIdleTimeout(20 * time.Second),
				conveyor.WithReconnectHook(func(error, time.Duration) {
					s.mu.Lock()
					s.reconnects++
					s.mu.Unlock()
				}),
			}
			if last != "" {
				opts = append(opts, conveyor.WithLastEventID(last))
			}
			var err error
			st, err = c.Events(cctx, s.team, opts...)
			return err
		})
		if err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err.Error())
			s.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		var cancelClose func() bool
		if load.Err() == nil {
			cancelClose = time.AfterFunc(time.Duration(2000+rng.IntN(4000))*time.Millisecond, func() { _ = st.Close() }).Stop
		} else {
			cancelClose = context.AfterFunc(ctx, func() { _ = st.Close() })
		}
		for {
			ev, err := st.Next()
			if err != nil {
				if !errors.Is(err, conveyor.ErrStreamClosed) && ctx.Err() == nil {
					s.mu.Lock()
					s.errs = append(s.errs, err.Error())
					s.mu.Unlock()
				}
				break
			}
			s.note(ev)
		}
		cancelClose()
		last = st.LastEventID()
		s.mu.Lock()
		s.resumes++
		s.mu.Unlock()
	}
}

func (s *subscriber) note(ev *conveyor.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Type == conveyor.EventTypeReset {
		s.resets++
		return
	}
	id, ok := events.ParseID(ev.Id)
	if !ok {
		s.errs = append(s.errs, "unparsable event id "+ev.Id)
		return
	}
	s.received++
	if s.got[ev.Id] {
		s.repeats++
		return
	}
	s.got[ev.Id] = true
	if s.first == (events.ID{}) || id.Less(s.first) {
		s.first = id
	}
	if s.last.Less(id) {
		s.last = id
	}
}

// historyDDL records every event logged in the primary's team_events (in
// the transaction that logs it) in a table of the run's own, since the
// relay deletes what it delivered and a Redis restart empties the
// backlog: the full history to compare each stream with.
const historyDDL = `
CREATE TABLE IF NOT EXISTS chaos_event_history (
    team_id uuid NOT NULL, ms bigint NOT NULL, seq bigint NOT NULL, type text NOT NULL,
    PRIMARY KEY (team_id, ms, seq));
CREATE OR REPLACE FUNCTION chaos_event_history_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO chaos_event_history (team_id, ms, seq, type) VALUES (NEW.team_id, NEW.ms, NEW.seq, NEW.type)
    ON CONFLICT DO NOTHING;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS chaos_event_history_copy ON team_events;
CREATE TRIGGER chaos_event_history_copy AFTER INSERT ON team_events
    FOR EACH ROW EXECUTE FUNCTION chaos_event_history_copy();`

func (r *run) installHistory(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, r.t.PrimaryURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, historyDDL)
	return err
}

// history returns each team's logged event ids, in order.
func history(ctx context.Context, conn *pgx.Conn, teams []uuid.UUID) (map[uuid.UUID][]events.ID, error) {
	rows, err := conn.Query(ctx, `SELECT team_id, ms, seq FROM chaos_event_history WHERE team_id = ANY($1) ORDER BY team_id, ms, seq`, teams)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uuid.UUID][]events.ID{}
	for rows.Next() {
		var team uuid.UUID
		var id events.ID
		var ms, seq int64
		if err := rows.Scan(&team, &ms, &seq); err != nil {
			return nil, err
		}
		id.MS, id.Seq = uint64(ms), uint64(seq)
		out[team] = append(out[team], id)
	}
	return out, rows.Err()
}
