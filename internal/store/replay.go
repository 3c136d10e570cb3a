package store

import (
	"context"
	"time"

	"github.com/conveyorhq/conveyor/gen/db"
)

// replayPollEvery is how often replayedPast asks the replicas again while
// it waits for one to pass a mark.
const replayPollEvery = 25 * time.Millisecond

// readAfter runs fn for a caller whose last write is at after. A replica
// whose cached replay position has passed the mark answers; when none has
// (the write is newer than the last health check), the replicas are asked
// for their live replay position before the read falls back to the
// primary. With the primary down (known from the checker, or because the
// read could not reach it) the read waits up to ReplayWait for a replica
// to pass the mark instead of failing: reads keep working while the
// primary is down.
func (s *Store) readAfter(ctx context.Context, after uint64, fn func(q *db.Queries) error) error {
	cands := s.candidates(after)
	if cands[0] != s.primary || len(s.replicas) == 0 {
		return s.readFrom(ctx, cands, fn)
	}
	var wait time.Duration
	if s.primDown.Load() {
		wait = s.opts.ReplayWait
	}
	if r := s.replayedPast(ctx, after, wait); r != nil {
		return s.readFrom(ctx, []*target{r, s.primary}, fn)
	}
	err := fn(db.New(s.primary.pool))
	s.metrics.query(s.primary.name, "read", err)
	if err == nil || ctx.Err() != nil || !isConnErr(err) {
		return mapErr(err)
	}
	s.readFailed(s.primary, err)
	if r := s.replayedPast(ctx, after, s.opts.ReplayWait); r != nil {
		return s.readFrom(ctx, []*target{r}, fn)
	}
	return mapErr(err)
}

// replayedPast asks each reachable replica for its live replay position
// (pg_last_wal_replay_lsn()) and returns the first that has replayed past
// after, remembering the position it reported. Replicas the checker
// found lagging count only while the primary is down. It asks again every
// replayPollEvery until wait has passed (once when wait is 0), and returns
// nil when no replica got there in time.
func (s *Store) replayedPast(ctx context.Context, after uint64, wait time.Duration) *target {
	deadline := time.Now().Add(wait)
	maxRounds := 1 + int(wait/replayPollEvery)
	for round := 0; round < maxRounds; round++ {
		for _, r := range s.replicas {
			// A replica the checker found lagging too far is left out
			// while the primary can answer instead.
			if !r.reachable.Load() || (!r.healthy.Load() && !s.primDown.Load()) {
				continue
			}
			if lsn, ok := s.liveReplay(ctx, r); ok && lsn >= after {
				return r
			}
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(replayPollEvery):
		}
	}
	return nil
}

// liveReplay reads r's replay position now, and raises the cached one to
// it (the checker may not have run since).
func (s *Store) liveReplay(ctx context.Context, r *target) (uint64, bool) {
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var text *string
	if err := r.pool.QueryRow(cctx, "SELECT pg_last_wal_replay_lsn()::text").Scan(&text); err != nil || text == nil {
		return 0, false
	}
	lsn, err := ParseLSN(*text)
	if err != nil {
		return 0, false
	}
	for range 8 { // a bounded compare-and-swap: the checker is the only other writer
		cur := r.replay.Load()
		if cur >= lsn || r.replay.CompareAndSwap(cur, lsn) {
			break
		}
	}
	return lsn, true
}
