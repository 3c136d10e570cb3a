// Package store is Conveyor's PostgreSQL adapter. It owns the pools (one for
// the primary, one per replica, all through PgBouncer), decides where each
// query runs, keeps transactions inside its methods, and maps sqlc rows to
// domain types.
//
// Routing: writes and transactions go to the primary. Reads go to a healthy
// replica that has replayed past the caller's last write (read-your-writes,
// remembered in Redis so it holds across API processes), else to the
// primary. A read that fails with a connection error is retried once on the
// next candidate.
//
// The event log (events.go) is written in the transaction of each change
// that reports events, and read by its consumers, each with a cursor per
// team: the Redis stream relay (RelayTeamEvents) and the notify consumer
// (FanoutTeamEvents), which runs every registered Fanout (RegisterFanout;
// webhook deliveries built in) in its own transaction, with PostgreSQL
// alone.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// Options configures a Store.
type Options struct {
	PrimaryURL        string
	ReplicaURLs       []string
	PrimaryMaxConns   int32         // connections to the primary (through PgBouncer)
	ReplicaMaxConns   int32         // connections to each replica
	MaxLagBytes       int64         // a replica further behind the primary than this is skipped
	MaxLagTime        time.Duration // ... or whose replay is older than this while behind
	CheckInterval     time.Duration // how often replicas are checked
	WriteTimeout      time.Duration // a write that cannot reach the primary fails after this
	ReadYourWritesTTL time.Duration // how long a principal's last write position is kept
	ReplayWait        time.Duration // with the primary down, how long a read waits for a replica to pass the caller's mark
	Marks             Marks         // where write positions are kept (Redis); nil disables read-your-writes
	// EventsLogged, when set, is called after a commit that logged team
	// events (to wake the event relays); it must not block for long.
	EventsLogged func(ctx context.Context)
	Logger       *slog.Logger
	Trace        bool // a span per statement (see queryTracer); off, pgx runs without a tracer

	// dialPrimary, when set, dials the primary's connections (tests count
	// round trips with it).
	dialPrimary func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Marks keeps each principal's last write position (a WAL LSN).
type Marks interface {
	Get(ctx context.Context, key string) (uint64, error) // 0 when none
	Set(ctx context.Context, key string, lsn uint64, ttl time.Duration) error
}

// Store is the database. Its methods are safe for concurrent use.
type Store struct {
	opts     Options
	primary  *target
	replicas []*target
	primLSN  atomic.Uint64 // the primary's WAL position at the last check
	primDown atomic.Bool   // the primary failed its last check or a read could not reach it
	metrics  *metrics
	fanouts  fanouts // the notify consumer's (see Fanout)
	stop     context.CancelFunc
	done     chan struct{}
}

// Open connects the pools and starts the replica checker. It does not fail
// when a server is down: the store routes around it until it returns.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 250 * time.Millisecond
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.ReadYourWritesTTL <= 0 {
		opts.ReadYourWritesTTL = 5 * time.Minute
	}
	if opts.ReplayWait <= 0 {
		opts.ReplayWait = 2 * time.Second
	}
	s := &Store{opts: opts, metrics: newMetrics(), done: make(chan struct{})}
	var err error
	if s.primary, err = newTarget(ctx, "primary", opts.PrimaryURL, opts.PrimaryMaxConns, opts.Trace, opts.dialPrimary); err != nil {
		return nil, err
	}
	for i, u := range opts.ReplicaURLs {
		t, err := newTarget(ctx, fmt.Sprintf("replica%d", i+1), u, opts.ReplicaMaxConns, opts.Trace, nil)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.replicas = append(s.replicas, t)
	}
	s.metrics.register(s)
	checkCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	s.checkAll(checkCtx)
	go s.checkLoop(checkCtx)
	return s, nil
}

// Close stops the checker and closes every pool.
func (s *Store) Close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	if s.primary != nil {
		s.primary.pool.Close()
	}
	for _, r := range s.replicas {
		r.pool.Close()
	}
}

// Primary returns the primary's pool, for migrations-adjacent tools and the
// queue relay's transactions.
func (s *Store) Primary() *pgxpool.Pool { return s.primary.pool }

type target struct {
	name      string
	pool      *pgxpool.Pool
	healthy   atomic.Bool
	reachable atomic.Bool   // replicas: answered the last check
	checked   atomic.Int64  // replicas: when the last check ended (unix nanoseconds; 0: never)
	replay    atomic.Uint64 // replicas: the replayed WAL position at the last check
	lagB      atomic.Int64
	lagT      atomic.Int64 // nanoseconds
}

func newTarget(ctx context.Context, name, url string, maxConns int32, trace bool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*target, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: %s url: %w", name, err)
	}
	// PgBouncer in transaction mode cannot keep named prepared statements:
	// describe once per statement, execute unnamed.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	if trace {
		cfg.ConnConfig.Tracer = queryTracer()
	}
	if dial != nil {
		cfg.ConnConfig.DialFunc = dial
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 3*time.Second {
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.MaxConnIdleTime = time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s pool: %w", name, err)
	}
	t := &target{name: name, pool: pool}
	t.healthy.Store(true)
	return t, nil
}

// Ready reports an error when the primary or every replica is unreachable.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.primary.pool.Ping(ctx); err != nil {
		return fmt.Errorf("primary: %w", err)
	}
	if len(s.replicas) == 0 {
		return nil
	}
	for _, r := range s.replicas {
		if r.healthy.Load() {
			return nil
		}
	}
	return errors.New("no healthy replica")
}

// write runs fn in a transaction on the primary and, once it commits,
// remembers the primary's WAL position for the calling principal.
func (s *Store) write(ctx context.Context, fn func(q *db.Queries) error) error {
	return s.writeFor(ctx, func(q *db.Queries) ([]string, error) { return nil, fn(q) })
}

// writeFor is write for a change that also concerns other principals (a
// new member, a new API key, a user claiming an invitation): fn returns
// their keys, and their positions move too, so their next reads see what
// was just granted to them.
func (s *Store) writeFor(ctx context.Context, fn func(q *db.Queries) ([]string, error)) error {
	return s.writeEvents(ctx, func(q *db.Queries, _ *eventLog) ([]string, error) { return fn(q) })
}

// read runs fn against the best candidate for the caller, retrying once on
// the next candidate when the first cannot be reached.
//
// For a principal, the write position is fetched from Redis while fn runs
// on the best healthy replica: the result is kept when that replica had
// (by the position it reported before the query started) replayed past
// the principal's last write, which is the common case; otherwise fn runs
// again on a candidate that has. The lookup's latency is thus hidden
// behind the query instead of added to it.
func (s *Store) read(ctx context.Context, fn func(q *db.Queries) error) error {
	return s.readPast(ctx, nil, fn)
}

// readPast is read for a result that must also include the writes last
// marked under keys (besides the caller's own): the read waits for, or
// goes past, the furthest of those positions.
func (s *Store) readPast(ctx context.Context, keys []string, fn func(q *db.Queries) error) error {
	if p := domain.PrincipalFrom(ctx); p != nil {
		keys = append(keys[:len(keys):len(keys)], p.Key())
	}
	if len(keys) == 0 || s.opts.Marks == nil || len(s.replicas) == 0 {
		return s.readFrom(ctx, s.candidates(0), fn)
	}
	first := s.candidates(0)[0]
	if first == s.primary {
		// Every replica is down: the primary has every write, no need to ask.
		return s.readFrom(ctx, []*target{s.primary}, fn)
	}
	marks := make(chan uint64, 1) // buffered: the lookup never blocks on a reader that left
	go func() { marks <- s.writePosition(ctx, keys) }()
	replayed := first.replay.Load()
	err := fn(db.New(first.pool))
	s.metrics.query(first.name, "read", err)
	after := <-marks
	if replayed >= after && (err == nil || !retryable(first, err)) {
		return mapErr(err)
	}
	if err != nil && retryable(first, err) {
		s.readFailed(first, err)
	}
	return s.readAfter(ctx, after, fn)
}

// writePosition returns the furthest last write position of keys; when
// one cannot be known, one no replica has reached (so the primary answers).
func (s *Store) writePosition(ctx context.Context, keys []string) uint64 {
	var after uint64
	for _, k := range keys {
		lsn, err := s.opts.Marks.Get(ctx, k)
		if err != nil {
			return ^uint64(0)
		}
		after = max(after, lsn)
	}
	return after
}

// readFrom runs fn on the first of cands, and once more on the next when
// the first cannot be reached (or answered from behind a migration).
func (s *Store) readFrom(ctx context.Context, cands []*target, fn func(q *db.Queries) error) error {
	var err error
	for i := 0; i < len(cands) && i < 2; i++ {
		t := cands[i]
		err = fn(db.New(t.pool))
		s.metrics.query(t.name, "read", err)
		if err == nil || ctx.Err() != nil || !retryable(t, err) {
			return mapErr(err)
		}
		s.readFailed(t, err)
		if isSchemaLag(err) {
			// The replica has not replayed a migration yet: the primary has it.
			cands = append(cands[:i+1], s.primary)
		}
	}
	return mapErr(err)
}

// retryable reports whether a read that failed with err on t may succeed
// elsewhere: t could not be reached, or (a replica) lacks the schema yet.
func retryable(t *target, err error) bool {
	return isConnErr(err) || (t.name != "primary" && isSchemaLag(err))
}

func (s *Store) readFailed(t *target, err error) {
	if t != s.primary && isConnErr(err) {
		t.healthy.Store(false)
	}
	if t == s.primary && isConnErr(err) {
		s.primDown.Store(true)
	}
	s.opts.Logger.Warn("store: read failed, trying next", "target", t.name, "err", err)
}

// route lists where the caller's read may go, best first: the replicas
// that have replayed past the caller's last write, then the primary.
func (s *Store) route(ctx context.Context) []*target {
	var after uint64
	if p := domain.PrincipalFrom(ctx); p != nil && s.opts.Marks != nil && len(s.replicas) > 0 {
		after = s.writePosition(ctx, []string{p.Key()})
	}
	return s.candidates(after)
}

// readPrimary runs fn on the primary: for callers that must see the latest
// state and have no principal (workers).
func (s *Store) readPrimary(ctx context.Context, fn func(q *db.Queries) error) error {
	err := fn(db.New(s.primary.pool))
	s.metrics.query(s.primary.name, "read", err)
	return mapErr(err)
}

// candidates lists where a read may go, best first: healthy replicas that
// have replayed past after (starting at a random one), then the primary.
func (s *Store) candidates(after uint64) []*target {
	out := make([]*target, 0, len(s.replicas)+1)
	n := len(s.replicas)
	if n > 0 {
		// A random start, not a rotating one: a request that reads twice
		// (authorization, then the handler) would send each of its reads
		// to the same replica every time with an even number of replicas.
		start := rand.IntN(n)
		for i := range n {
			r := s.replicas[(start+i)%n]
			if r.healthy.Load() && r.replay.Load() >= after {
				out = append(out, r)
			}
		}
	}
	return append(out, s.primary)
}

func (s *Store) checkLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkAll(ctx)
		}
	}
}

// checkAll reads the primary's WAL position, then each replica's replay
// position and delay, and marks each replica healthy or not.
func (s *Store) checkAll(ctx context.Context) {
	if len(s.replicas) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var prim string
	err := s.primary.pool.QueryRow(cctx, "SELECT pg_current_wal_lsn()::text").Scan(&prim)
	if err == nil {
		if lsn, err := ParseLSN(prim); err == nil {
			s.primLSN.Store(lsn)
		}
	}
	if ctx.Err() == nil {
		s.primDown.Store(err != nil)
	}
	for _, r := range s.replicas {
		s.checkReplica(ctx, r)
	}
}

func (s *Store) checkReplica(ctx context.Context, r *target) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var (
		inRecovery bool
		replay     *string
		delay      *float64
	)
	err := r.pool.QueryRow(cctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
		EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8`).Scan(&inRecovery, &replay, &delay)
	healthy := err == nil && inRecovery && replay != nil
	r.reachable.Store(err == nil)
	defer func() { r.checked.Store(time.Now().UnixNano()) }()
	if healthy {
		lsn, perr := ParseLSN(*replay)
		if perr != nil {
			healthy = false
		} else {
			r.replay.Store(lsn)
			prim := s.primLSN.Load()
			var lagB int64
			if prim > lsn {
				lagB = int64(prim - lsn)
			}
			var lagT time.Duration
			if lagB > 0 && delay != nil {
				lagT = time.Duration(*delay * float64(time.Second))
			}
			r.lagB.Store(lagB)
			r.lagT.Store(int64(lagT))
			if s.opts.MaxLagBytes > 0 && lagB > s.opts.MaxLagBytes {
				healthy = false
			}
			if s.opts.MaxLagTime > 0 && lagT > s.opts.MaxLagTime {
				healthy = false
			}
		}
	}
	if was := r.healthy.Swap(healthy); was != healthy {
		s.opts.Logger.Info("store: replica health changed", "replica", r.name, "healthy", healthy, "err", err)
	}
}

// ParseLSN parses a PostgreSQL pg_lsn text ("16/B374D848").
func ParseLSN(s string) (uint64, error) {
	var hi, lo uint32
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("store: bad lsn %q: %w", s, err)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}
