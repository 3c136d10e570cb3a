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
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// TaskRunJob is the asynq task type that runs a job; its payload is the job
// id and the run ("<uuid> <run>"; a bare id, from before runs, runs the
// current run).
const TaskRunJob = "job:run"

func payload(d domain.Dispatch) []byte { return fmt.Appendf(nil, "%s %d", d.JobID, d.Run) }

// parsePayload reads a task payload; run is 0 when it names none.
func parsePayload(p []byte) (uuid.UUID, int, error) {
	idPart, runPart, hasRun := strings.Cut(string(p), " ")
	id, err := uuid.Parse(idPart)
	if err != nil {
		return uuid.Nil, 0, err
	}
	if !hasRun {
		return id, 0, nil
	}
	run, err := strconv.Atoi(runPart)
	if err != nil || run < 1 {
		return uuid.Nil, 0, fmt.Errorf("bad run %q", runPart)
	}
	return id, run, nil
}

// Queue names, by priority; workers take from them in proportion to their
// weights, so interactive work goes first without starving the rest.
const (
	QueueHigh    = "high"
	QueueDefault = "default"
	QueueLow     = "low"
)

// Queues maps each queue to its weight.
var Queues = map[string]int{QueueHigh: 6, QueueDefault: 3, QueueLow: 1}

// QueueFor names the queue of a processor's priority.
func QueueFor(p processors.Priority) string {
	switch p {
	case processors.PriorityHigh:
		return QueueHigh
	case processors.PriorityLow:
		return QueueLow
	}
	return QueueDefault
}

// TaskCheckInterval is how often an idle worker polls the queues.
const TaskCheckInterval = 25 * time.Millisecond

// MaxRetry is how many times, by default, a retryable failure is retried
// before the job fails.
const MaxRetry = 8

// Retention keeps finished tasks in Redis for operators to inspect.
const Retention = 24 * time.Hour

// TaskTimeout bounds one run of a job task whose processor this process
// does not know; a known processor's own timeout applies otherwise.
const TaskTimeout = 10 * time.Minute

// timeoutGrace lets the runner's own (per-processor) timeout fire first,
// so the job records a typed timeout error.
const timeoutGrace = 30 * time.Second

// TaskID names the task of a job's run: the job id for its first run, so a
// task re-sent for the same run is deduplicated by Redis, and a new id for
// each retry a client asks for (the old task may be retained).
func TaskID(d domain.Dispatch) string {
	if d.Run <= 1 {
		return d.JobID.String()
	}
	return fmt.Sprintf("%s.r%d", d.JobID, d.Run)
}

// Client enqueues job tasks.
type Client struct {
	c          *asynq.Client
	inspector  *asynq.Inspector
	processors *processors.Registry
	opt        asynq.RedisClientOpt
	checked    atomic.Int64 // unix nanos of the last look at the registered queues
	// MaxRetry bounds the retries of each task sent (default MaxRetry).
	MaxRetry int
}

// NewClient returns a client for the Redis at opt; reg gives each
// processor's queue and timeout.
func NewClient(opt asynq.RedisClientOpt, reg *processors.Registry) *Client {
	return &Client{c: asynq.NewClient(opt), inspector: asynq.NewInspector(opt), processors: reg, opt: opt, MaxRetry: MaxRetry}
}

// Close closes the client's connections.
func (c *Client) Close() error { return errors.Join(c.c.Close(), c.inspector.Close()) }

// Send enqueues the task that runs d's job. A task already in Redis for
// that run counts as sent, since the task id deduplicates, with one
// exception: a task asynq archived (its retries spent, or its handler's
// last failure not recorded) never runs again, and would block every
// re-dispatch of the run. Send puts such a task back in its queue, where it
// runs once more as its last retry, so the reconciler recovers the run
// without an operator.
func (c *Client) Send(ctx context.Context, d domain.Dispatch) (err error) {
	queue, timeout := QueueDefault, TaskTimeout
	if p, err := c.processors.Get(d.Processor); err == nil {
		queue, timeout = QueueFor(p.Priority()), p.Timeout()+timeoutGrace
	}
	id := TaskID(d)
	ctx, t, end := startSend(ctx, d, queue, id)
	defer func() { end(err) }()
	// Bounded: the existing task's state changes only so often.
	opts := []asynq.Option{asynq.TaskID(id), asynq.Queue(queue),
		asynq.MaxRetry(c.MaxRetry), asynq.Retention(Retention), asynq.Timeout(timeout)}
	for range sendAttempts {
		_, err := c.c.EnqueueContext(ctx, t, opts...)
		if err == nil {
			return c.ensureRegistered(ctx, t, queue, opts)
		}
		if !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
			return err
		}
		info, err := c.inspector.GetTaskInfo(queue, id)
		switch {
		case errors.Is(err, asynq.ErrQueueNotFound):
			// Redis lost its data (restarted without persistence) and
			// c.c, which remembers having registered its queues, enqueued
			// into an unregistered one: register it again and look again.
			if err := c.register(ctx, t, opts); err != nil {
				return fmt.Errorf("queue: register queue %s: %w", queue, err)
			}
			continue
		case errors.Is(err, asynq.ErrTaskNotFound):
			continue // removed since (its retention ran out): enqueue it again
		case err != nil:
			return fmt.Errorf("queue: look up task %s: %w", id, err)
		case info.State != asynq.TaskStateArchived:
			return nil // pending, scheduled, retrying, running or completed: it is the run's task
		}
		if err := c.inspector.RunTask(queue, id); err == nil {
			return nil
		}
		// It changed state meanwhile (run or deleted by someone else): look again.
	}
	return fmt.Errorf("queue: task %s: enqueue conflicts, and the task in Redis keeps changing state", id)
}

// registeredCheck is the least time between two looks, after an enqueue,
// at whether its queue is still registered.
const registeredCheck = 5 * time.Second

// ensureRegistered looks, at most every registeredCheck, whether queue is
// registered with asynq (after Redis lost its data, c.c's enqueues do not
// register it again: the task would wait in a queue the metrics and
// look-ups do not know), and registers it if not. The task was enqueued:
// a failed look is not the send's failure.
func (c *Client) ensureRegistered(ctx context.Context, t *asynq.Task, queue string, opts []asynq.Option) error {
	now := time.Now().UnixNano()
	last := c.checked.Load()
	if now-last < int64(registeredCheck) || !c.checked.CompareAndSwap(last, now) {
		return nil
	}
	known, err := c.inspector.Queues()
	if err != nil || slices.Contains(known, queue) {
		return nil
	}
	_ = c.register(ctx, t, opts)
	return nil
}

// register registers t's queue with asynq again, through a client of its
// own (asynq's registers each queue on its first enqueue only); the
// enqueue itself conflicts with the task already there.
func (c *Client) register(ctx context.Context, t *asynq.Task, opts []asynq.Option) error {
	fresh := asynq.NewClient(c.opt)
	defer fresh.Close()
	_, err := fresh.EnqueueContext(ctx, t, opts...)
	if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// sendAttempts bounds Send's rounds of enqueue and look-up.
const sendAttempts = 3

// CancelRunning asks the worker running d's task to cancel its context.
func (c *Client) CancelRunning(_ context.Context, d domain.Dispatch) error {
	return c.inspector.CancelProcessing(TaskID(d))
}

// Metrics counts what the relay and the worker do. None has a label per
// team: the teams at their cap and the waits for admission say what an
// operator needs without one series per team.
type Metrics struct {
	Tasks      *prometheus.CounterVec // by outcome: done, retry, skipped
	Duration   prometheus.Histogram
	Dispatched prometheus.Counter
	Stopped    prometheus.Counter
	// TeamsWaiting and TeamsAtCap are the relay's last round's view.
	TeamsWaiting prometheus.Gauge
	TeamsAtCap   prometheus.Gauge
	AdmitWait    prometheus.Histogram
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
		Stopped: prometheus.NewCounter(prometheus.CounterOpts{Name: "conveyor_worker_attempts_stopped_total",
			Help: "Job attempts stopped part-way because the job was cancelled or taken over by another attempt."}),
		TeamsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "conveyor_dispatch_teams_waiting",
			Help: "Teams with jobs waiting for admission to the queue, at this relay's last round (at most 64 are looked at per round)."}),
		TeamsAtCap: prometheus.NewGauge(prometheus.GaugeOpts{Name: "conveyor_dispatch_teams_at_cap",
			Help: "Teams whose running and dispatched jobs fill their cap (max_running_jobs) while more of their jobs wait, at this relay's last round."}),
		AdmitWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "conveyor_dispatch_wait_seconds",
			Help:    "How long a job waited, from its submission or retry, for admission to the queue (its team's cap is what it waits for).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 18)}),
	}
	reg.MustRegister(m.Tasks, m.Duration, m.Dispatched, m.Stopped, m.TeamsWaiting, m.TeamsAtCap, m.AdmitWait)
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
// data, say): every Interval, jobs queued for longer than After, or running
// with no heartbeat for longer than After (a running attempt records one
// every few seconds), get a new dispatch record, which the relay sends
// again; a task still in Redis deduplicates it, and one asynq archived is
// put back in its queue (see Client.Send).
type Reconciler struct {
	Store    Redispatcher
	After    time.Duration
	Interval time.Duration
	Logger   *slog.Logger
	// Redispatched, when set, is called after dispatch records were
	// written (to wake the relay).
	Redispatched func()
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
		n, err := r.Store.RedispatchStuckJobs(ctx, r.After, r.After)
		switch {
		case err != nil && ctx.Err() == nil:
			r.Logger.Warn("queue: reconcile stuck jobs", "err", err)
		case n > 0:
			r.Logger.Warn("queue: re-dispatched stuck jobs", "count", n)
			if r.Redispatched != nil {
				r.Redispatched()
			}
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
		Concurrency: concurrency,
		Queues:      Queues,
		// An idle worker looks for tasks this often (asynq's default is
		// 1 s, which would be the latency floor of an interactive job).
		TaskCheckInterval: TaskCheckInterval,
		ShutdownTimeout:   shutdownTimeout,
		RetryDelayFunc:    backoff,
		LogLevel:          asynq.WarnLevel,
		Logger:            asynqLogger{log},
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

// handle runs one attempt at a task, in a consumer span that continues the
// trace of the request that queued the job (see startSend); the attempt's
// log lines carry its trace_id, and its duration's exemplar.
func (w *Worker) handle(ctx context.Context, t *asynq.Task) (err error) {
	start := time.Now()
	outcome := "done"
	id, run, perr := parsePayload(t.Payload())
	ctx, span := startProcess(ctx, t, domain.Dispatch{JobID: id, Run: run})
	defer func() {
		took := time.Since(start)
		if w.Metrics != nil {
			w.Metrics.Tasks.WithLabelValues(outcome).Inc()
			observe.ObserveWithTrace(ctx, w.Metrics.Duration, took.Seconds())
		}
		span.SetAttributes(attribute.String("conveyor.task.outcome", outcome))
		if err != nil {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
		lvl, attrs := slog.LevelInfo, []slog.Attr{slog.String("job", id.String()), slog.Int("run", run),
			slog.String("outcome", outcome), slog.Duration("took", took)}
		if err != nil {
			lvl, attrs = slog.LevelWarn, append(attrs, slog.Any("err", err))
		}
		w.log.LogAttrs(ctx, lvl, "queue: task", attrs...)
	}()
	if perr != nil {
		outcome = "skipped"
		w.log.ErrorContext(ctx, "queue: bad task payload", "payload", string(t.Payload()))
		return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	err = w.runner.Run(ctx, id, run, retried >= maxRetry)
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

// Depth exports the queues' task counts by state, read from Redis at each
// scrape: the backlog operators watch (and alert on).
type Depth struct {
	Inspector *asynq.Inspector
	desc      *prometheus.Desc
	oldest    *prometheus.Desc
}

// NewDepth returns the collector; register it with the worker's registry.
func NewDepth(opt asynq.RedisClientOpt) *Depth {
	return &Depth{Inspector: asynq.NewInspector(opt),
		desc: prometheus.NewDesc("conveyor_queue_tasks", "Tasks in each asynq queue, by state (pending, active, scheduled, retry, archived, completed).",
			[]string{"queue", "state"}, nil),
		oldest: prometheus.NewDesc("conveyor_queue_latency_seconds", "Age of the oldest pending task of each queue.",
			[]string{"queue"}, nil)}
}

// Describe implements prometheus.Collector.
func (d *Depth) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc; ch <- d.oldest }

// Collect implements prometheus.Collector. A queue never used yet reads as
// empty; Redis unreachable exports nothing (the worker's /readyz says so).
func (d *Depth) Collect(ch chan<- prometheus.Metric) {
	// GetQueueInfo of a queue not registered (never used, or Redis lost
	// its data) fails with an error that does not wrap ErrQueueNotFound:
	// ask which queues exist first.
	known, err := d.Inspector.Queues()
	if err != nil {
		return
	}
	for q := range Queues {
		info := &asynq.QueueInfo{Queue: q}
		if slices.Contains(known, q) {
			if info, err = d.Inspector.GetQueueInfo(q); err != nil {
				continue
			}
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed} {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(d.oldest, prometheus.GaugeValue, info.Latency.Seconds(), q)
	}
}

// Close closes the collector's Redis connection.
func (d *Depth) Close() error { return d.Inspector.Close() }
