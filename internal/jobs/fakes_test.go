package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// errNotRunnable stands for the store's error for a job in a state a
// change does not apply to.
var errNotRunnable = errors.New("fake: job not runnable")

var errNotFound = domain.Errorf(domain.CodeNotFound, "Not found.")

type allowAll struct{}

func (allowAll) Check(context.Context, string, *uuid.UUID) error { return nil }

// memStore holds jobs, the files they may name, and outputs, and moves
// jobs between states as the database's transactions do: a change that
// does not apply to the job's state is errNotRunnable, and only the
// current attempt of a running job may record anything.
type memStore struct {
	mu      sync.Mutex
	jobs    map[uuid.UUID]domain.Job
	files   map[uuid.UUID]domain.File
	outputs map[uuid.UUID][]domain.JobOutput
	// progressNotRunnable makes UpdateJobProgress answer errNotRunnable
	// (the job was cancelled or taken over meanwhile).
	progressNotRunnable bool
	succeeded, failed   int
	lastError           *domain.JobError
}

func newMemStore() *memStore {
	return &memStore{jobs: map[uuid.UUID]domain.Job{}, files: map[uuid.UUID]domain.File{}, outputs: map[uuid.UUID][]domain.JobOutput{}}
}

func (m *memStore) put(j domain.Job) domain.Job {
	j.UpdatedAt = time.Now()
	m.jobs[j.ID] = j
	return j
}

func (m *memStore) CreateJob(_ context.Context, j domain.Job) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j.FileID != nil {
		if f, ok := m.files[*j.FileID]; !ok || f.TeamID != j.TeamID {
			return domain.Job{}, errNotFound
		}
	}
	j.Status, j.Runs, j.CreatedAt = domain.JobQueued, 1, time.Now()
	return m.put(j), nil
}

func (m *memStore) Job(_ context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok || j.TeamID != teamID {
		return domain.Job{}, errNotFound
	}
	return j, nil
}

func (m *memStore) Jobs(_ context.Context, teamID uuid.UUID, _ domain.PageRequest) (domain.Page[domain.Job], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out domain.Page[domain.Job]
	for _, j := range m.jobs {
		if j.TeamID == teamID {
			out.Items = append(out.Items, j)
		}
	}
	return out, nil
}

func (m *memStore) CancelJob(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	j, err := m.Job(ctx, teamID, id)
	if err != nil {
		return domain.Job{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if j.Status != domain.JobQueued && j.Status != domain.JobRunning {
		return domain.Job{}, errNotRunnable
	}
	now := time.Now()
	j.Status, j.FinishedAt = domain.JobCancelled, &now
	return m.put(j), nil
}

func (m *memStore) RetryJob(ctx context.Context, teamID, id uuid.UUID) (domain.Job, error) {
	j, err := m.Job(ctx, teamID, id)
	if err != nil {
		return domain.Job{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if j.Status != domain.JobFailed && j.Status != domain.JobCancelled {
		return domain.Job{}, errNotRunnable
	}
	j.Status, j.Runs, j.Error, j.FinishedAt, j.StartedAt, j.Progress = domain.JobQueued, j.Runs+1, nil, nil, nil, 0
	return m.put(j), nil
}

func (m *memStore) JobOutputs(ctx context.Context, teamID, jobID uuid.UUID) ([]domain.JobOutput, error) {
	if _, err := m.Job(ctx, teamID, jobID); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outputs[jobID], nil
}

func (m *memStore) JobOutput(ctx context.Context, teamID, jobID uuid.UUID, name string) (domain.JobOutput, error) {
	outs, err := m.JobOutputs(ctx, teamID, jobID)
	if err != nil {
		return domain.JobOutput{}, err
	}
	for _, o := range outs {
		if o.Name == name {
			return o, nil
		}
	}
	return domain.JobOutput{}, errNotFound
}

// The runner's side.

func (m *memStore) JobByID(_ context.Context, id uuid.UUID) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return domain.Job{}, errNotFound
	}
	return j, nil
}

func (m *memStore) FileByID(_ context.Context, id uuid.UUID) (domain.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[id]
	if !ok {
		return domain.File{}, errNotFound
	}
	return f, nil
}

func (m *memStore) StartJobAttempt(_ context.Context, id uuid.UUID, run int) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok || j.Status.Final() || (run != 0 && run != j.Runs) {
		return domain.Job{}, errNotRunnable
	}
	now := time.Now()
	j.Status, j.Attempts, j.StartedAt = domain.JobRunning, j.Attempts+1, &now
	return m.put(j), nil
}

// current returns the job if attempt is its running attempt.
func (m *memStore) current(id uuid.UUID, attempt int) (domain.Job, error) {
	j, ok := m.jobs[id]
	if !ok || j.Status != domain.JobRunning || j.Attempts != attempt {
		return domain.Job{}, errNotRunnable
	}
	return j, nil
}

func (m *memStore) UpdateJobProgress(_ context.Context, id uuid.UUID, attempt, pct int, _ bool) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.current(id, attempt)
	if err != nil || m.progressNotRunnable {
		return domain.Job{}, errNotRunnable
	}
	j.Progress = pct
	return m.put(j), nil
}

func (m *memStore) SucceedJob(_ context.Context, id uuid.UUID, attempt int, result json.RawMessage, outputs []domain.JobOutput) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.current(id, attempt)
	if err != nil {
		return domain.Job{}, err
	}
	now := time.Now()
	j.Status, j.Result, j.Progress, j.FinishedAt = domain.JobSucceeded, result, 100, &now
	m.outputs[id] = outputs
	m.succeeded++
	return m.put(j), nil
}

func (m *memStore) FailJob(_ context.Context, id uuid.UUID, attempt int, jobErr domain.JobError) (domain.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, err := m.current(id, attempt)
	if err != nil {
		return domain.Job{}, err
	}
	now := time.Now()
	j.Status, j.Error, j.FinishedAt = domain.JobFailed, &jobErr, &now
	m.failed++
	m.lastError = &jobErr
	return m.put(j), nil
}

// memObjects is object storage in memory.
type memObjects struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func (o *memObjects) Get(_ context.Context, key string) (io.ReadCloser, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.objects[key]
	if !ok {
		return nil, errNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (o *memObjects) Put(_ context.Context, key string, body io.Reader, _ string) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.objects == nil {
		o.objects = map[string][]byte{}
	}
	o.objects[key] = b
	return nil
}

func (o *memObjects) PresignDownload(_ context.Context, key, name, _ string, ttl time.Duration) (string, error) {
	return "https://s3.test/" + key + "?name=" + name + "&ttl=" + ttl.String(), nil
}

func (o *memObjects) OpenDownload(ctx context.Context, key, _, _, contentType string) (domain.Download, error) {
	rc, err := o.Get(ctx, key)
	if err != nil {
		return domain.Download{}, err
	}
	return domain.Download{Body: rc, ContentType: contentType}, nil
}

// queue records the teams it was asked to admit jobs of, and the
// dispatches it was asked to cancel.
type queue struct {
	mu        sync.Mutex
	admitted  []uuid.UUID
	cancelled []domain.Dispatch
}

func (q *queue) Admit(_ context.Context, teamID uuid.UUID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.admitted = append(q.admitted, teamID)
}

func (q *queue) CancelRunning(_ context.Context, d domain.Dispatch) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cancelled = append(q.cancelled, d)
	return nil
}

// proc is a processor whose Run is the test's.
type proc struct {
	name      string
	needsFile bool
	run       func(ctx context.Context, in processors.Input) (processors.Output, error)
}

func (p proc) Name() string                  { return p.name }
func (p proc) Description() string           { return "a test processor" }
func (p proc) NeedsFile() bool               { return p.needsFile }
func (p proc) Priority() processors.Priority { return processors.PriorityDefault }
func (p proc) Timeout() time.Duration        { return 10 * time.Second }
func (p proc) ParamsSchema() string {
	return `{"type":"object","additionalProperties":false,"properties":{"size":{"type":"integer","minimum":1,"maximum":10}}}`
}

func (p proc) Run(ctx context.Context, in processors.Input) (processors.Output, error) {
	if p.run == nil {
		return processors.Output{Result: json.RawMessage(`{}`)}, nil
	}
	return p.run(ctx, in)
}
