package bench

import (
	"context"
	"sync"
	"time"
)

// outboxStats is the most rows the dispatch outbox and the event log held
// at any sample.
type outboxStats struct {
	maxOutbox, maxPending, maxEvents int
}

type outboxSampler struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	st     outboxStats
}

// sampleOutbox counts job_outbox (all rows, and those not yet dispatched)
// and team_events on the primary every 200 ms until stop.
func (r *runner) sampleOutbox(ctx context.Context) *outboxSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &outboxSampler{cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			var all, pending, events int
			err := r.p.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM job_outbox), (SELECT count(*) FROM job_outbox WHERE dispatched_at IS NULL), (SELECT count(*) FROM team_events)`).Scan(&all, &pending, &events)
			if err == nil {
				s.mu.Lock()
				s.st.maxOutbox, s.st.maxPending, s.st.maxEvents = max(s.st.maxOutbox, all), max(s.st.maxPending, pending), max(s.st.maxEvents, events)
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return s
}

// stop ends the sampling and returns what it saw.
func (s *outboxSampler) stop() outboxStats {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}
