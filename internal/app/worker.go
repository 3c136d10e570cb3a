package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/queue"
	"github.com/conveyorhq/conveyor/internal/store"
)

func runWorker(ctx context.Context, _ []string, getenv func(string) string, _, stderr io.Writer) error {
	cfg, err := parseConfig(getenv, config.NeedDatabase|config.NeedRedis|config.NeedS3)
	if err != nil {
		return err
	}
	log := observe.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	stopTracing, err := startTracing(ctx, getenv, "conveyor-worker", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	return work(ctx, cfg, log)
}

// work runs the outbox relay and the job worker until ctx is done; the
// worker then hands unfinished tasks back to the queue.
func work(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	client := queue.NewClient(d.redisOpt, d.processors)
	client.MaxRetry = cfg.JobMaxRetries
	defer client.Close()
	runner := &jobs.Runner{Store: d.store, Objects: d.blobs, Processors: d.processors, Source: exportSource{d.store},
		Logger: log, NotRunnable: store.ErrJobNotRunnable}
	metrics := observe.NewMetrics()
	metrics.Registry.MustRegister(d.store)
	qm := queue.NewMetrics(metrics.Registry)
	runner.OnStopped = qm.Stopped.Inc
	depth := queue.NewDepth(d.redisOpt)
	defer depth.Close()
	metrics.Registry.MustRegister(depth, queue.NewBacklog(d.store))
	w := queue.NewWorker(d.redisOpt, cfg.WorkerConcurrency, cfg.ShutdownTimeout, runner, log)
	w.Metrics = qm
	relay := &queue.Relay{Store: d.store, Client: client, DefaultCap: int(cfg.TeamMaxRunningJobs), Ahead: cfg.DispatchAhead, Logger: log, Metrics: qm, Wakes: d.redis}
	// The events relay runs beside the dispatch relay, in the workers: they
	// are the processes that run background loops against the primary
	// (the API's are request-driven), any number may run (one relays a
	// team at a time), and most job events are committed here, so they
	// wake it in-process; the API's commits wake it over Redis.
	eventRelay := &events.Relay{Store: d.store, Redis: d.redis, Wakes: d.redis, Logger: log, Metrics: events.NewRelayMetrics(metrics.Registry)}
	d.relay = eventRelay
	// Email (when a relay is configured): the email fan-out queues each
	// event's emails in the notify consumer's transaction, and the sender
	// sends them.
	mailer, links, err := emailSender(cfg, d.store, log, metrics.Registry)
	if err != nil {
		return err
	}
	if mailer != nil {
		if err := d.store.RegisterFanout("email", store.FanoutFunc(d.store.FanoutEmails(links))); err != nil {
			return err
		}
	}
	// The notify consumer of the log fans events out into webhook
	// deliveries (and whatever else registered a store.Fanout) with
	// PostgreSQL alone: it goes on while Redis is down.
	notifier := &events.Notifier{Store: d.store, Wakes: d.redis, Logger: log,
		FannedOut: func() {
			if d.deliveriesDue != nil {
				d.deliveriesDue()
			}
			if mailer != nil {
				mailer.Wake()
			}
		}}
	d.notifier = notifier
	// A job started or ended: its team's places in the queue and under its
	// cap are topped up at once, by the worker, for that team alone (the
	// relay's rounds go over every team), so the team's workers do not run
	// dry.
	admitter := &queue.Admitter{Client: client, Store: d.store, DefaultCap: int(cfg.TeamMaxRunningJobs), Ahead: cfg.DispatchAhead, Wakes: d.redis, Logger: log}
	runner.OnStarted = func(j domain.Job) { go admitter.Admit(ctx, j.TeamID) }
	runner.OnEnded = runner.OnStarted
	ln, err := net.Listen("tcp", cfg.WorkerAddr)
	if err != nil {
		return fmt.Errorf("worker: listen on %s: %w", cfg.WorkerAddr, err)
	}
	srv := &http.Server{Handler: workerHandler(d, metrics), ReadHeaderTimeout: 10 * time.Second}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("worker: serve %s: %w", cfg.WorkerAddr, err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error { return relay.Run(gctx) })
	g.Go(func() error { return eventRelay.Run(gctx) })
	g.Go(func() error { return notifier.Run(gctx) })
	g.Go(func() error { return w.Run(gctx) })
	if mailer != nil {
		g.Go(func() error { return mailer.Run(gctx) })
	}
	g.Go(func() error { sweepIdempotencyKeys(gctx, d.store, log); return nil })
	reconciler := &queue.Reconciler{Store: d.store, After: cfg.RedispatchAfter, Interval: cfg.JanitorInterval, Logger: log,
		Redispatched: relay.Wake}
	g.Go(func() error { reconciler.Run(gctx); return nil })
	janitor := &files.Janitor{Store: d.store, Blobs: d.blobs, Grace: cfg.OrphanGrace, Logger: log}
	g.Go(func() error { janitor.Run(gctx, cfg.JanitorInterval); return nil })
	usage := &files.UsageReconciler{Store: d.store, Interval: cfg.UsageReconcileInterval, Logger: log}
	g.Go(func() error { usage.Run(gctx); return nil })
	log.Info("worker running", "concurrency", cfg.WorkerConcurrency)
	return g.Wait()
}

// exportSource pages through a team's resources oldest first.
type exportSource struct{ s *store.Store }

func (e exportSource) Files(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.File], error) {
	return e.s.TeamFiles(ctx, teamID, page)
}

func (e exportSource) Jobs(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error) {
	return e.s.TeamJobs(ctx, teamID, page)
}

// sweepIdempotencyKeys deletes expired idempotency keys every ten minutes.
func sweepIdempotencyKeys(ctx context.Context, s *store.Store, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := s.SweepIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep idempotency keys", "err", err)
		} else if n > 0 {
			log.Info("swept idempotency keys", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// workerHandler serves the worker's health, readiness (database and Redis
// reachable), metrics and profiles (CONVEYOR_WORKER_ADDR is internal).
func workerHandler(d *deps, m *observe.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := errors.Join(d.store.Ready(ctx), d.redis.Ping(ctx).Err()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"Service Unavailable"}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"OK"}` + "\n"))
	})
	mux.Handle("GET /metrics", m.Handler())
	handlePprof(mux)
	return mux
}
