package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// A job's dispatch records are of two kinds. An admitting one (written
// with the job, and with a client's retry) waits until the job's team has
// fewer admitted, unfinished jobs than its cap (teams.max_running_jobs, or
// the platform's default); AdmitTeam then hands the run to the queue and
// records it admitted. A re-sending one (the reconciler's, for an admitted
// run whose task may be lost) takes no room and goes at once (Resend).

// Resend claims up to limit re-sending dispatch records (skipping rows
// other relays hold), hands each job still unfinished to send and marks
// them dispatched, in one transaction. It returns how many were marked. A
// record whose send fails stays pending for the next round.
func (s *Store) Resend(ctx context.Context, limit int, send func(ctx context.Context, d domain.Dispatch) error) (int, error) {
	done := 0
	err := s.write(ctx, func(q *db.Queries) error {
		rows, err := q.ClaimResends(ctx, int32(limit))
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(rows))
		var sendErr error
		for _, r := range rows {
			if !domain.JobStatus(r.Status).Final() {
				if sendErr = send(ctx, domain.Dispatch{JobID: r.JobID, Processor: r.Processor, Run: int(r.Runs), TraceParent: r.Traceparent}); sendErr != nil {
					break
				}
			}
			ids = append(ids, r.ID)
		}
		done = len(ids)
		if len(ids) > 0 {
			if err := q.MarkDispatched(ctx, ids); err != nil {
				return err
			}
		}
		if sendErr != nil && done == 0 {
			return sendErr
		}
		return nil
	})
	return done, err
}

// AdmitTeams lists up to limit teams with runs waiting for admission, in
// id order after after (uuid.Nil: from the first).
func (s *Store) AdmitTeams(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		ids, err = q.ListAdmitTeams(ctx, db.ListAdmitTeamsParams{After: after, Limit: int32(limit)})
		return err
	})
	return ids, err
}

// admitSlack is how many records past the team's free room a round reads,
// so a backlog of cancelled jobs is cleared without taking room.
const admitSlack = 32

// AdmitTeam hands up to lim.Batch of a team's waiting runs to send, oldest
// first, while the team's admitted, unfinished jobs number fewer than its
// cap (lim.DefaultCap where the team has none of its own) and those of
// them not started yet fewer than lim.Ahead, and records them
// admitted and their records dispatched, in one transaction held under a
// per-team lock: another admitter of the team meanwhile gets Busy. A run
// admitted already is sent again without taking room; a final or retried
// one is dropped. A record whose send fails stays waiting; the error is
// returned when nothing was done.
func (s *Store) AdmitTeam(ctx context.Context, teamID uuid.UUID, lim domain.AdmitLimits, send func(ctx context.Context, d domain.Dispatch) error) (domain.Admission, error) {
	var a domain.Admission
	err := s.write(ctx, func(q *db.Queries) error {
		a = domain.Admission{}
		locked, err := q.TryLockTeamDispatch(ctx, teamID)
		if err != nil {
			return err
		}
		if !locked {
			a.Busy = true
			return nil
		}
		t, err := q.TeamAdmission(ctx, db.TeamAdmissionParams{TeamID: teamID, DefaultCap: int32(lim.DefaultCap)})
		if err != nil {
			return err
		}
		free, ahead := int(t.Cap-t.InFlight), lim.Ahead-int(t.Queued)
		if free <= 0 || ahead <= 0 {
			a.AtCap, a.AheadFull, a.More = free <= 0, ahead <= 0, true
			return nil
		}
		room := min(free, ahead, lim.Batch)
		rows, err := q.ClaimAdmits(ctx, db.ClaimAdmitsParams{TeamID: teamID, Limit: int32(room + admitSlack)})
		if err != nil {
			return err
		}
		a.More = len(rows) == room+admitSlack
		marked := make([]int64, 0, len(rows))
		var admitted []uuid.UUID
		var runs []int32
		var sendErr error
		now := time.Now()
		for _, r := range rows {
			admit := false
			switch {
			case domain.JobStatus(r.Status).Final():
				// Cancelled (or finished) before its turn: nothing to send.
				a.Cleared++
				marked = append(marked, r.ID)
				continue
			case r.AdmittedAt != nil: // admitted already: its place is taken
			case a.Admitted < room:
				admit = true
			default:
				a.More = true
				continue
			}
			if sendErr = send(ctx, domain.Dispatch{JobID: r.JobID, Processor: r.Processor, Run: int(r.Runs), TraceParent: r.Traceparent}); sendErr != nil {
				break
			}
			marked = append(marked, r.ID)
			if !admit {
				a.Resent++
				continue
			}
			a.Admitted++
			admitted, runs = append(admitted, r.JobID), append(runs, r.Runs)
			a.Waits = append(a.Waits, now.Sub(r.CreatedAt))
		}
		a.AtCap = a.More && a.Admitted == free
		a.AheadFull = a.More && a.Admitted == ahead
		if len(admitted) > 0 {
			if err := q.MarkAdmitted(ctx, db.MarkAdmittedParams{Ids: admitted, Runs: runs}); err != nil {
				return err
			}
		}
		if len(marked) > 0 {
			if err := q.MarkDispatched(ctx, marked); err != nil {
				return err
			}
		}
		if sendErr != nil && len(marked) == 0 {
			return sendErr
		}
		return nil
	})
	return a, err
}

// DispatchBacklog counts the runs waiting for admission, over all teams,
// and says how long the oldest has waited (0 with none).
func (s *Store) DispatchBacklog(ctx context.Context) (int64, time.Duration, error) {
	var row db.DispatchBacklogRow
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		row, err = q.DispatchBacklog(ctx)
		return err
	})
	return row.Waiting, time.Duration(row.OldestSeconds * float64(time.Second)), err
}
