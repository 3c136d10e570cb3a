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
		Status: domain.JobStatus(r.Status), Progress: int(r.Progress), Attempts: int(r.Attempts), Runs: int(r.Runs), Result: r.Result,
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
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
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
		log.add(domain.JobEvent(jobFromRow(row)))
		return q.EnqueueJobDispatch(ctx, db.EnqueueJobDispatchParams{JobID: j.ID, TeamID: j.TeamID, Traceparent: traceParent(ctx)})
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
// state, by FinishJob when the attempt was overtaken by another, and by
// CancelJob and RetryJob when the domain's state machine refuses the
// change: it is domain.ErrJobNotRunnable. The conditional updates' status
// lists are the domain's (JobStatusesTo), which a test checks.
var ErrJobNotRunnable = domain.ErrJobNotRunnable

// StartJobAttempt moves a job to running and returns it with its new attempt
// number, which fences the attempt's result. run, when not zero, must be the
// job's current run: a task left from before a retry starts nothing.
func (s *Store) StartJobAttempt(ctx context.Context, id uuid.UUID, run int) (domain.Job, error) {
	var runArg *int32
	if run > 0 {
		r := int32(run)
		runArg = &r
	}
	var row db.Job
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		row, err = q.StartJobAttempt(ctx, db.StartJobAttemptParams{ID: id, Run: runArg})
		if err == nil {
			log.add(domain.JobEvent(jobFromRow(row)))
		}
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// SucceedJob records the result and outputs of attempt, in one
// transaction; ErrJobNotRunnable when another attempt has started since, or
// the job is already final (cancelled, say) — then nothing is recorded.
func (s *Store) SucceedJob(ctx context.Context, id uuid.UUID, attempt int, result json.RawMessage, outputs []domain.JobOutput) (domain.Job, error) {
	var row db.Job
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		row, err = q.SucceedJob(ctx, db.SucceedJobParams{ID: id, Attempts: int32(attempt), Result: result})
		if err != nil {
			return err
		}
		log.add(domain.JobEvent(jobFromRow(row)))
		for _, o := range outputs {
			if err := q.InsertJobOutput(ctx, db.InsertJobOutputParams{JobID: id, Name: o.Name, Size: o.Size,
				ContentType: o.ContentType, ObjectKey: o.ObjectKey}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// UpdateJobProgress records attempt's progress, with the job's event when
// announce (the progress changed); ErrJobNotRunnable when the attempt is
// no longer the job's (the job was cancelled, or another attempt started),
// which tells the attempt to stop.
func (s *Store) UpdateJobProgress(ctx context.Context, id uuid.UUID, attempt, pct int, announce bool) (domain.Job, error) {
	var row db.Job
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		row, err = q.UpdateJobProgress(ctx, db.UpdateJobProgressParams{ID: id, Attempts: int32(attempt), Progress: int32(pct)})
		if err == nil && announce {
			log.add(domain.JobEvent(jobFromRow(row)))
		}
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// CancelJob moves a queued or running job to cancelled; ErrJobNotRunnable
// when the job is in a final state (or not the team's).
func (s *Store) CancelJob(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	var row db.Job
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		cur, err := q.LockJob(ctx, db.LockJobParams{TeamID: teamID, ID: id})
		if err != nil {
			return err
		}
		if !domain.JobStatus(cur.Status).CanCancel() {
			return ErrJobNotRunnable
		}
		row, err = q.CancelJob(ctx, db.CancelJobParams{TeamID: teamID, ID: id})
		if err == nil {
			log.add(domain.JobEvent(jobFromRow(row)))
		}
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// RetryJob queues a failed or cancelled job again as a new run, with its
// dispatch record, in one transaction; ErrJobNotRunnable when the job is in
// another state (or not the team's).
func (s *Store) RetryJob(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	var row db.Job
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		// First the team (share-locked): a deletion either waits for this
		// retry, then cancels the job again, or has happened (not found).
		if _, err := q.LockLiveTeam(ctx, teamID); err != nil {
			return notFound(mapErr(err), "Team")
		}
		cur, err := q.LockJob(ctx, db.LockJobParams{TeamID: teamID, ID: id})
		if err != nil {
			return err
		}
		if !domain.JobStatus(cur.Status).CanRetry() {
			return ErrJobNotRunnable
		}
		row, err = q.RetryJob(ctx, db.RetryJobParams{TeamID: teamID, ID: id})
		if err != nil {
			return err
		}
		log.add(domain.JobEvent(jobFromRow(row)))
		return q.EnqueueJobDispatch(ctx, db.EnqueueJobDispatchParams{JobID: id, TeamID: teamID, Traceparent: traceParent(ctx)})
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

func outputFromRow(r db.JobOutput) domain.JobOutput {
	return domain.JobOutput{JobID: r.JobID, Name: r.Name, Size: r.Size, ContentType: r.ContentType, ObjectKey: r.ObjectKey}
}

// JobOutputs lists the outputs of a team's job, by name; not-found when the
// team has no such job.
func (s *Store) JobOutputs(ctx context.Context, teamID, jobID uuid.UUID) ([]domain.JobOutput, error) {
	var rows []db.JobOutput
	err := s.read(ctx, func(q *db.Queries) (err error) {
		if _, err := q.GetJob(ctx, db.GetJobParams{TeamID: teamID, ID: jobID}); err != nil {
			return notFound(mapErr(err), "Job")
		}
		rows, err = q.ListJobOutputs(ctx, jobID)
		return err
	})
	return mapSlice(rows, outputFromRow), err
}

// JobOutput returns one output of a team's job, or a not-found error.
func (s *Store) JobOutput(ctx context.Context, teamID, jobID uuid.UUID, name string) (domain.JobOutput, error) {
	var row db.JobOutput
	err := s.read(ctx, func(q *db.Queries) (err error) {
		if _, err := q.GetJob(ctx, db.GetJobParams{TeamID: teamID, ID: jobID}); err != nil {
			return notFound(mapErr(err), "Job")
		}
		row, err = q.GetJobOutput(ctx, db.GetJobOutputParams{JobID: jobID, Name: name})
		return notFound(mapErr(err), "Output")
	})
	return outputFromRow(row), err
}

// TeamFiles pages through a team's files oldest first, from the primary:
// an export reflects at least everything done before it was asked for.
func (s *Store) TeamFiles(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.File], error) {
	var rows []db.File
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListFilesAscending(ctx, db.ListFilesAscendingParams{TeamID: teamID, After: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, fileFromRow), page.Limit, func(f domain.File) uuid.UUID { return f.ID }), err
}

// TeamJobs pages through a team's jobs oldest first, from the primary.
func (s *Store) TeamJobs(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error) {
	var rows []db.Job
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListJobsAscending(ctx, db.ListJobsAscendingParams{TeamID: teamID, After: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, jobFromRow), page.Limit, jobID), err
}

// FailJob records the failure of attempt; ErrJobNotRunnable as SucceedJob.
func (s *Store) FailJob(ctx context.Context, id uuid.UUID, attempt int, jobErr domain.JobError) (domain.Job, error) {
	b, err := json.Marshal(jobErr)
	if err != nil {
		return domain.Job{}, fmt.Errorf("store: encode job error: %w", err)
	}
	var row db.Job
	err = s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		row, err = q.FailJob(ctx, db.FailJobParams{ID: id, Attempts: int32(attempt), Error: b})
		if err == nil {
			log.add(domain.JobEvent(jobFromRow(row)))
		}
		return err
	})
	if errors.Is(err, errNotFound) {
		return domain.Job{}, ErrJobNotRunnable
	}
	return jobFromRow(row), err
}

// RedispatchStuckJobs gives a new dispatch record to jobs admitted and
// queued for longer than queuedAfter, or running for longer than
// runningAfter, whose last dispatch is older than queuedAfter (re-sent at
// once), and to queued jobs never admitted that have no record waiting
// (admitted again, under their team's cap); it returns how many. A job
// waiting for room under its team's cap is not stuck.
func (s *Store) RedispatchStuckJobs(ctx context.Context, queuedAfter, runningAfter time.Duration) (int64, error) {
	var n int64
	err := s.write(ctx, func(q *db.Queries) (err error) {
		n, err = q.RedispatchStuckJobs(ctx, db.RedispatchStuckJobsParams{QueuedAfter: interval(queuedAfter), RunningAfter: interval(runningAfter)})
		return err
	})
	return n, err
}
