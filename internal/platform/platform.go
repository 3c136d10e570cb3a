// Package platform reports the health of what Conveyor runs on, for
// platform admins: the database (primary and replicas), Redis, S3, the
// queues and the workers.
package platform

import (
	"context"
	"log/slog"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Database reports the primary and the replicas (store.Store, from the
// health checks it already runs to route reads).
type Database interface {
	DatabaseStatus(ctx context.Context) domain.DatabaseStatus
}

// Queues reads the queues and the workers (queue.Status). Its methods
// take no context: they are bounded by their own client timeouts.
type Queues interface {
	Queues() ([]domain.QueueStatus, error)
	Workers() ([]domain.WorkerStatus, error)
}

// Service answers the platform status. Each check is bounded by Timeout
// and they run at once, so a dependency that hangs costs one Timeout and
// is reported down; the answer is always a status, never an error, for
// a platform admin.
type Service struct {
	Policy   domain.Policy // who may ask (getPlatformStatus); nil: no one
	Database Database
	Redis    func(ctx context.Context) error // a ping
	S3       func(ctx context.Context) error // a cheap request (HEAD the bucket)
	Queues   Queues
	// Backlog counts the jobs waiting for admission (store.DispatchBacklog);
	// nil: not reported.
	Backlog func(ctx context.Context) (waiting int64, oldest time.Duration, err error)
	Timeout time.Duration    // per check; 0: 2 s
	Now     func() time.Time // nil: time.Now
	Logger  *slog.Logger     // optional: why a check failed
}

type queuesAndWorkers struct {
	queues  []domain.QueueStatus
	workers []domain.WorkerStatus
	ok      bool
}

// Status checks everything and sums it up: degraded when the primary,
// Redis or S3 does not answer, a replica does not answer or takes no
// reads, or no worker has been seen recently.
func (s *Service) Status(ctx context.Context) (domain.PlatformStatus, error) {
	if err := domain.Allow(ctx, s.Policy, "getPlatformStatus", nil); err != nil {
		return domain.PlatformStatus{}, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Buffered: the queue check, which takes no context, may outlive the
	// timeout; its goroutine then ends on its own without blocking.
	dbc, redisc, s3c := make(chan domain.DatabaseStatus, 1), make(chan domain.ComponentStatus, 1), make(chan domain.ComponentStatus, 1)
	qc := make(chan queuesAndWorkers, 1)
	bc := make(chan *domain.DispatchStatus, 1)
	go func() { dbc <- s.Database.DatabaseStatus(cctx) }()
	go func() { bc <- s.backlog(cctx) }()
	go func() { redisc <- timed(cctx, s.Redis) }()
	go func() { s3c <- timed(cctx, s.S3) }()
	go func() {
		var r queuesAndWorkers
		var err error
		if r.queues, err = s.Queues.Queues(); err == nil {
			r.workers, err = s.Queues.Workers()
		}
		r.ok = err == nil
		if err != nil && s.Logger != nil {
			s.Logger.WarnContext(cctx, "platform status: queues and workers not read", "err", err)
		}
		qc <- r
	}()

	// The database, Redis and S3 checks honour cctx: they end by its deadline.
	out := domain.PlatformStatus{CheckedAt: now().UTC(), Database: <-dbc, Redis: <-redisc, S3: <-s3c, Dispatch: <-bc}
	select {
	case r := <-qc:
		if r.ok {
			out.Queues, out.Workers = r.queues, r.workers
		}
	case <-cctx.Done():
	}
	out.Degraded = degraded(out)
	return out, nil
}

// backlog reads the dispatch backlog; nil when it cannot (the database is
// reported on its own).
func (s *Service) backlog(ctx context.Context) *domain.DispatchStatus {
	if s.Backlog == nil {
		return nil
	}
	waiting, oldest, err := s.Backlog(ctx)
	if err != nil {
		if s.Logger != nil {
			s.Logger.WarnContext(ctx, "platform status: dispatch backlog not read", "err", err)
		}
		return nil
	}
	return &domain.DispatchStatus{Waiting: waiting, Oldest: oldest}
}

func degraded(st domain.PlatformStatus) bool {
	if !st.Database.Primary.Reachable || !st.Redis.Reachable || !st.S3.Reachable || len(st.Workers) == 0 {
		return true
	}
	for _, r := range st.Database.Replicas {
		if !r.Reachable || !r.TakingReads {
			return true
		}
	}
	return false
}

func timed(ctx context.Context, check func(context.Context) error) domain.ComponentStatus {
	if check == nil {
		return domain.ComponentStatus{}
	}
	start := time.Now()
	if err := check(ctx); err != nil {
		return domain.ComponentStatus{}
	}
	return domain.ComponentStatus{Reachable: true, Latency: time.Since(start)}
}
