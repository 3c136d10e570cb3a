// Package apptest runs the real program against a real local topology for
// integration tests: devstack brings up PostgreSQL (primary and replicas
// behind PgBouncer), Redis and S3; migrations run through app.Run; the API
// and a worker run through app.Run exactly as `conveyor serve` and
// `conveyor worker` do, on a free loopback port.
package apptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/app"
	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
)

// Options configures Start.
type Options struct {
	Replicas int               // streaming replicas; 0 means 1
	Env      map[string]string // extra CONVEYOR_* settings
	NoWorker bool              // run only the API
	// LogStatements makes PostgreSQL log every statement (see
	// devstack.Stack.CountStatements).
	LogStatements bool
	// Mail starts mailpit too and points CONVEYOR_SMTP_* at it, so what
	// Conveyor emails can be read back (devstack.Stack.ReceivedMails).
	Mail bool
}

// Env is a running Conveyor: its URL, its topology and a way to mint tokens.
type Env struct {
	URL       string // http://127.0.0.1:PORT
	WorkerURL string // the worker's /healthz, /readyz, /metrics and /debug/pprof/
	Stack     *devstack.Stack
	RunDir    string
	vars      map[string]string
	logs      *syncBuffer
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex // guards extra
	extra     int        // extra API processes running
	errs      chan error

	InternalURL string // the API's internal listener: /metrics, /debug/pprof/
}

// Start brings everything up and registers its teardown with tb.Cleanup.
// Under -short it skips the test instead (devstacktest.SkipIfShort).
func Start(tb testing.TB, o Options) *Env {
	tb.Helper()
	devstacktest.SkipIfShort(tb)
	e, err := New(context.Background(), tb.Name(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Error(err)
		}
		if tb.Failed() {
			tb.Logf("conveyor logs:\n%s", e.Logs())
		}
	})
	return e
}

// New brings up a topology and the program under a fresh folder named after
// name; the caller must Close it.
func New(ctx context.Context, name string, o Options) (*Env, error) {
	dir, err := devstack.TestDir(name)
	if err != nil {
		return nil, err
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	stack, err := devstack.Start(sctx, devstack.Options{Dir: dir, Replicas: max(o.Replicas, 1), LogStatements: o.LogStatements, Mail: o.Mail})
	if err != nil {
		return nil, err
	}
	e, err := startProgram(stack, o)
	if err != nil {
		_ = stack.Stop()
		return nil, err
	}
	return e, nil
}

func startProgram(stack *devstack.Stack, o Options) (*Env, error) {
	runDir := filepath.Join(stack.Dir, "conveyor")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	wport, err := freePort()
	if err != nil {
		return nil, err
	}
	iport, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &Env{URL: "http://127.0.0.1:" + strconv.Itoa(port), WorkerURL: "http://127.0.0.1:" + strconv.Itoa(wport),
		InternalURL: "http://127.0.0.1:" + strconv.Itoa(iport), Stack: stack, RunDir: runDir, logs: &syncBuffer{}}
	e.vars = map[string]string{
		"CONVEYOR_HTTP_ADDR":             "127.0.0.1:" + strconv.Itoa(port),
		"CONVEYOR_WORKER_ADDR":           "127.0.0.1:" + strconv.Itoa(wport),
		"CONVEYOR_INTERNAL_ADDR":         "127.0.0.1:" + strconv.Itoa(iport),
		"CONVEYOR_DEV":                   "true",
		"CONVEYOR_RUN_DIR":               runDir,
		"CONVEYOR_DATABASE_URL":          stack.PrimaryURL,
		"CONVEYOR_DATABASE_REPLICA_URLS": strings.Join(stack.ReplicaURLs, ","),
		"CONVEYOR_DATABASE_MIGRATE_URL":  stack.DirectPrimaryURL,
		"CONVEYOR_REDIS_ADDR":            stack.RedisAddr,
		"CONVEYOR_S3_ENDPOINT":           stack.S3Endpoint,
		"CONVEYOR_S3_REGION":             stack.S3Region,
		"CONVEYOR_S3_BUCKET":             stack.S3Bucket,
		"CONVEYOR_S3_ACCESS_KEY_ID":      stack.S3AccessKey,
		"CONVEYOR_S3_SECRET_ACCESS_KEY":  stack.S3SecretKey,
		"CONVEYOR_LOG_LEVEL":             "warn",
		// Every API process of the environment trusts the first one's dev issuer.
		"CONVEYOR_OIDC_ISSUER":      "http://127.0.0.1:" + strconv.Itoa(port) + auth.DevIssuerPath,
		"CONVEYOR_SHUTDOWN_TIMEOUT": "5s",
		// Load tests send thousands of requests as one principal; tests of
		// the limits themselves start an API with tight ones (StartAPI).
		"CONVEYOR_RATE_LIMIT_READ":   "100000/s",
		"CONVEYOR_RATE_LIMIT_WRITE":  "100000/s",
		"CONVEYOR_RATE_LIMIT_UPLOAD": "100000/s",
		"CONVEYOR_JANITOR_INTERVAL":  "200ms",
		// The usage reconciler's tests wait for it to correct drift.
		"CONVEYOR_USAGE_RECONCILE_INTERVAL": "1s",
		"CONVEYOR_ORPHAN_GRACE":             "3s",
		"CONVEYOR_REDISPATCH_AFTER":         "2s",

		// Tests send bad credentials on purpose from one address; the
		// tests of the failure budget start an API with one (StartAPI).
		"CONVEYOR_RATE_LIMIT_AUTH_FAILURES": "off",
	}
	if stack.SMTPAddr != "" {
		host, port, _ := net.SplitHostPort(stack.SMTPAddr)
		e.vars["CONVEYOR_SMTP_HOST"], e.vars["CONVEYOR_SMTP_PORT"], e.vars["CONVEYOR_SMTP_TLS"] = host, port, "none"
	}
	for k, v := range o.Env {
		e.vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if err := app.Run(ctx, []string{"conveyor", "migrate", "up"}, e.Getenv, io.Discard, e.logs); err != nil {
		cancel()
		return nil, fmt.Errorf("migrate: %w\n%s", err, e.logs)
	}
	if err := e.Stack.WaitReplicasCaughtUp(ctx); err != nil {
		cancel()
		return nil, err
	}
	cmds := [][]string{{"conveyor", "serve"}}
	if !o.NoWorker {
		cmds = append(cmds, []string{"conveyor", "worker"})
	}
	e.errs = make(chan error, len(cmds)+64) // room for every extra API process a package starts over its tests
	for _, args := range cmds {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := app.Run(ctx, args, e.Getenv, io.Discard, e.logs); err != nil {
				e.errs <- fmt.Errorf("%s: %w", args[1], err)
			}
		}()
	}
	e.ctx = ctx
	if err := waitHealthy(e.URL, 30*time.Second); err != nil {
		_ = e.stopProgram()
		return nil, fmt.Errorf("%w\n%s", err, e.logs)
	}
	return e, nil
}

// Close stops serve and worker (as SIGTERM would), checks that they returned
// cleanly and in time, then stops the topology.
func (e *Env) Close() error {
	err := e.stopProgram()
	if serr := e.Stack.Stop(); serr != nil {
		err = errors.Join(err, serr)
	}
	if err == nil {
		_ = os.RemoveAll(e.Stack.Dir)
	}
	return err
}

func (e *Env) stopProgram() error {
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return errors.New("apptest: serve/worker did not stop within 30s of cancellation")
	}
	close(e.errs)
	var errs []error
	for err := range e.errs {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Vars returns a copy of the program's configuration (CONVEYOR_*).
func (e *Env) Vars() map[string]string {
	out := make(map[string]string, len(e.vars))
	for k, v := range e.vars {
		out[k] = v
	}
	return out
}

// Getenv is the environment the program runs with.
func (e *Env) Getenv(k string) string { return e.vars[k] }

// Logs returns what serve and worker have logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// Token mints a dev access token for subject; admin makes it a platform admin.
func (e *Env) Token(tb testing.TB, subject string, admin bool) string {
	tb.Helper()
	iss, err := auth.LoadDevIssuer(auth.DevKeyFile(e.RunDir), e.URL+auth.DevIssuerPath, "api://conveyor")
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := iss.Mint(auth.TokenRequest{Subject: subject, Email: subject + "@example.test", Name: subject, Admin: admin}, "Conveyor.Admin")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// StartAPI starts one more API process (as another replica of `conveyor
// serve` would run) with the environment's settings plus overrides, and
// returns its URL. It stops (as on SIGTERM) when the test that started it
// ends, or with the environment. At most 8 run at once per Env.
func (e *Env) StartAPI(tb testing.TB, overrides map[string]string) string {
	tb.Helper()
	return e.StartAPIWithContext(tb, e.ctx, overrides)
}

// StartAPIWithContext is StartAPI for a process that stops (as on SIGTERM)
// when ctx is done, or at the latest when the test ends.
func (e *Env) StartAPIWithContext(tb testing.TB, ctx context.Context, overrides map[string]string) string {
	tb.Helper()
	e.mu.Lock()
	if e.extra >= 8 {
		e.mu.Unlock()
		tb.Fatal("apptest: at most 8 extra API processes at once")
	}
	e.extra++
	e.mu.Unlock()
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	tb.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			tb.Error("apptest: an extra API process did not stop within 30s of its test's end")
		}
		e.mu.Lock()
		e.extra--
		e.mu.Unlock()
	})
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	vars := map[string]string{}
	for k, v := range e.vars {
		vars[k] = v
	}
	vars["CONVEYOR_HTTP_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
	vars["CONVEYOR_INTERNAL_ADDR"] = "127.0.0.1:0" // any free port: nobody scrapes the extras
	for k, v := range overrides {
		vars[k] = v
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(done)
		if err := app.Run(ctx, []string{"conveyor", "serve"}, func(k string) string { return vars[k] }, io.Discard, e.logs); err != nil {
			e.errs <- fmt.Errorf("serve (extra): %w", err)
		}
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitHealthy(url, 30*time.Second); err != nil {
		tb.Fatal(err)
	}
	return url
}

func waitHealthy(url string, limit time.Duration) error {
	e := struct{ URL string }{url}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("apptest: %s/healthz not OK within %s", e.URL, limit)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
