package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func jobFromRow(r db.Job) domain.Job {
	j := domain.Job{ID: r.ID, TeamID: r.TeamID, FileID: r.FileID, Processor: r.Processor, Params: r.Params,
		Status: domain.JobStatus(r.Status), Progress: int(r.Progress), Attempts: int(r.Attempts), Result: r.Result,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if len(r.Error) > 0 {
		var je domain.JobError
		if json.Unmarshal(r.Error, &je) == nil {
			j.Error = &je
		}
	}
	return j
}

func jobID(j domain.Job) uuid.UUID { return j.ID }

// CreateJob stores a queued job and its dispatch record in one transaction,
// so an accepted job is never lost between the database and the queue. When
// the job names a file, the file must belong to the job's team.
func (s *Store) CreateJob(ctx context.Context, j domain.Job) (domain.Job, error) {
	var row db.Job
	err := s.write(ctx, func(q *db.Queries) (err error) {
		if j.FileID != nil {
			if _, err := q.GetFile(ctx, db.GetFileParams{TeamID: j.TeamID, ID: *j.FileID}); err != nil {
				return notFound(mapErr(err), "File")
			}
		}
		row, err = q.CreateJob(ctx, db.CreateJobParams{ID: j.ID, TeamID: j.TeamID, FileID: j.FileID,
			Processor: j.Processor, Params: j.Params, CreatedBy: j.CreatedBy})
		if err != nil {
			return err
		}
		return q.EnqueueJobDispatch(ctx, j.ID)
	})
	return jobFromRow(row), err
}

// Job returns a team's job, or a not-found error.
func (s *Store) Job(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	var row db.Job
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetJob(ctx, db.GetJobParams{TeamID: teamID, ID: id})
		return err
	})
	return jobFromRow(row), notFound(err, "Job")
}

// Jobs lists a team's jobs, newest first.
func (s *Store) Jobs(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error) {
	var rows []db.Job
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListJobs(ctx, db.ListJobsParams{TeamID: teamID, Before: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, jobFromRow), page.Limit, jobID), err
}

// JobByID returns a job from the primary: for workers, which must see the
// job as soon as it is dispatched.
func (s *Store) JobByID(ctx context.Context, id uuid.UUID) (domain.Job, error) {
	var row db.Job
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetJobByID(ctx, id)
		return err
	})
	return jobFromRow(row), notFound(err, "Job")
}

// ErrJobNotRunnable is returned by StartJobAttempt for a job in a final
// state, and by FinishJob when the attempt was overtaken by another.
var ErrJobNotRunnable = errors.New("store: job is not runnable by this attempt")

// StartJobAttempt moves a job to running and returns it with its new attempt
// number, which fences the attempt's result.
func (s *Store) StartJobAttempt(ctx context.Context, id uuid.UUID) (domain.Job, error) {
	var row db.Job
	err := s.write(ctx, func(q *db.Queries) (err error) {
		row, err = q.StartJobAttempt(ctx, id)
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// SucceedJob records the result of attempt; ErrJobNotRunnable when another
// attempt has started since, or the job is already final.
func (s *Store) SucceedJob(ctx context.Context, id uuid.UUID, attempt int, result json.RawMessage) (domain.Job, error) {
	var row db.Job
	err := s.write(ctx, func(q *db.Queries) (err error) {
		row, err = q.SucceedJob(ctx, db.SucceedJobParams{ID: id, Attempts: int32(attempt), Result: result})
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// FailJob records the failure of attempt; ErrJobNotRunnable as SucceedJob.
func (s *Store) FailJob(ctx context.Context, id uuid.UUID, attempt int, jobErr domain.JobError) (domain.Job, error) {
	b, err := json.Marshal(jobErr)
	if err != nil {
		return domain.Job{}, fmt.Errorf("store: encode job error: %w", err)
	}
	var row db.Job
	err = s.write(ctx, func(q *db.Queries) (err error) {
		row, err = q.FailJob(ctx, db.FailJobParams{ID: id, Attempts: int32(attempt), Error: b})
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// DispatchPending claims up to limit undispatched jobs (skipping rows other
// relays hold), hands each to send and marks the ones sent as dispatched, all
// in one transaction. It returns how many were dispatched. A job whose send
// fails stays pending for the next round.
func (s *Store) DispatchPending(ctx context.Context, limit int, send func(ctx context.Context, jobID uuid.UUID) error) (int, error) {
	sent := 0
	err := s.write(ctx, func(q *db.Queries) error {
		rows, err := q.ClaimPendingDispatches(ctx, int32(limit))
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(rows))
		var sendErr error
		for _, r := range rows {
			if err := send(ctx, r.JobID); err != nil {
				sendErr = err
				break
			}
			ids = append(ids, r.ID)
		}
		sent = len(ids)
		if len(ids) > 0 {
			if err := q.MarkDispatched(ctx, ids); err != nil {
				return err
			}
		}
		if sendErr != nil && sent == 0 {
			return sendErr
		}
		return nil
	})
	return sent, err
}

// RedispatchStuckJobs gives a new dispatch record to jobs queued for
// longer than queuedAfter, or running for longer than runningAfter, whose
// last dispatch is older than queuedAfter; it returns how many.
func (s *Store) RedispatchStuckJobs(ctx context.Context, queuedAfter, runningAfter time.Duration) (int64, error) {
	var n int64
	err := s.write(ctx, func(q *db.Queries) (err error) {
		n, err = q.RedispatchStuckJobs(ctx, db.RedispatchStuckJobsParams{QueuedAfter: interval(queuedAfter), RunningAfter: interval(runningAfter)})
		return err
	})
	return n, err
}
