// Package queue moves jobs from the database to workers: the relay hands
// outbox rows to asynq (Redis) with the job id as the task id, and the
// worker server runs each task through jobs.Runner.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/conveyorhq/conveyor/internal/jobs"
)

// TaskRunJob is the asynq task type that runs a job; its payload is the job id.
const TaskRunJob = "job:run"

// Queue names, by priority.
const (
	QueueDefault = "default"
)

// MaxRetry is how many times a retryable failure is retried before the job fails.
const MaxRetry = 8

// Retention keeps finished tasks in Redis for operators to inspect.
const Retention = 24 * time.Hour

// TaskTimeout bounds one run of a job task.
const TaskTimeout = 10 * time.Minute

// Client enqueues job tasks.
type Client struct {
	c *asynq.Client
}

// NewClient returns a client for the Redis at opt.
func NewClient(opt asynq.RedisClientOpt) *Client { return &Client{c: asynq.NewClient(opt)} }

// Close closes the client's connection.
func (c *Client) Close() error { return c.c.Close() }

// Send enqueues the task that runs job id. A task already in Redis for that
// job counts as sent: the task id deduplicates.
func (c *Client) Send(ctx context.Context, id uuid.UUID) error {
	t := asynq.NewTask(TaskRunJob, []byte(id.String()))
	_, err := c.c.EnqueueContext(ctx, t, asynq.TaskID(id.String()), asynq.Queue(QueueDefault),
		asynq.MaxRetry(MaxRetry), asynq.Retention(Retention), asynq.Timeout(TaskTimeout))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// Dispatcher claims pending dispatches and marks them sent.
type Dispatcher interface {
	DispatchPending(ctx context.Context, limit int, send func(ctx context.Context, jobID uuid.UUID) error) (int, error)
}

// Relay moves outbox rows to the queue. Several relays may run at once:
// each claims rows the others do not hold.
type Relay struct {
	Store    Dispatcher
	Client   *Client
	Interval time.Duration // pause when there is nothing to do
	Batch    int
	Logger   *slog.Logger
	Metrics  *Metrics // optional
}

// Run relays until ctx is done.
func (r *Relay) Run(ctx context.Context) error {
	interval, batch := r.Interval, r.Batch
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	if batch <= 0 {
		batch = 100
	}
	for {
		n, err := r.Store.DispatchPending(ctx, batch, r.Client.Send)
		if r.Metrics != nil && n > 0 {
			r.Metrics.Dispatched.Add(float64(n))
		}
		if err != nil && ctx.Err() == nil {
			r.Logger.Warn("queue: relay round failed", "err", err)
		}
		if n == batch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Metrics counts what the relay and the worker do.
type Metrics struct {
	Tasks      *prometheus.CounterVec // by outcome: done, retry, skipped
	Duration   prometheus.Histogram
	Dispatched prometheus.Counter
}

// NewMetrics registers the queue's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Tasks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_worker_tasks_total",
			Help: "Job tasks the worker ran, by outcome: done (the job reached a final state or was not this attempt's), retry, skipped (bad task)."},
			[]string{"outcome"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "conveyor_worker_task_duration_seconds",
			Help: "How long a job task ran.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}),
		Dispatched: prometheus.NewCounter(prometheus.CounterOpts{Name: "conveyor_outbox_dispatched_total",
			Help: "Jobs the relay handed from the outbox to the queue."}),
	}
	reg.MustRegister(m.Tasks, m.Duration, m.Dispatched)
	for _, outcome := range []string{"done", "retry", "skipped"} {
		m.Tasks.WithLabelValues(outcome) // exported at 0 from the start, for rates and alerts
	}
	return m
}

// Redispatcher finds jobs whose task may be lost.
type Redispatcher interface {
	RedispatchStuckJobs(ctx context.Context, queuedAfter, runningAfter time.Duration) (int64, error)
}

// Reconciler redoes jobs whose task was lost (Redis restarted without its
// data, say): every Interval, jobs queued longer than After (or running
// longer than the task timeout plus After) get a new dispatch record, which
// the relay sends again.
type Reconciler struct {
	Store    Redispatcher
	After    time.Duration
	Interval time.Duration
	Logger   *slog.Logger
}

// Run reconciles until ctx is done.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := r.Store.RedispatchStuckJobs(ctx, r.After, TaskTimeout+r.After)
		switch {
		case err != nil && ctx.Err() == nil:
			r.Logger.Warn("queue: reconcile stuck jobs", "err", err)
		case n > 0:
			r.Logger.Warn("queue: re-dispatched stuck jobs", "count", n)
		}
	}
}

// Worker runs job tasks.
type Worker struct {
	srv     *asynq.Server
	runner  *jobs.Runner
	log     *slog.Logger
	Metrics *Metrics // optional
}

// NewWorker returns a worker that runs concurrency tasks at once.
func NewWorker(opt asynq.RedisClientOpt, concurrency int, shutdownTimeout time.Duration, runner *jobs.Runner, log *slog.Logger) *Worker {
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{QueueDefault: 1},
		ShutdownTimeout: shutdownTimeout,
		RetryDelayFunc:  backoff,
		LogLevel:        asynq.WarnLevel,
		Logger:          asynqLogger{log},
	})
	return &Worker{srv: srv, runner: runner, log: log}
}

// backoff is exponential with full jitter: up to 2^n seconds, at most 5 minutes.
func backoff(n int, _ error, _ *asynq.Task) time.Duration {
	max := time.Second << min(n, 8)
	if max > 5*time.Minute {
		max = 5 * time.Minute
	}
	return time.Second + time.Duration(rand.Int64N(int64(max)))
}

// Run serves tasks until ctx is done, then stops taking new ones and waits
// (up to the shutdown timeout) for running ones; unfinished tasks go back
// to the queue.
func (w *Worker) Run(ctx context.Context) error {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TaskRunJob, w.handle)
	if err := w.srv.Start(mux); err != nil {
		return fmt.Errorf("queue: start worker: %w", err)
	}
	<-ctx.Done()
	w.srv.Shutdown()
	return nil
}

func (w *Worker) handle(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	outcome := "done"
	defer func() {
		if w.Metrics != nil {
			w.Metrics.Tasks.WithLabelValues(outcome).Inc()
			w.Metrics.Duration.Observe(time.Since(start).Seconds())
		}
	}()
	id, err := uuid.ParseBytes(t.Payload())
	if err != nil {
		outcome = "skipped"
		w.log.Error("queue: bad task payload", "payload", string(t.Payload()))
		return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	err = w.runner.Run(ctx, id, retried >= maxRetry)
	if err != nil {
		outcome = "retry"
	}
	return err
}

type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
