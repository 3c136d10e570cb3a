package httpapi

import (
	"context"
	"time"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// maxSeconds is the largest duration the spec allows in seconds (a year).
const maxSeconds = 365 * 24 * 3600.0

func componentOut(c domain.ComponentStatus) api.ComponentStatus {
	out := api.ComponentStatus{Reachable: c.Reachable}
	if c.Reachable {
		ms := float64(c.Latency) / float64(time.Millisecond)
		out.LatencyMs = &ms
	}
	return out
}

func platformOut(st domain.PlatformStatus) api.PlatformStatus {
	out := api.PlatformStatus{Status: api.PlatformStatusStatusOk, CheckedAt: st.CheckedAt, Redis: componentOut(st.Redis), S3: componentOut(st.S3),
		Database: api.DatabaseStatus{Primary: componentOut(st.Database.Primary), Replicas: make([]api.ReplicaStatus, len(st.Database.Replicas))},
		Queues:   make([]api.QueueStatus, len(st.Queues)), Workers: make([]api.WorkerStatus, len(st.Workers))}
	if st.Degraded {
		out.Status = api.PlatformStatusStatusDegraded
	}
	for i, r := range st.Database.Replicas {
		rs := api.ReplicaStatus{Name: r.Name, Reachable: r.Reachable, TakingReads: r.TakingReads, LagBytes: r.LagBytes, CheckedAt: r.CheckedAt}
		if r.LagBytes != nil {
			secs := min(r.Lag.Seconds(), maxSeconds)
			rs.LagSeconds = &secs
		}
		out.Database.Replicas[i] = rs
	}
	for i, q := range st.Queues {
		out.Queues[i] = api.QueueStatus{Name: q.Name, Pending: q.Pending, Active: q.Active, Scheduled: q.Scheduled, Retry: q.Retry,
			Archived: q.Archived, OldestPendingSeconds: min(q.OldestPending.Seconds(), maxSeconds)}
	}
	if d := st.Dispatch; d != nil {
		out.Dispatch = &api.DispatchStatus{JobsWaiting: d.Waiting, OldestWaitingSeconds: min(d.Oldest.Seconds(), maxSeconds)}
	}
	for i, w := range st.Workers {
		out.Workers[i] = api.WorkerStatus{Host: w.Host, Pid: int32(w.PID), Concurrency: int32(w.Concurrency),
			ActiveJobs: int32(w.ActiveJobs), Queues: w.Queues, StartedAt: w.StartedAt}
		if out.Workers[i].Queues == nil {
			out.Workers[i].Queues = []string{}
		}
	}
	return out
}

// GetPlatformStatus implements api.StrictServerInterface.
func (s *Server) GetPlatformStatus(ctx context.Context, _ api.GetPlatformStatusRequestObject) (api.GetPlatformStatusResponseObject, error) {
	st, err := s.deps.Platform.Status(ctx)
	if err != nil {
		return nil, err
	}
	return api.GetPlatformStatus200JSONResponse{Body: platformOut(st)}, nil
}
