// Package jobs holds the rules about processing jobs: what may be queued,
// and how a worker runs one attempt so that its effect happens once.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// Store is what the service needs from the database.
type Store interface {
	CreateJob(ctx context.Context, j domain.Job) (domain.Job, error)
	Job(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error)
	Jobs(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error)
	CancelJob(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error)
	RetryJob(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error)
	JobOutputs(ctx context.Context, teamID, jobID uuid.UUID) ([]domain.JobOutput, error)
	JobOutput(ctx context.Context, teamID, jobID uuid.UUID, name string) (domain.JobOutput, error)
}

// Queue hands jobs to workers.
type Queue interface {
	// Admit hands the team's waiting jobs to workers while the team has
	// room under its cap on running jobs, or has a relay do it; best
	// effort: the relay admits every waiting job in the end.
	Admit(ctx context.Context, teamID uuid.UUID)
	// CancelRunning asks the worker running d's task, if any, to cancel it.
	CancelRunning(ctx context.Context, d domain.Dispatch) error
}

// Service implements the job rules for API callers. Each method that
// serves an API operation first checks the caller against the role the
// operation declares (Policy), whether or not the HTTP layer did. Each
// change of a job is logged as its event by the store, in the change's
// transaction.
type Service struct {
	Policy     domain.Policy
	Store      Store
	Processors *processors.Registry
	// Queue, when set, admits new and retried jobs at once when their team
	// has room; otherwise (or when it fails) the relay does.
	Queue  Queue
	Blobs  Downloads
	Logger *slog.Logger
	// NotRunnable is the store's error for a job in a state the change
	// does not apply to.
	NotRunnable error
}

// Create queues a job of processor on fileID (nil for processors that need
// no file) with params. The job and its dispatch record are stored in one
// transaction.
func (s *Service) Create(ctx context.Context, teamID uuid.UUID, fileID *uuid.UUID, processor string, params json.RawMessage) (domain.Job, error) {
	if err := s.allow(ctx, "createJob", teamID); err != nil {
		return domain.Job{}, err
	}
	p, err := s.Processors.Get(processor)
	if err != nil {
		return domain.Job{}, err
	}
	switch {
	case p.NeedsFile() && fileID == nil:
		return domain.Job{}, &domain.Error{Code: domain.CodeUnprocessable, Message: fmt.Sprintf("Processor %q needs a file_id.", processor),
			Fields: []domain.FieldError{{Pointer: "/file_id", Detail: "required by this processor"}}}
	case !p.NeedsFile() && fileID != nil:
		return domain.Job{}, &domain.Error{Code: domain.CodeUnprocessable, Message: fmt.Sprintf("Processor %q takes no file_id.", processor),
			Fields: []domain.FieldError{{Pointer: "/file_id", Detail: "not taken by this processor"}}}
	}
	params, err = s.Processors.CheckParams(processor, params)
	if err != nil {
		return domain.Job{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.Job{}, err
	}
	creator := domain.PrincipalFrom(ctx).CreatedBy()
	j, err := s.Store.CreateJob(ctx, domain.Job{ID: id, TeamID: teamID, FileID: fileID, Processor: processor, Params: params, CreatedBy: creator})
	if domain.IsNotFound(err) {
		return domain.Job{}, &domain.Error{Code: domain.CodeUnprocessable, Message: "file_id names no file of this team.",
			Fields: []domain.FieldError{{Pointer: "/file_id", Detail: "no such file in this team"}}}
	}
	if err != nil {
		return domain.Job{}, err
	}
	s.dispatch(ctx, j)
	return j, nil
}

// dispatch admits a job just queued (or its team's older waiting ones),
// sparing it the relay's round when the team has room under its cap; the
// dispatch record stays the guarantee when this does nothing.
func (s *Service) dispatch(ctx context.Context, j domain.Job) {
	if s.Queue != nil {
		s.Queue.Admit(WithQueued(ctx, j.ID), j.TeamID) // its dispatch, if sent now, carries this request's trace
	}
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Get returns a team's job.
func (s *Service) Get(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	if err := s.allow(ctx, "getJob", teamID); err != nil {
		return domain.Job{}, err
	}
	return s.Store.Job(ctx, teamID, id)
}

// List returns a page of a team's jobs.
func (s *Service) List(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error) {
	if err := s.allow(ctx, "listJobs", teamID); err != nil {
		return domain.Page[domain.Job]{}, err
	}
	return s.Store.Jobs(ctx, teamID, page)
}

// Cancel cancels a queued or running job: a queued one never runs, a
// running one has its processor's context cancelled and keeps nothing it
// produced. A cancelled job is returned as it is; a finished one is a
// conflict.
func (s *Service) Cancel(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	if err := s.allow(ctx, "cancelJob", teamID); err != nil {
		return domain.Job{}, err
	}
	j, err := s.Store.CancelJob(ctx, teamID, id)
	if errors.Is(err, s.NotRunnable) {
		cur, err := s.Store.Job(ctx, teamID, id)
		switch {
		case err != nil:
			return domain.Job{}, err
		case cur.Status == domain.JobCancelled:
			return cur, nil
		}
		return domain.Job{}, domain.Errorf(domain.CodeConflict, "The job has %s; only queued or running jobs can be cancelled.", cur.Status)
	}
	if err != nil {
		return domain.Job{}, err
	}
	s.Cancelled(ctx, []domain.Job{j})
	s.dispatch(ctx, j) // its place under the team's cap is free
	return j, nil
}

// Cancelled follows up jobs just moved to cancelled (by Cancel, or by a
// team's deletion; their events were logged with the change): a running
// one's attempt is told to stop. Best effort: an attempt also finds out at its next
// heartbeat, and can record nothing either way.
func (s *Service) Cancelled(ctx context.Context, js []domain.Job) {
	for _, j := range js {
		if j.StartedAt == nil || s.Queue == nil {
			continue
		}
		if err := s.Queue.CancelRunning(context.WithoutCancel(ctx), domain.Dispatch{JobID: j.ID, Processor: j.Processor, Run: j.Runs}); err != nil {
			s.log().InfoContext(ctx, "jobs: cancel signal not sent; the attempt stops at its next heartbeat", "job", j.ID, "err", err)
		}
	}
}

// Retry queues a failed or cancelled job again as a new run.
func (s *Service) Retry(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	if err := s.allow(ctx, "retryJob", teamID); err != nil {
		return domain.Job{}, err
	}
	j, err := s.Store.RetryJob(ctx, teamID, id)
	if errors.Is(err, s.NotRunnable) {
		cur, err := s.Store.Job(ctx, teamID, id)
		if err != nil {
			return domain.Job{}, err
		}
		return domain.Job{}, domain.Errorf(domain.CodeConflict, "The job is %s; only failed or cancelled jobs can be retried.", cur.Status)
	}
	if err != nil {
		return domain.Job{}, err
	}
	s.dispatch(ctx, j)
	return j, nil
}

// RunStore is what the runner needs from the database.
type RunStore interface {
	JobByID(ctx context.Context, id uuid.UUID) (domain.Job, error)
	FileByID(ctx context.Context, id uuid.UUID) (domain.File, error)
	StartJobAttempt(ctx context.Context, id uuid.UUID, run int) (domain.Job, error)
	// UpdateJobProgress records the progress, and logs the job's event
	// when announce.
	UpdateJobProgress(ctx context.Context, id uuid.UUID, attempt, pct int, announce bool) (domain.Job, error)
	SucceedJob(ctx context.Context, id uuid.UUID, attempt int, result json.RawMessage, outputs []domain.JobOutput) (domain.Job, error)
	FailJob(ctx context.Context, id uuid.UUID, attempt int, jobErr domain.JobError) (domain.Job, error)
}

// Objects is what the runner needs from object storage.
type Objects interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Put(ctx context.Context, key string, body io.Reader, contentType string) error
}

// Runner runs one attempt of a job. Attempts are fenced: only the latest
// attempt of a running job may record a result and outputs, so a job run
// twice has one effect, and a cancelled job none.
type Runner struct {
	Store      RunStore
	Objects    Objects
	Processors *processors.Registry
	Source     processors.Source // for processors that report on a team
	Logger     *slog.Logger
	// NotRunnable is the store's error for a job no attempt may change.
	NotRunnable error
	// Heartbeat is how often a running attempt records its progress and
	// checks that it is still the job's (default 2 s); progress changes
	// are recorded at most every Heartbeat/4.
	Heartbeat time.Duration
	// OnStarted, when set, is called when an attempt of j has started (j
	// is running): one of its team's places in the queue is free; and
	// OnEnded when the attempt is over (j may have freed a place under its
	// team's cap).
	OnStarted, OnEnded func(j domain.Job)
	// OnStopped, when set, is called when an attempt stops because its
	// job was cancelled or taken over by another attempt.
	OnStopped func()
}

// ErrRetry wraps a failure that may succeed on another attempt.
var ErrRetry = errors.New("jobs: retryable failure")

// errSuperseded cancels an attempt that is no longer its job's.
var errSuperseded = errors.New("jobs: the attempt is no longer the job's (cancelled or overtaken)")

// OutputKey is where an attempt's output is stored: attempts write apart,
// and only the succeeding one's keys are recorded.
func OutputKey(j domain.Job, attempt int, name string) string {
	return fmt.Sprintf("teams/%s/jobs/%s/%d/%s", j.TeamID, j.ID, attempt, name)
}

// Run runs run (0: whichever is current) of job id. last says whether no
// retry follows a retryable failure. It returns an error wrapping ErrRetry
// when the attempt should be retried; nil when the job reached a final
// state or is no longer this task's.
func (r *Runner) Run(ctx context.Context, id uuid.UUID, run int, last bool) error {
	// A job that is final, gone, or retried since (a newer run) is not
	// runnable by this task: its task is done.
	j, err := r.Store.StartJobAttempt(ctx, id, run)
	if errors.Is(err, r.NotRunnable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: start attempt: %w", ErrRetry, err)
	}
	if r.OnStarted != nil {
		r.OnStarted(j)
	}
	if r.OnEnded != nil {
		defer r.OnEnded(j)
	}
	attempt := j.Attempts
	fail := func(code, msg string, retryable bool) error {
		if retryable && !last {
			return fmt.Errorf("%w: %s: %s", ErrRetry, code, msg)
		}
		_, err := r.Store.FailJob(ctx, id, attempt, domain.JobError{Code: code, Message: msg, Retryable: retryable})
		if errors.Is(err, r.NotRunnable) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: record failure: %w", ErrRetry, err)
		}
		return nil
	}
	p, err := r.Processors.Get(j.Processor)
	if err != nil {
		return fail("unknown_processor", "This worker does not know the processor.", false)
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	runCtx, cancel := context.WithTimeout(runCtx, p.Timeout())
	defer cancel()

	var outputs []domain.JobOutput
	reserved := map[string]bool{}
	var mu sync.Mutex
	in := processors.Input{Job: j, Params: j.Params, Source: r.Source}
	in.Put = func(ctx context.Context, name, contentType string, body io.Reader) (int64, error) {
		if !processors.ValidOutputName(name) {
			return 0, fmt.Errorf("jobs: bad output name %q", name)
		}
		mu.Lock()
		if reserved[name] {
			mu.Unlock()
			return 0, fmt.Errorf("jobs: output %q written twice", name)
		}
		reserved[name] = true // before the upload: a concurrent Put of the name fails
		mu.Unlock()
		key := OutputKey(j, attempt, name)
		cr := &countingReader{r: body}
		if err := r.Objects.Put(ctx, key, cr, contentType); err != nil {
			return 0, err
		}
		mu.Lock()
		outputs = append(outputs, domain.JobOutput{JobID: j.ID, Name: name, Size: cr.n, ContentType: contentType, ObjectKey: key})
		mu.Unlock()
		return cr.n, nil
	}
	if j.FileID != nil {
		f, err := r.Store.FileByID(ctx, *j.FileID)
		if domain.IsNotFound(err) {
			return fail("file_gone", "The job's file no longer exists.", false)
		}
		if err != nil {
			return fmt.Errorf("%w: load file: %w", ErrRetry, err)
		}
		in.File = &f
		in.Open = func(ctx context.Context) (io.ReadCloser, error) { return r.Objects.Get(ctx, f.ObjectKey) }
	}
	hb := r.startHeartbeat(runCtx, stop, j)
	in.Progress = hb.set
	out, err := p.Run(runCtx, in)
	hb.halt()
	if errors.Is(context.Cause(runCtx), errSuperseded) {
		r.stopped(ctx, id, attempt)
		return nil // cancelled, or another attempt owns the job: nothing to record
	}
	if err == nil && runCtx.Err() != nil {
		err = runCtx.Err()
	}
	if err != nil && ctx.Err() != nil {
		// Cancelled from outside (a cancel request): done if the job is
		// no longer this attempt's, else retried.
		cur, lerr := r.Store.JobByID(context.WithoutCancel(ctx), id)
		if lerr == nil && (cur.Status.Final() || cur.Attempts != attempt) {
			r.stopped(ctx, id, attempt)
			return nil
		}
		return fmt.Errorf("%w: interrupted: %w", ErrRetry, ctx.Err())
	}
	if err != nil {
		code, retryable := classify(err)
		r.Logger.WarnContext(ctx, "jobs: processor failed", "job", id, "attempt", attempt, "code", code, "err", err)
		return fail(code, publicMessage(err), retryable)
	}
	_, err = r.Store.SucceedJob(ctx, id, attempt, out.Result, outputs)
	if errors.Is(err, r.NotRunnable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: record result: %w", ErrRetry, err)
	}
	return nil
}

func (r *Runner) stopped(ctx context.Context, id uuid.UUID, attempt int) {
	r.Logger.InfoContext(ctx, "jobs: attempt stopped: the job was cancelled or taken over", "job", id, "attempt", attempt)
	if r.OnStopped != nil {
		r.OnStopped()
	}
}

// heartbeat records an attempt's progress in the background, and stops the
// attempt when the job is no longer its own.
type heartbeat struct {
	pct  atomic.Int32
	quit chan struct{}
	done chan struct{}
}

func (hb *heartbeat) set(pct int) { hb.pct.Store(int32(max(0, min(100, pct)))) }

func (hb *heartbeat) halt() {
	close(hb.quit)
	<-hb.done
}

func (r *Runner) startHeartbeat(ctx context.Context, stop context.CancelCauseFunc, j domain.Job) *heartbeat {
	every := r.Heartbeat
	if every <= 0 {
		every = 2 * time.Second
	}
	hb := &heartbeat{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(hb.done)
		t := time.NewTicker(every / 4)
		defer t.Stop()
		recorded, last := int32(0), time.Now()
		for {
			select {
			case <-hb.quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pct := hb.pct.Load()
			if pct == recorded && time.Since(last) < every {
				continue
			}
			// A change of progress is the job's event; a heartbeat alone is not.
			_, err := r.Store.UpdateJobProgress(ctx, j.ID, j.Attempts, int(pct), pct != recorded)
			switch {
			case errors.Is(err, r.NotRunnable):
				stop(errSuperseded)
				return
			case err != nil:
				if ctx.Err() == nil {
					r.Logger.WarnContext(ctx, "jobs: record progress", "job", j.ID, "err", err)
				}
				continue
			}
			recorded, last = pct, time.Now()
		}
	}()
	return hb
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
