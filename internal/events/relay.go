package events

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/breaker"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// WakeChannel is the Redis channel on which a process that committed
// events tells the relays to look now.
const WakeChannel = "conveyor:events:wake"

// Record is an event as the log keeps it: its id (ordered within the
// team), its type, its wire payload and when it was logged.
type Record struct {
	ID       ID
	TeamID   uuid.UUID
	Type     domain.EventType
	Payload  []byte
	LoggedAt time.Time
}

// RelayStore is what the relay needs of the event log (store.Store).
type RelayStore interface {
	// EventTeams lists up to limit teams with logged events, in id order
	// after after (uuid.Nil: from the first).
	EventTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
	// RelayTeamEvents hands up to limit of the team's oldest events, in
	// id order, to deliver and, when it succeeds, removes them from the
	// log, in one transaction under a per-team lock; busy reports that
	// another relay holds the team.
	RelayTeamEvents(ctx context.Context, team uuid.UUID, limit int, deliver func(ctx context.Context, recs []Record) error) (n int, busy bool, err error)
	// EventBacklog reports how many events wait in the log (counted up
	// to a bound) and how long the oldest has.
	EventBacklog(ctx context.Context) (depth int64, oldest time.Duration, err error)
}

// relayTeams bounds the teams one round looks at.
const relayTeams = 64

// Relay moves logged events to their teams' Redis streams, each team's in
// id order, and removes what it delivered. Several may run at once (one
// per worker): a team is relayed by one at a time.
//
// A later consumer of the log (webhook deliveries, emails) hooks into
// RelayTeamEvents' transaction: it fans each event out into its own table
// there (a delivery per matching endpoint), so it gets each event once,
// in order, with the removal; see the store.
//
// Nothing polls in a tight loop: a relay looks when woken (a commit in
// this process, or WakeChannel), after a round that filled a batch, and
// otherwise every Interval, which bounds how long an event waits when a
// wake-up was lost (Redis down at the commit).
type Relay struct {
	Store    RelayStore
	Redis    redis.Scripter
	Wakes    *redis.Client // optional: listen on WakeChannel
	Interval time.Duration // default 1 s
	Batch    int           // events per team and round (default 100)
	Logger   *slog.Logger
	Metrics  *RelayMetrics // optional

	once   sync.Once
	wake   chan struct{}
	cursor uuid.UUID
}

func (r *Relay) wakeCh() chan struct{} {
	r.once.Do(func() { r.wake = make(chan struct{}, 1) })
	return r.wake
}

// Wake makes the relay do a round now (or right after the current one).
func (r *Relay) Wake() {
	select {
	case r.wakeCh() <- struct{}{}:
	default:
	}
}

// Run relays until ctx is done.
func (r *Relay) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Second
	}
	if r.Wakes != nil {
		go breaker.Listen(ctx, func(ctx context.Context) *redis.PubSub {
			return r.Wakes.Subscribe(ctx, WakeChannel)
		}, func(m any) {
			if _, ok := m.(*redis.Message); ok {
				r.Wake()
			}
		})
	}
	wake := r.wakeCh()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		again := r.Round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if again {
			continue // each such round removed a full batch: bounded by the log
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

// Round relays one batch of each team with logged events (up to
// relayTeams teams, round-robin) and reports whether another round could
// do more at once.
func (r *Relay) Round(ctx context.Context) (again bool) {
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	teams, err := r.teams(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.Logger.Warn("events: list teams with logged events", "err", err)
		}
		return false
	}
	failed := false
	for _, t := range teams {
		n, _, err := r.Store.RelayTeamEvents(ctx, t, batch, r.deliver)
		if err != nil {
			if ctx.Err() == nil && !failed {
				// Once per round: with Redis down every team fails alike.
				r.Logger.Warn("events: relay round failed; the events stay logged and go out later", "team", t, "err", err)
			}
			failed = true
			continue
		}
		r.cursor = t
		again = again || n == batch
	}
	if len(teams) == relayTeams && !failed {
		again = true
	}
	r.observe(ctx)
	return again && !failed
}

// deliver appends the streamed events of recs (one team's) to the team's
// stream; the others are for the log's other consumers only.
func (r *Relay) deliver(ctx context.Context, recs []Record) error {
	streamed := recs[:0:0]
	for _, rec := range recs {
		if rec.Type.Streamed() {
			streamed = append(streamed, rec)
		}
	}
	if len(streamed) > 0 {
		if _, err := appendToStream(ctx, r.Redis, streamed[0].TeamID, streamed); err != nil {
			return err
		}
	}
	if r.Metrics != nil {
		now := time.Now()
		for _, rec := range recs {
			r.Metrics.Lag.Observe(now.Sub(rec.LoggedAt).Seconds())
		}
		r.Metrics.Relayed.Add(float64(len(recs)))
	}
	return nil
}

// teams lists up to relayTeams teams with logged events, the ones after
// the cursor first, then from the start.
func (r *Relay) teams(ctx context.Context) ([]uuid.UUID, error) {
	teams, err := r.Store.EventTeams(ctx, r.cursor, relayTeams)
	if err != nil || len(teams) == relayTeams || r.cursor == uuid.Nil {
		return teams, err
	}
	more, err := r.Store.EventTeams(ctx, uuid.Nil, relayTeams-len(teams))
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

func (r *Relay) observe(ctx context.Context) {
	if r.Metrics == nil {
		return
	}
	depth, oldest, err := r.Store.EventBacklog(ctx)
	if err != nil {
		return
	}
	r.Metrics.Depth.Set(float64(depth))
	r.Metrics.OldestAge.Set(oldest.Seconds())
}

// RelayMetrics are the relay's metrics; none is labelled by team.
type RelayMetrics struct {
	Depth     prometheus.Gauge
	OldestAge prometheus.Gauge
	Lag       prometheus.Histogram
	Relayed   prometheus.Counter
}

// NewRelayMetrics registers the relay's metrics with reg.
func NewRelayMetrics(reg prometheus.Registerer) *RelayMetrics {
	m := &RelayMetrics{
		Depth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "conveyor_event_outbox_depth",
			Help: "Events logged and not yet relayed, at the relay's last round (counted up to 100000)."}),
		OldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "conveyor_event_outbox_oldest_age_seconds",
			Help: "Age of the oldest event not yet relayed, at the relay's last round (0: none)."}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "conveyor_event_relay_lag_seconds",
			Help:    "Time from an event's commit to its relay to the team's stream.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}),
		Relayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "conveyor_events_relayed_total",
			Help: "Events relayed from the log (and removed from it)."}),
	}
	reg.MustRegister(m.Depth, m.OldestAge, m.Lag, m.Relayed)
	return m
}
