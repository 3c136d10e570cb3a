package store

import (
	"context"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// DatabaseStatus reports the primary (one ping, bounded by ctx) and each
// replica as the health checks that route reads last saw it: no replica
// is asked anything here.
func (s *Store) DatabaseStatus(ctx context.Context) domain.DatabaseStatus {
	var out domain.DatabaseStatus
	start := time.Now()
	if err := s.primary.pool.Ping(ctx); err == nil {
		out.Primary = domain.ComponentStatus{Reachable: true, Latency: time.Since(start)}
	}
	for _, r := range s.replicas {
		rs := domain.ReplicaStatus{Name: r.name, Reachable: r.reachable.Load(), TakingReads: r.healthy.Load()}
		if at := r.checked.Load(); at != 0 {
			t := time.Unix(0, at).UTC()
			rs.CheckedAt = &t
		}
		if rs.Reachable {
			b := r.lagB.Load()
			rs.LagBytes, rs.Lag = &b, time.Duration(r.lagT.Load())
		}
		out.Replicas = append(out.Replicas, rs)
	}
	return out
}
