package queue

import (
	"bytes"
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

// Fair dispatch. A job is handed to asynq (admitted) only while its team's
// admitted, unfinished jobs — dispatched to the queue or running — number
// fewer than the team's cap on running jobs (teams.max_running_jobs, or
// CONVEYOR_TEAM_MAX_RUNNING_JOBS). The relay goes round the teams with
// waiting jobs, so the queues hold at most each team's cap: a team's
// backlog of thousands waits in the database, and another team's single
// job is admitted at the next round and waits in asynq behind at most the
// other teams' caps. Within what is admitted, the priority queues and
// their weights apply as before.
//
// Of a team's admitted jobs, at most Ahead wait in asynq not
// started at a time.
//
// Nothing polls the primary in a tight loop: the API admits a team's jobs
// when it queues one, a worker its job's team's when a job starts or ends
// (a place may be free), and a relay wakes when either announces work it
// left on WakeChannel and when the reconciler wrote records; otherwise it
// looks every Interval.

// WakeChannel is the Redis channel on which the API tells the relays that
// a team has jobs waiting it could not admit itself.
const WakeChannel = "conveyor:dispatch:wake"

// SendFunc enqueues the task of d (Client.Send).
type SendFunc = func(ctx context.Context, d domain.Dispatch) error

// AdmitStore admits a team's waiting jobs (see store.Store.AdmitTeam).
type AdmitStore interface {
	AdmitTeam(ctx context.Context, teamID uuid.UUID, lim domain.AdmitLimits, send SendFunc) (domain.Admission, error)
}

// RelayStore is what the relay needs from the database.
type RelayStore interface {
	AdmitStore
	// AdmitTeams lists teams with jobs waiting for admission, after after.
	AdmitTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
	// Resend sends admitted runs again (the reconciler's records).
	Resend(ctx context.Context, limit int, send SendFunc) (int, error)
}

// relayTeams bounds the teams one round looks at; the next round goes on
// from where it stopped.
const relayTeams = 64

// DefaultDispatchAhead bounds each team's admitted jobs not started yet
// (CONVEYOR_DISPATCH_AHEAD): what waits in asynq ahead of another team's
// job. Workers take them at once, and each start tops them up, so a busy
// team keeps its workers fed, while a newcomer's job waits behind at most
// this many of each busy team's tasks, not behind their whole caps.
const DefaultDispatchAhead = 4

// busyRetry is how soon a relay looks again at a team another admitter
// held (what it was about to admit may be left for this one).
const busyRetry = 20 * time.Millisecond

// Relay admits waiting jobs to the queue and sends the reconciler's
// records. Several relays may run at once: a team is admitted by one at a
// time, and each claims records the others do not hold.
type Relay struct {
	Store  RelayStore
	Client *Client
	// DefaultCap is the cap of a team with none of its own.
	DefaultCap int
	// Ahead bounds a team's admitted jobs not started yet (default
	// DefaultDispatchAhead).
	Ahead int
	// Interval is how often an idle relay looks anyway (default 1 s): the
	// bound on a wake-up lost with Redis.
	Interval time.Duration
	Batch    int // records per team and round (default 100)
	Logger   *slog.Logger
	Metrics  *Metrics      // optional
	Wakes    *redis.Client // optional: listen on WakeChannel

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
	for {
		again, busy := r.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if again {
			continue // each such round consumed records: bounded by the backlog
		}
		wait := interval
		if busy {
			wait = busyRetry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// round sends the pending re-sends, then admits what each team with
// waiting jobs has room for, round-robin from where the last round
// stopped. again reports whether another round could do more at once;
// busy whether another admitter held a team.
func (r *Relay) round(ctx context.Context) (again, busy bool) {
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	n, err := r.Store.Resend(ctx, batch, r.Client.Send)
	r.dispatched(n)
	if err != nil && ctx.Err() == nil {
		r.Logger.Warn("queue: re-send round failed", "err", err)
	}
	again = n == batch
	teams, err := r.teams(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.Logger.Warn("queue: list teams with waiting jobs", "err", err)
		}
		return again, false
	}
	atCap := 0
	for _, t := range teams {
		a, err := r.Store.AdmitTeam(ctx, t, domain.AdmitLimits{DefaultCap: r.DefaultCap, Ahead: ahead(r.Ahead), Batch: batch}, r.Client.Send)
		if err != nil {
			if ctx.Err() == nil {
				r.Logger.Warn("queue: admission round failed", "team", t, "err", err)
			}
			continue
		}
		r.cursor = t
		r.admitted(a)
		busy = busy || a.Busy
		again = again || a.Again()
		if a.AtCap {
			atCap++
		}
	}
	if len(teams) == relayTeams {
		again = true // more teams than one round looks at
	}
	if r.Metrics != nil {
		r.Metrics.TeamsWaiting.Set(float64(len(teams)))
		r.Metrics.TeamsAtCap.Set(float64(atCap))
	}
	return again, busy
}

// teams lists up to relayTeams teams with waiting jobs, the ones after
// the cursor first, then from the start.
func (r *Relay) teams(ctx context.Context) ([]uuid.UUID, error) {
	teams, err := r.Store.AdmitTeams(ctx, r.cursor, relayTeams)
	if err != nil || len(teams) == relayTeams || r.cursor == uuid.Nil {
		return teams, err
	}
	more, err := r.Store.AdmitTeams(ctx, uuid.Nil, relayTeams-len(teams))
	for _, t := range more {
		if bytes.Compare(t[:], r.cursor[:]) > 0 {
			break // listed already
		}
		teams = append(teams, t)
	}
	return teams, err
}

func ahead(n int) int {
	if n <= 0 {
		return DefaultDispatchAhead
	}
	return n
}

func (r *Relay) dispatched(n int) {
	if r.Metrics != nil && n > 0 {
		r.Metrics.Dispatched.Add(float64(n))
	}
}

func (r *Relay) admitted(a domain.Admission) {
	r.dispatched(a.Admitted + a.Resent)
	if r.Metrics != nil {
		for _, w := range a.Waits {
			r.Metrics.AdmitWait.Observe(w.Seconds())
		}
	}
}

// Admitter admits one team's waiting jobs while the team has room, sparing
// them a relay round, and wakes the relays when it could not finish: the
// API's, right after a job is queued or cancelled (it also cancels
// running tasks: jobs.Queue), and the worker's, when a job starts or ends.
type Admitter struct {
	*Client
	Store      AdmitStore
	DefaultCap int
	Ahead      int           // as Relay.Ahead
	Wakes      *redis.Client // optional: publish on WakeChannel
	Logger     *slog.Logger
}

// directAdmits bounds what one API call admits; the relays do the rest.
const directAdmits = 8

// Admit admits up to a few of the team's waiting jobs, best effort.
func (a *Admitter) Admit(ctx context.Context, teamID uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	res, err := a.Store.AdmitTeam(ctx, teamID, domain.AdmitLimits{DefaultCap: a.DefaultCap, Ahead: ahead(a.Ahead), Batch: directAdmits}, a.Client.Send)
	if err != nil {
		a.Logger.Info("queue: direct admission failed; the relay will admit the team's jobs", "team", teamID, "err", err)
	}
	if err != nil || res.Busy || res.Again() {
		a.wakeRelays(ctx)
	}
}

func (a *Admitter) wakeRelays(ctx context.Context) {
	if a.Wakes == nil {
		return
	}
	if err := a.Wakes.Publish(ctx, WakeChannel, "").Err(); err != nil {
		a.Logger.Info("queue: wake the relays; they look on their own within a second", "err", err)
	}
}

// BacklogStore counts the jobs waiting for admission.
type BacklogStore interface {
	DispatchBacklog(ctx context.Context) (waiting int64, oldest time.Duration, err error)
}

// Backlog exports, at each scrape, the jobs waiting for admission over all
// teams and the oldest one's wait: with fair dispatch most of a backlog
// waits in the database, not in asynq's queues, so this (with
// conveyor_queue_tasks) is what to scale workers and alert on.
type Backlog struct {
	Store   BacklogStore
	waiting *prometheus.Desc
	oldest  *prometheus.Desc
}

// NewBacklog returns the collector; register it with the worker's registry.
func NewBacklog(s BacklogStore) *Backlog {
	return &Backlog{Store: s,
		waiting: prometheus.NewDesc("conveyor_dispatch_jobs_waiting", "Jobs queued but not yet handed to the queue (their team is at its cap or its share of the queue), all teams together.", nil, nil),
		oldest:  prometheus.NewDesc("conveyor_dispatch_oldest_waiting_seconds", "How long the oldest job waiting for admission to the queue has waited.", nil, nil)}
}

// Describe implements prometheus.Collector.
func (b *Backlog) Describe(ch chan<- *prometheus.Desc) { ch <- b.waiting; ch <- b.oldest }

// Collect implements prometheus.Collector; the database unreachable
// exports nothing (the worker's /readyz says so).
func (b *Backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := b.Store.DispatchBacklog(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(b.waiting, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(b.oldest, prometheus.GaugeValue, oldest.Seconds())
}
