package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/processors"
)

type runFixture struct {
	store   *memStore
	objects *memObjects
	runner  *jobs.Runner
	job     domain.Job
	stopped atomic.Int32
}

// newRun is a queued job of a processor running run, on a stored file.
func newRun(t *testing.T, run func(ctx context.Context, in processors.Input) (processors.Output, error)) *runFixture {
	t.Helper()
	reg, err := processors.NewRegistry(proc{name: "test", needsFile: true, run: run})
	if err != nil {
		t.Fatal(err)
	}
	f := &runFixture{store: newMemStore(), objects: &memObjects{}}
	team := uuid.New()
	file := domain.File{ID: uuid.New(), TeamID: team, Size: 5, ObjectKey: "teams/t/files/f"}
	f.store.files[file.ID] = file
	_ = f.objects.Put(context.Background(), file.ObjectKey, strings.NewReader("hello"), "text/plain")
	f.job = f.store.put(domain.Job{ID: uuid.New(), TeamID: team, FileID: &file.ID, Processor: "test", Params: json.RawMessage(`{}`),
		Status: domain.JobQueued, Runs: 1})
	f.runner = &jobs.Runner{Store: f.store, Objects: f.objects, Processors: reg, NotRunnable: errNotRunnable,
		Logger: slog.New(slog.DiscardHandler), Heartbeat: 40 * time.Millisecond, OnStopped: func() { f.stopped.Add(1) }}
	return f
}

func (f *runFixture) state() domain.Job {
	j, _ := f.store.JobByID(context.Background(), f.job.ID)
	return j
}

// TestRunRecordsOutputsOnce: an attempt reads its file, writes its outputs
// apart under its attempt number, and records them with the result when it
// succeeds; the states go out queued → running → succeeded.
func TestRunRecordsOutputsOnce(t *testing.T) {
	f := newRun(t, func(ctx context.Context, in processors.Input) (processors.Output, error) {
		rc, err := in.Open(ctx)
		if err != nil {
			return processors.Output{}, err
		}
		b, _ := io.ReadAll(rc)
		_ = rc.Close()
		if _, err := in.Put(ctx, "upper.txt", "text/plain", strings.NewReader(strings.ToUpper(string(b)))); err != nil {
			return processors.Output{}, err
		}
		return processors.Output{Result: json.RawMessage(`{"bytes":5}`)}, nil
	})
	if err := f.runner.Run(context.Background(), f.job.ID, 1, false); err != nil {
		t.Fatal(err)
	}
	j := f.state()
	if j.Status != domain.JobSucceeded || string(j.Result) != `{"bytes":5}` || f.store.succeeded != 1 {
		t.Fatalf("job %+v", j)
	}
	outs := f.store.outputs[j.ID]
	key := jobs.OutputKey(j, 1, "upper.txt")
	if len(outs) != 1 || outs[0].ObjectKey != key || outs[0].Size != 5 || string(f.objects.objects[key]) != "HELLO" {
		t.Fatalf("outputs %+v; want upper.txt under %s", outs, key)
	}
	// The task delivered again finds the job final: nothing runs or changes.
	if err := f.runner.Run(context.Background(), f.job.ID, 1, false); err != nil || f.store.succeeded != 1 || f.state().Attempts != 1 {
		t.Fatalf("a second delivery: %v, succeeded %d times, attempts %d", err, f.store.succeeded, f.state().Attempts)
	}
}

// TestRunOfAnOldRunIsDone: a task of a run the job has moved past (it was
// retried since) does nothing.
func TestRunOfAnOldRunIsDone(t *testing.T) {
	ran := false
	f := newRun(t, func(context.Context, processors.Input) (processors.Output, error) {
		ran = true
		return processors.Output{}, nil
	})
	j := f.store.jobs[f.job.ID]
	j.Runs = 2
	f.store.jobs[j.ID] = j
	if err := f.runner.Run(context.Background(), f.job.ID, 1, false); err != nil || ran || f.state().Status != domain.JobQueued {
		t.Fatalf("run 1 of a job at run 2: %v, ran %v, state %s", err, ran, f.state().Status)
	}
}

// TestRunFailures: a retryable failure is retried (ErrRetry) until the
// last attempt, which records it; a failure retrying cannot fix is
// recorded at once, with its code and public message.
func TestRunFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		err       error
		last      bool
		retry     bool
		code      string
		retryable bool
	}{
		"unavailable, not last": {domain.Errorf(domain.CodeUnavailable, "S3 down"), false, true, "", false},
		"unavailable, last":     {domain.Errorf(domain.CodeUnavailable, "S3 down"), true, false, "unavailable", true},
		"a plain error, last":   {errors.New("boom"), true, false, "processor_error", true},
		"bad input":             {domain.Errorf(domain.CodeUnprocessable, "not a CSV"), false, false, "invalid_input", false},
	} {
		t.Run(name, func(t *testing.T) {
			f := newRun(t, func(context.Context, processors.Input) (processors.Output, error) { return processors.Output{}, tc.err })
			err := f.runner.Run(context.Background(), f.job.ID, 1, tc.last)
			if errors.Is(err, jobs.ErrRetry) != tc.retry {
				t.Fatalf("err %v; want retry %v", err, tc.retry)
			}
			j := f.state()
			if tc.retry {
				if j.Status != domain.JobRunning || f.store.failed != 0 {
					t.Fatalf("a retried attempt recorded %s", j.Status)
				}
				return
			}
			if j.Status != domain.JobFailed || j.Error == nil || j.Error.Code != tc.code || j.Error.Retryable != tc.retryable {
				t.Fatalf("job %s %+v; want failed %s retryable %v", j.Status, j.Error, tc.code, tc.retryable)
			}
			if de := (*domain.Error)(nil); errors.As(tc.err, &de) && j.Error.Message != de.Message {
				t.Fatalf("message %q; want %q", j.Error.Message, de.Message)
			}
			if !errors.As(tc.err, new(*domain.Error)) && j.Error.Message != "The processor failed." {
				t.Fatalf("an internal error's text was shown: %q", j.Error.Message)
			}
		})
	}
}

// TestRunRefusesBadOutputs: output names follow ValidOutputName, and a
// name is written once per attempt.
func TestRunRefusesBadOutputs(t *testing.T) {
	var errs []error
	f := newRun(t, func(ctx context.Context, in processors.Input) (processors.Output, error) {
		for _, name := range []string{"Report.json", "../x", "", "ok.txt", "ok.txt"} {
			_, err := in.Put(ctx, name, "text/plain", strings.NewReader("x"))
			errs = append(errs, err)
		}
		return processors.Output{Result: json.RawMessage(`{}`)}, nil
	})
	if err := f.runner.Run(context.Background(), f.job.ID, 1, false); err != nil {
		t.Fatal(err)
	}
	for i, wantErr := range []bool{true, true, true, false, true} {
		if (errs[i] != nil) != wantErr {
			t.Errorf("put %d: %v; want an error %v", i, errs[i], wantErr)
		}
	}
	if outs := f.store.outputs[f.job.ID]; len(outs) != 1 || outs[0].Name != "ok.txt" {
		t.Fatalf("outputs %+v", outs)
	}
}

// TestRunFileGone: a job whose file was deleted fails, not retried.
func TestRunFileGone(t *testing.T) {
	f := newRun(t, nil)
	delete(f.store.files, *f.job.FileID)
	if err := f.runner.Run(context.Background(), f.job.ID, 1, false); err != nil {
		t.Fatal(err)
	}
	if j := f.state(); j.Status != domain.JobFailed || j.Error.Code != "file_gone" || j.Error.Retryable {
		t.Fatalf("job %s %+v", j.Status, j.Error)
	}
}

// TestRunStopsWhenSuperseded: when the heartbeat finds the attempt no
// longer the job's (cancelled, or taken over), the processor's context is
// cancelled and the attempt records nothing.
func TestRunStopsWhenSuperseded(t *testing.T) {
	f := newRun(t, func(ctx context.Context, in processors.Input) (processors.Output, error) {
		in.Progress(10)
		select {
		case <-ctx.Done():
			return processors.Output{}, ctx.Err()
		case <-time.After(5 * time.Second):
			return processors.Output{}, errors.New("never stopped")
		}
	})
	f.store.progressNotRunnable = true
	if err := f.runner.Run(context.Background(), f.job.ID, 1, false); err != nil {
		t.Fatalf("a superseded attempt: %v; want done", err)
	}
	if f.store.succeeded != 0 || f.store.failed != 0 || f.stopped.Load() != 1 {
		t.Fatalf("recorded %d successes, %d failures; stopped %d times", f.store.succeeded, f.store.failed, f.stopped.Load())
	}
}
