package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/observe"
)

// runDev brings up the local topology under the run folder (kept between
// runs), applies migrations, runs the API and a worker in this process,
// prints where to find them and a dev admin token, and stops everything on
// Ctrl-C.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apis := fs.Int("apis", 0, "run N API processes behind a local nginx ingress (the full topology; 0: the API in this process)")
	workers := fs.Int("workers", 0, "run N worker processes (the full topology; 0: a worker in this process)")
	replicas := fs.Int("replicas", 1, "PostgreSQL streaming replicas")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *apis < 0 || *workers < 0 || *replicas < 1 {
		return fmt.Errorf("dev: --apis and --workers must not be negative, --replicas must be at least 1")
	}
	cfg, err := parseConfig(getenv, 0)
	if err != nil {
		return err
	}
	if *apis > 0 || *workers > 0 {
		return runDevFull(ctx, cfg, getenv, *apis, *workers, *replicas, stdout, stderr)
	}
	log := observe.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	stopTracing, err := startTracing(ctx, getenv, "conveyor-dev", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	start := time.Now()
	stack, err := devstack.Start(ctx, devstack.Options{Dir: filepath.Join(cfg.RunDir, "dev"), Replicas: *replicas, Keep: true, Mail: true, Log: stderr})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stderr, "stopping the local topology")
		if err := stack.Stop(); err != nil {
			fmt.Fprintln(stderr, "devstack stop:", err)
		}
	}()
	UseStack(cfg, stack)
	if err := migrateUp(ctx, cfg.MigrateURL, stderr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("dev: listen on %s: %w (set CONVEYOR_HTTP_ADDR to use another port)", cfg.HTTPAddr, err)
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	cfg.PublicURL = publicURL
	tok, err := mintDevToken(cfg, auth.TokenRequest{Subject: "dev-admin", Email: "admin@conveyor.local", Name: "Dev Admin", Admin: true, TTL: 12 * time.Hour})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(gctx, cfg, ln, log, io.Discard) })
	g.Go(func() error { return work(gctx, cfg, log) })
	writeDevBanner(stdout, time.Since(start), cfg, stack, tok)
	return g.Wait()
}

// writeDevBanner prints where everything is: the console first (what most
// people open), then the API, its docs and the rest.
func writeDevBanner(w io.Writer, took time.Duration, cfg *config.Config, stack *devstack.Stack, tok string) {
	u := cfg.PublicURL
	fmt.Fprintf(w, `
Conveyor is running (local topology up in %s).
  Console:  %s/
  API:      %s/api/v1
  Docs:     %s/docs/
  Spec:     %s/api/v1/openapi.yaml
  Metrics:  %s/metrics (API), http://%s/metrics (worker)
  Postgres: %s (primary via PgBouncer), %d replica(s)
  Redis:    %s    S3: %s (bucket %q)
  Mail:     %s (mailpit: what Conveyor emails, SMTP on %s)
Press Ctrl-C to stop. Another token: go run ./cmd/conveyor token --subject you [--admin]
Dev admin token (12h):
%s
`, took.Round(10*time.Millisecond), u, u, u, u, u, cfg.WorkerAddr,
		stack.PrimaryURL, len(stack.ReplicaURLs), stack.RedisAddr, stack.S3Endpoint, stack.S3Bucket, stack.MailURL, stack.SMTPAddr, tok)
}

// UseStack points cfg at a running devstack and turns on dev mode.
func UseStack(cfg *config.Config, s *devstack.Stack) {
	cfg.Dev = true
	cfg.DatabaseURL = s.PrimaryURL
	cfg.ReplicaURLs = s.ReplicaURLs
	cfg.MigrateURL = s.DirectPrimaryURL
	cfg.RedisAddr = s.RedisAddr
	cfg.RedisPassword, cfg.RedisDB = "", 0
	cfg.S3Endpoint = s.S3Endpoint
	cfg.S3Region = s.S3Region
	cfg.S3Bucket = s.S3Bucket
	cfg.S3AccessKey = s.S3AccessKey
	cfg.S3SecretKey = s.S3SecretKey
	cfg.S3PathStyle = true
	if s.SMTPAddr != "" {
		host, port, _ := net.SplitHostPort(s.SMTPAddr)
		cfg.SMTPHost, cfg.SMTPTLS = host, "none"
		cfg.SMTPPort, _ = strconv.Atoi(port)
		cfg.SMTPUsername, cfg.SMTPPassword = "", ""
	}
}
