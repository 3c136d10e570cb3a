package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

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
	// EventTeams lists up to limit teams with events the relay has not
	// passed, in id order after after (uuid.Nil: from the first).
	EventTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
	// RelayTeamEvents hands up to limit of the team's oldest events the
	// relay has not passed, in id order, to deliver and, when it
	// succeeds, moves the relay's cursor past them, in one transaction
	// under a per-team lock; busy reports that another relay holds the
	// team.
	RelayTeamEvents(ctx context.Context, team uuid.UUID, limit int, deliver func(ctx context.Context, recs []Record) error) (n int, busy bool, err error)
	// EventBacklog reports how many events wait in the log (counted up
	// to a bound) and how long the oldest has.
	EventBacklog(ctx context.Context) (depth int64, oldest time.Duration, err error)
}

// relayTeams bounds the teams one round looks at.
const relayTeams = 64

// Relay moves logged events to their teams' Redis streams, each team's in
// id order, and moves its cursor past what it delivered. Several may run
// at once (one per worker): a team is relayed by one at a time.
//
// The relay is one of the log's consumers; the Notifier is the other, and
// never waits on this one (nor on Redis).
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

	loop loop
}

// Wake makes the relay do a round now (or right after the current one).
func (r *Relay) Wake() { r.loop.Wake() }

// Run relays until ctx is done.
func (r *Relay) Run(ctx context.Context) error {
	return r.loop.run(ctx, r.Interval, r.Wakes, r.Round)
}

// Round relays one batch of each team with logged events (up to
// relayTeams teams, round-robin) and reports whether another round could
// do more at once.
func (r *Relay) Round(ctx context.Context) (again bool) {
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	again = r.loop.round(ctx, r.Store.EventTeams, func(ctx context.Context, t uuid.UUID) (int, error) {
		n, _, err := r.Store.RelayTeamEvents(ctx, t, batch, r.deliver)
		return n, err
	}, batch, r.Logger, "relay")
	r.observe(ctx)
	return again
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
			Help: "Events logged and not yet passed by every consumer of the log (stream relay, notify), at the relay's last round (counted up to 100000)."}),
		OldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "conveyor_event_outbox_oldest_age_seconds",
			Help: "Age of the oldest event not yet passed by every consumer of the log, at the relay's last round (0: none)."}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "conveyor_event_relay_lag_seconds",
			Help:    "Time from an event's commit to its relay to the team's stream.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}),
		Relayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "conveyor_events_relayed_total",
			Help: "Events relayed from the log to the teams' streams."}),
	}
	reg.MustRegister(m.Depth, m.OldestAge, m.Lag, m.Relayed)
	return m
}
