package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/processors"
)

type fixture struct {
	store *memStore
	queue *queue
	blobs *memObjects
	svc   *jobs.Service
	team  uuid.UUID
	file  domain.File
	ctx   context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg, err := processors.NewRegistry(proc{name: "onfile", needsFile: true}, proc{name: "onteam"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: newMemStore(), queue: &queue{}, blobs: &memObjects{}, team: uuid.New(),
		ctx: domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC})}
	f.file = domain.File{ID: uuid.New(), TeamID: f.team, Name: "a.csv", Size: 10, ObjectKey: "teams/x/files/a"}
	f.store.files[f.file.ID] = f.file
	f.svc = &jobs.Service{Policy: allowAll{}, Store: f.store, Processors: reg, Queue: f.queue, Blobs: f.blobs,
		NotRunnable: errNotRunnable}
	return f
}

func wantCode(t *testing.T, what string, err error, code domain.Code, pointer string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("%s: %v; want %s", what, err, code)
	}
	if pointer != "" && (len(de.Fields) == 0 || de.Fields[0].Pointer != pointer) {
		t.Fatalf("%s: fields %+v; want %s", what, de.Fields, pointer)
	}
}

// TestCreateRules: a processor that needs a file gets one of the team's,
// one that does not gets none; params are checked against the
// processor's schema and normalised; a job created is announced queued and
// its team's waiting jobs are admitted at once.
func TestCreateRules(t *testing.T) {
	f := newFixture(t)
	other := uuid.New()
	for name, tc := range map[string]struct {
		proc    string
		file    *uuid.UUID
		params  string
		code    domain.Code
		pointer string
	}{
		"unknown processor":     {"resize", &f.file.ID, "", domain.CodeUnprocessable, "/processor"},
		"file missing":          {"onfile", nil, "", domain.CodeUnprocessable, "/file_id"},
		"file not taken":        {"onteam", &f.file.ID, "", domain.CodeUnprocessable, "/file_id"},
		"another team's file":   {"onfile", &other, "", domain.CodeUnprocessable, "/file_id"},
		"params off the schema": {"onfile", &f.file.ID, `{"size":11}`, domain.CodeUnprocessable, "/params/size"},
		"unknown param":         {"onfile", &f.file.ID, `{"colour":"red"}`, domain.CodeUnprocessable, "/params"},
		"params not JSON":       {"onfile", &f.file.ID, `{`, domain.CodeInvalid, ""},
	} {
		_, err := f.svc.Create(f.ctx, f.team, tc.file, tc.proc, json.RawMessage(tc.params))
		wantCode(t, name, err, tc.code, tc.pointer)
	}
	if len(f.store.jobs) != 0 || len(f.queue.admitted) != 0 {
		t.Fatalf("refused jobs left %d jobs, %d admissions", len(f.store.jobs), len(f.queue.admitted))
	}
	j, err := f.svc.Create(f.ctx, f.team, &f.file.ID, "onfile", nil)
	if err != nil || j.Status != domain.JobQueued || string(j.Params) != `{}` || j.CreatedBy == nil {
		t.Fatalf("created %+v %v; want queued, params {}, a creator", j, err)
	}
	if len(f.queue.admitted) != 1 || f.queue.admitted[0] != f.team {
		t.Fatalf("admitted %+v; want the team's jobs", f.queue.admitted)
	}
}

func (f *fixture) job(t *testing.T, status domain.JobStatus, started bool) domain.Job {
	t.Helper()
	j, err := f.svc.Create(f.ctx, f.team, &f.file.ID, "onfile", nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Status = status
	if started {
		now := time.Now()
		j.StartedAt, j.Attempts = &now, 1
	}
	f.store.jobs[j.ID] = j
	f.queue.admitted = nil
	return j
}

// TestCancel: queued and running jobs are cancelled (a running one's
// attempt is told to stop); cancelling a cancelled job returns it as it
// is; a finished one is a conflict.
func TestCancel(t *testing.T) {
	f := newFixture(t)
	queued := f.job(t, domain.JobQueued, false)
	got, err := f.svc.Cancel(f.ctx, f.team, queued.ID)
	if err != nil || got.Status != domain.JobCancelled || len(f.queue.cancelled) != 0 {
		t.Fatalf("queued: %+v %v, cancel signals %v", got, err, f.queue.cancelled)
	}
	if len(f.queue.admitted) != 1 || f.queue.admitted[0] != f.team {
		t.Fatalf("admitted %+v after a cancel; want the team's jobs (its place is free)", f.queue.admitted)
	}
	running := f.job(t, domain.JobRunning, true)
	if got, err := f.svc.Cancel(f.ctx, f.team, running.ID); err != nil || got.Status != domain.JobCancelled {
		t.Fatalf("running: %+v %v", got, err)
	}
	if len(f.queue.cancelled) != 1 || f.queue.cancelled[0].JobID != running.ID {
		t.Fatalf("cancel signals %+v; want one for the running job", f.queue.cancelled)
	}
	again, err := f.svc.Cancel(f.ctx, f.team, running.ID)
	if err != nil || again.Status != domain.JobCancelled {
		t.Fatalf("cancelling again: %+v %v; want the cancelled job", again, err)
	}
	for _, st := range []domain.JobStatus{domain.JobSucceeded, domain.JobFailed} {
		j := f.job(t, st, true)
		_, err := f.svc.Cancel(f.ctx, f.team, j.ID)
		wantCode(t, string(st), err, domain.CodeConflict, "")
	}
	_, err = f.svc.Cancel(f.ctx, uuid.New(), queued.ID)
	wantCode(t, "another team's job", err, domain.CodeNotFound, "")
}

// TestRetry: failed and cancelled jobs are queued again as a new run
// (a new task); queued, running and succeeded ones are a conflict.
func TestRetry(t *testing.T) {
	f := newFixture(t)
	for _, st := range []domain.JobStatus{domain.JobFailed, domain.JobCancelled} {
		j := f.job(t, st, true)
		got, err := f.svc.Retry(f.ctx, f.team, j.ID)
		if err != nil || got.Status != domain.JobQueued || got.Runs != j.Runs+1 {
			t.Fatalf("%s: %+v %v; want queued, run %d", st, got, err, j.Runs+1)
		}
		if len(f.queue.admitted) != 1 || f.queue.admitted[0] != f.team {
			t.Fatalf("%s: admitted %+v; want the team's jobs (the new run)", st, f.queue.admitted)
		}
	}
	for _, st := range []domain.JobStatus{domain.JobQueued, domain.JobRunning, domain.JobSucceeded} {
		j := f.job(t, st, st != domain.JobQueued)
		_, err := f.svc.Retry(f.ctx, f.team, j.ID)
		wantCode(t, string(st), err, domain.CodeConflict, "")
		if len(f.queue.admitted) != 0 {
			t.Fatalf("%s: admitted %+v", st, f.queue.admitted)
		}
	}
}

// TestOutputs: a job's outputs are listed and served by name, presigned
// for five minutes; an unknown name is not found.
func TestOutputs(t *testing.T) {
	f := newFixture(t)
	j := f.job(t, domain.JobSucceeded, true)
	key := jobs.OutputKey(j, 1, "report.json")
	f.store.outputs[j.ID] = []domain.JobOutput{{JobID: j.ID, Name: "report.json", Size: 2, ContentType: "application/json", ObjectKey: key}}
	f.blobs.objects = map[string][]byte{key: []byte("{}")}
	outs, err := f.svc.Outputs(f.ctx, f.team, j.ID)
	if err != nil || len(outs) != 1 {
		t.Fatalf("%+v %v", outs, err)
	}
	u, err := f.svc.OutputURL(f.ctx, f.team, j.ID, "report.json")
	if err != nil || !strings.Contains(u, key) || !strings.Contains(u, "ttl=5m0s") {
		t.Fatalf("URL %q %v", u, err)
	}
	d, err := f.svc.OpenOutput(f.ctx, f.team, j.ID, "report.json")
	if err != nil || d.ContentType != "application/json" {
		t.Fatalf("open: %+v %v", d, err)
	}
	_ = d.Body.Close()
	_, err = f.svc.OutputURL(f.ctx, f.team, j.ID, "rows.jsonl")
	wantCode(t, "an unknown output", err, domain.CodeNotFound, "")
	_, err = f.svc.Outputs(f.ctx, uuid.New(), j.ID)
	wantCode(t, "another team's job", err, domain.CodeNotFound, "")
}

// TestListProcessors: the processors the registry holds, by name.
func TestListProcessors(t *testing.T) {
	f := newFixture(t)
	ps, err := f.svc.ListProcessors(f.ctx)
	if err != nil || len(ps) != 2 || ps[0].Name() != "onfile" || ps[1].Name() != "onteam" {
		t.Fatalf("%v %v", ps, err)
	}
}
