package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/conveyorhq/conveyor/internal/config"
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
	return work(ctx, cfg, observe.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel))
}

// work runs the outbox relay and the job worker until ctx is done; the
// worker then hands unfinished tasks back to the queue.
func work(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	client := queue.NewClient(d.redisOpt)
	defer client.Close()
	runner := &jobs.Runner{Store: d.store, Objects: d.blobs, Processors: d.processors, Logger: log, NotRunnable: store.ErrJobNotRunnable}
	w := queue.NewWorker(d.redisOpt, cfg.WorkerConcurrency, cfg.ShutdownTimeout, runner, log)
	relay := &queue.Relay{Store: d.store, Client: client, Logger: log}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return relay.Run(gctx) })
	g.Go(func() error { return w.Run(gctx) })
	g.Go(func() error { sweepIdempotencyKeys(gctx, d.store, log); return nil })
	janitor := &files.Janitor{Store: d.store, Blobs: d.blobs, Grace: cfg.OrphanGrace, Logger: log}
	g.Go(func() error { janitor.Run(gctx, cfg.JanitorInterval); return nil })
	log.Info("worker running", "concurrency", cfg.WorkerConcurrency)
	return g.Wait()
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
