// Package devstack brings up the local service topology on loopback for
// `conveyor dev` and for integration tests: a PostgreSQL primary, streaming
// replicas, PgBouncer in front of them, Redis, and versitygw (S3 on a posix
// folder). Everything lives below one folder; every process is started in the
// foreground, owned by its pid, and stopped by that pid.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// readyTimeout bounds each readiness wait.
const readyTimeout = 30 * time.Second

// Options configure Start.
type Options struct {
	// Dir is the root folder; it is created if missing. Data, sockets, logs,
	// pid files and configuration all live below it.
	Dir string
	// Replicas is the number of streaming replicas; 0 means 1.
	Replicas int
	// Keep reuses existing PostgreSQL data and bucket contents (and the S3
	// credentials) from a previous run, with fsync on. Without Keep, every
	// Start begins from fresh data with durability turned off for speed.
	Keep bool
	// Durable keeps PostgreSQL's durability on (fsync, synchronous_commit,
	// full_page_writes, as with Keep) on fresh data: for benchmarks, whose
	// commits must cost what they cost in production.
	Durable bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Ports optionally fixes the listening ports; nil (or a zero field)
	// picks free loopback ports.
	Ports *Ports
	// PGBinDir is the folder holding initdb, postgres and pg_basebackup.
	// Empty: `pg_config --bindir`, then the highest /usr/lib/postgresql/*/bin.
	PGBinDir string
	// BinDir, if set, is searched first for pgbouncer, redis-server and
	// versitygw.
	BinDir string
	// LogStatements makes every PostgreSQL server log each statement it
	// runs (log_statement = all), so tests can count, server side, where
	// queries went.
	LogStatements bool
	// Mail also starts mailpit, a local SMTP server with a web UI and an
	// HTTP API (see StartMail).
	Mail bool
	// WorkerPgBouncer starts a second PgBouncer, the workers' pool, beside
	// the API's, as the system draws them (deploy/helm: one pool for serve,
	// one for the workers, so a worker backlog cannot take the API's
	// connections). Without it the workers' URLs are the API's.
	WorkerPgBouncer bool
}

// Ports are the loopback TCP ports of the stack's services.
type Ports struct {
	Primary, PgBouncer, Redis, S3 int
	// WorkerPgBouncer is the workers' pool, with Options.WorkerPgBouncer.
	WorkerPgBouncer int
	// SMTP and MailUI are mailpit's, with Options.Mail.
	SMTP, MailUI int
	// Replicas holds one port per replica, in replica order.
	Replicas []int
}

// Stack is a running local topology. Its exported fields are filled in by
// Start and must not be changed.
type Stack struct {
	// Dir is the root folder of the stack.
	Dir string

	// PrimaryURL reaches the primary through PgBouncer (database "conveyor").
	// PgBouncer runs in transaction pooling mode: pgx clients must use
	// QueryExecModeExec or QueryExecModeCacheDescribe, never prepared
	// statements (the default cache_statement / describe_exec modes).
	PrimaryURL string
	// ReplicaURLs reach each replica through PgBouncer (databases
	// "conveyor_replica1", "conveyor_replica2", ..., all mapped to the
	// replica's "conveyor" database). ReplicaURLs[i] is replica i.
	ReplicaURLs []string
	// WorkerPrimaryURL and WorkerReplicaURLs are the same databases through
	// the workers' PgBouncer (Options.WorkerPgBouncer); without it they
	// equal PrimaryURL and ReplicaURLs.
	WorkerPrimaryURL  string
	WorkerReplicaURLs []string
	// DirectPrimaryURL reaches the primary server directly (migrations,
	// tests that need session state).
	DirectPrimaryURL string
	// DirectReplicaURLs reach each replica server directly.
	DirectReplicaURLs []string

	// RedisAddr is host:port of Redis.
	RedisAddr string

	// S3Endpoint is the base URL of the S3 gateway (path-style addressing).
	S3Endpoint string
	// S3Region is the region to sign requests for.
	S3Region string
	// S3AccessKey and S3SecretKey are the gateway's root credentials,
	// generated per stack (kept across runs with Options.Keep).
	S3AccessKey string
	S3SecretKey string
	// S3Bucket is the bucket created for the application.
	S3Bucket string

	// SMTPAddr is host:port of mailpit's SMTP server and MailURL the base URL
	// of its web UI and API (/api/v1/...); empty without Options.Mail.
	SMTPAddr string
	MailURL  string

	// Ports are the ports actually in use.
	Ports Ports

	opts  Options
	bins  binaries
	pgAs  *runAs // identity for PostgreSQL binaries and PgBouncer
	paths paths
	lock  *os.File

	logMu sync.Mutex

	mu        sync.Mutex
	stopped   bool
	primary   *proc
	replicas  []*proc
	pgbouncer *proc
	// workerBouncer is the workers' PgBouncer (Options.WorkerPgBouncer).
	workerBouncer *proc
	redis         *proc
	s3            *proc
	mail          *proc
	ingress       *proc // nginx, from StartIngress
}

// Start brings up the whole stack and waits until every component answers.
// On any failure it stops whatever it started and returns the error.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	began := time.Now()
	if opts.Dir == "" {
		return nil, errors.New("devstack: Options.Dir is required")
	}
	if opts.Replicas < 0 {
		return nil, fmt.Errorf("devstack: Options.Replicas must not be negative (got %d)", opts.Replicas)
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: resolve dir %q: %w", opts.Dir, err)
	}
	opts.Dir = dir

	s := &Stack{
		Dir:      dir,
		opts:     opts,
		S3Region: "us-east-1",
		S3Bucket: "conveyor",
	}
	if err := s.prepare(); err != nil {
		s.releaseLock()
		return nil, err
	}
	if err := s.bringUp(ctx); err != nil {
		if stopErr := s.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	bouncers := "pgbouncer"
	if opts.WorkerPgBouncer {
		bouncers = "2 pgbouncers (api, worker)"
	}
	s.logf("devstack ready in %s (primary + %d replica(s), %s, redis, s3) under %s", time.Since(began).Round(time.Millisecond), opts.Replicas, bouncers, dir)
	return s, nil
}

// bringUp starts the PostgreSQL chain, Redis and S3 concurrently.
func (s *Stack) bringUp(ctx context.Context) error {
	if err := s.loadOrMakeS3Creds(); err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, 4)
	)
	// One failure cancels the others so Start fails fast.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := func(i int, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	run(0, s.bringUpPostgres)
	run(1, s.StartRedis)
	run(2, s.StartS3)
	if s.opts.Mail {
		run(3, s.StartMail)
	}
	wg.Wait()
	// Report the root cause, not the cancellations it caused.
	var real []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			real = append(real, err)
		}
	}
	if len(real) == 0 {
		for _, err := range errs {
			if err != nil {
				real = append(real, err)
			}
		}
	}
	return errors.Join(real...)
}

// logf writes one progress line to Options.Log.
func (s *Stack) logf(format string, args ...any) {
	if s.opts.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = io.WriteString(s.opts.Log, "devstack: "+fmt.Sprintf(format, args...)+"\n")
}

// Stop stops every process the stack started (SIGTERM, or the fast-shutdown
// signal for PostgreSQL; SIGKILL after 10 s) and waits until they are gone.
// It is safe to call more than once.
func (s *Stack) Stop() error {
	s.mu.Lock()
	s.stopped = true
	procs := []*proc{s.ingress, s.pgbouncer, s.workerBouncer}
	procs = append(procs, s.replicas...)
	procs = append(procs, s.primary, s.redis, s.s3, s.mail)
	s.mu.Unlock()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	stopOne := func(p *proc) {
		if err := p.stop(); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	// The ingress and PgBouncer first so they do not log reconnect noise,
	// then the rest in parallel.
	for _, p := range procs[:3] {
		if p != nil {
			stopOne(p)
		}
	}
	for _, p := range procs[3:] {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stopOne(p)
		}()
	}
	wg.Wait()
	s.releaseLock()
	if len(errs) > 0 {
		return fmt.Errorf("devstack: stop: %w", errors.Join(errs...))
	}
	return nil
}

// PIDs returns the process ids of the stack's currently running processes,
// keyed by component ("postgres-primary", "postgres-replica1", "pgbouncer",
// "pgbouncer-worker", "redis", "versitygw", "mailpit", "nginx").
func (s *Stack) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	add := func(name string, p *proc) {
		if p != nil && !p.exited() {
			out[name] = p.pid
		}
	}
	add("postgres-primary", s.primary)
	for i, p := range s.replicas {
		add("postgres-replica"+strconv.Itoa(i+1), p)
	}
	add("pgbouncer", s.pgbouncer)
	add("pgbouncer-worker", s.workerBouncer)
	add("redis", s.redis)
	add("versitygw", s.s3)
	add("mailpit", s.mail)
	add("nginx", s.ingress)
	return out
}

// LogPath returns the log file of a component named as in PIDs.
func (s *Stack) LogPath(component string) string {
	return filepath.Join(s.paths.logs, component+".log")
}

func (s *Stack) errIfStopped() error {
	if s.stopped {
		return errors.New("devstack: stack is stopped")
	}
	return nil
}

// waitReady polls check every 100 ms until it succeeds, the process exits,
// ctx ends, or readyTimeout passes. Errors carry the tail of the log.
func waitReady(ctx context.Context, what string, p *proc, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		if p != nil && p.exited() {
			return withLog(fmt.Errorf("%s exited during start-up: %w", what, p.exitErr()), p.spec.logPath)
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 3*time.Second)
		last = check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("%s not ready: %w (last error: %v)", what, ctx.Err(), last)
			if p != nil {
				return withLog(err, p.spec.logPath)
			}
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
