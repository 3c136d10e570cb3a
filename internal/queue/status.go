package queue

import (
	"slices"
	"sort"
	"time"

	"github.com/hibiken/asynq"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Status reads the queues and the workers from Redis, for the platform
// status (asynq's Inspector), with short timeouts: a Redis that does not
// answer makes the status say so within a second, not hang it.
type Status struct {
	inspector *asynq.Inspector
}

// NewStatus returns a Status reading the Redis at opt.
func NewStatus(opt asynq.RedisClientOpt) *Status {
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	if opt.PoolSize == 0 {
		opt.PoolSize = 4
	}
	return &Status{inspector: asynq.NewInspector(opt)}
}

// Close closes its Redis connections.
func (s *Status) Close() error { return s.inspector.Close() }

// Queues counts each of Conveyor's queues' tasks by state, in name order;
// a queue never used yet counts as empty.
func (s *Status) Queues() ([]domain.QueueStatus, error) {
	names := make([]string, 0, len(Queues))
	for q := range Queues {
		names = append(names, q)
	}
	sort.Strings(names)
	// GetQueueInfo of a queue never used fails with an error that does not
	// wrap ErrQueueNotFound: ask which queues exist first.
	known, err := s.inspector.Queues()
	if err != nil {
		return nil, err
	}
	out := make([]domain.QueueStatus, 0, len(names))
	for _, q := range names {
		if !slices.Contains(known, q) {
			out = append(out, domain.QueueStatus{Name: q})
			continue
		}
		info, err := s.inspector.GetQueueInfo(q)
		if err != nil {
			return nil, err
		}
		out = append(out, domain.QueueStatus{Name: q, Pending: int64(info.Pending), Active: int64(info.Active),
			Scheduled: int64(info.Scheduled), Retry: int64(info.Retry), Archived: int64(info.Archived), OldestPending: info.Latency})
	}
	return out, nil
}

// Workers lists the worker processes that have sent asynq a heartbeat
// recently (their entries expire otherwise), oldest first.
func (s *Status) Workers() ([]domain.WorkerStatus, error) {
	servers, err := s.inspector.Servers()
	if err != nil {
		return nil, err
	}
	out := make([]domain.WorkerStatus, 0, len(servers))
	for _, sv := range servers {
		qs := make([]string, 0, len(sv.Queues))
		for q := range sv.Queues {
			qs = append(qs, q)
		}
		slices.Sort(qs)
		out = append(out, domain.WorkerStatus{Host: sv.Host, PID: sv.PID, Concurrency: sv.Concurrency,
			ActiveJobs: len(sv.ActiveWorkers), Queues: qs, StartedAt: sv.Started.UTC()})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.Before(out[j].StartedAt)
		}
		return out[i].PID < out[j].PID
	})
	return out, nil
}
