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

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// Store is what the service needs from the database.
type Store interface {
	CreateJob(ctx context.Context, j domain.Job) (domain.Job, error)
	Job(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error)
	Jobs(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error)
}

// Service implements the job rules for API callers.
type Service struct {
	Store      Store
	Processors *processors.Registry
}

// Create queues a job of processor on fileID (nil for processors that need
// no file) with params. The job and its dispatch record are stored in one
// transaction.
func (s *Service) Create(ctx context.Context, teamID uuid.UUID, fileID *uuid.UUID, processor string, params json.RawMessage) (domain.Job, error) {
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
	return j, err
}

// Get returns a team's job.
func (s *Service) Get(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	return s.Store.Job(ctx, teamID, id)
}

// List returns a page of a team's jobs.
func (s *Service) List(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error) {
	return s.Store.Jobs(ctx, teamID, page)
}

// RunStore is what the runner needs from the database.
type RunStore interface {
	JobByID(ctx context.Context, id uuid.UUID) (domain.Job, error)
	FileByID(ctx context.Context, id uuid.UUID) (domain.File, error)
	StartJobAttempt(ctx context.Context, id uuid.UUID) (domain.Job, error)
	SucceedJob(ctx context.Context, id uuid.UUID, attempt int, result json.RawMessage) (domain.Job, error)
	FailJob(ctx context.Context, id uuid.UUID, attempt int, jobErr domain.JobError) (domain.Job, error)
}

// Objects is what the runner needs from object storage.
type Objects interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// Runner runs one attempt of a job. Attempts are fenced: only the latest
// attempt may record a result, so a job run twice has one effect.
type Runner struct {
	Store      RunStore
	Objects    Objects
	Processors *processors.Registry
	Logger     *slog.Logger
	// NotRunnable is the store's error for a job no attempt may change.
	NotRunnable error
}

// ErrRetry wraps a failure that may succeed on another attempt.
var ErrRetry = errors.New("jobs: retryable failure")

// Run runs job id. last says whether no retry follows a retryable failure.
// It returns an error wrapping ErrRetry when the attempt should be retried;
// nil when the job reached a final state or is no longer this attempt's.
func (r *Runner) Run(ctx context.Context, id uuid.UUID, last bool) error {
	j, err := r.Store.JobByID(ctx, id)
	if domain.IsNotFound(err) {
		r.Logger.Warn("jobs: dispatched job does not exist", "job", id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: load job: %w", ErrRetry, err)
	}
	if j.Status.Final() {
		return nil
	}
	j, err = r.Store.StartJobAttempt(ctx, id)
	if errors.Is(err, r.NotRunnable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: start attempt: %w", ErrRetry, err)
	}
	fail := func(code, msg string, retryable bool) error {
		if retryable && !last {
			return fmt.Errorf("%w: %s: %s", ErrRetry, code, msg)
		}
		_, err := r.Store.FailJob(ctx, id, j.Attempts, domain.JobError{Code: code, Message: msg, Retryable: retryable})
		if err != nil && !errors.Is(err, r.NotRunnable) {
			return fmt.Errorf("%w: record failure: %w", ErrRetry, err)
		}
		return nil
	}
	p, err := r.Processors.Get(j.Processor)
	if err != nil {
		return fail("unknown_processor", "This worker does not know the processor.", false)
	}
	in := processors.Input{Job: j, Params: j.Params, Progress: func(int) {}}
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
	out, err := p.Run(ctx, in)
	if err != nil {
		code, retryable := classify(err)
		r.Logger.Warn("jobs: processor failed", "job", id, "attempt", j.Attempts, "code", code, "err", err)
		return fail(code, publicMessage(err), retryable)
	}
	if _, err := r.Store.SucceedJob(ctx, id, j.Attempts, out.Result); err != nil && !errors.Is(err, r.NotRunnable) {
		return fmt.Errorf("%w: record result: %w", ErrRetry, err)
	}
	return nil
}

// classify names a processor failure and says whether retrying may help.
func classify(err error) (string, bool) {
	switch domain.ErrorCode(err) {
	case domain.CodeUnavailable:
		return "unavailable", true
	case domain.CodeNotFound:
		return "input_missing", false
	case domain.CodeInvalid, domain.CodeUnprocessable:
		return "invalid_input", false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout", true
	}
	return "processor_error", true
}

func publicMessage(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "The processor failed."
}
