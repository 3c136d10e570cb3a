// Package topology runs the system's whole topology on one machine, on
// loopback, as `conveyor dev --apis 2 --workers 2 --replicas 2` (make
// run-full) and the tests of it do: the devstack (a PostgreSQL primary and
// its replicas behind two PgBouncers, one for the API processes and one for
// the workers, Redis, S3, optionally mailpit), N API processes (`conveyor
// serve`) and M workers (`conveyor worker`) as real child processes of the
// conveyor binary, each on its own free loopback port, and nginx as the
// local ingress in front of the API processes, with the routes of the
// chart's Kubernetes Ingress.
//
// The contract, for code that loads the topology and injects faults in it:
//
//   - Start(ctx, Options) brings everything up: the stack, then the
//     migrations (once, `conveyor migrate up`), a dev admin token (which
//     also creates the dev issuer's key every API process shares), the API
//     processes and workers (each ready when its /healthz answers 200), and
//     nginx; it returns once a request through the ingress is served.
//     Topology.Stop stops all of it, by pid.
//   - Topology.URL is the ingress (what clients use); Topology.APIs and
//     Topology.Workers are the children, in a fixed order.
//   - A Child is supervised like a pod of a Deployment: when its process
//     dies, it is restarted with backoff (100 ms doubling to 5 s), on the
//     same port. Child.Kill sends SIGKILL and returns once the process is
//     reaped; Child.WaitReady then waits for the restarted process;
//     Child.PID and Child.Restarts say which process runs and how many
//     times it was restarted. Child.URL is its own listener (the worker's
//     health and metrics for a worker).
//   - Faults on the stateful parts are the stack's own methods:
//     Topology.Stack.StopPrimary/StartPrimary, StopReplica/StartReplica,
//     StopRedis/StartRedis, StopS3/StartS3 (and StopIngress/StartIngress
//     for the edge, though Topology does not restart it by itself).
//   - Topology.Token mints more dev tokens (`conveyor token`).
package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/conveyorhq/conveyor/internal/devstack"
)

// readyTimeout bounds how long Start waits for every child and the ingress.
const readyTimeout = 2 * time.Minute

// Options configure Start.
type Options struct {
	// Dir is the devstack's folder (kept between runs with Keep); the
	// children's logs go to Dir/topology/logs.
	Dir string
	// APIs, Workers and Replicas are how many API processes, workers and
	// PostgreSQL replicas to run; 0 means 1 each.
	APIs, Workers, Replicas int
	// HTTPAddr is the ingress's address (host:port); empty picks a free
	// loopback port.
	HTTPAddr string
	// Bin is the conveyor binary; BinArgs come before the command (serve,
	// worker, migrate, token), for a test binary that runs Conveyor as its
	// own child.
	Bin     string
	BinArgs []string
	// Env is the environment every child starts with (CONVEYOR_* settings
	// the caller wants kept); the topology's own settings (addresses, the
	// stack's URLs, dev mode) are added after it and win. CONVEYOR_RUN_DIR
	// and CONVEYOR_PUBLIC_URL are kept if set (the run folder holds the dev
	// issuer's key): without them, Dir and the ingress's URL.
	Env []string
	// Mail also starts mailpit; Keep keeps the stack's data (see
	// devstack.Options).
	Mail, Keep bool
	// Log receives progress lines (the stack's, restarts); nil discards.
	Log io.Writer
	// ChildLog, if set, also receives every child's output, each line
	// prefixed with its name ("api1 | ...").
	ChildLog io.Writer
}

// Topology is a running full topology. Its fields are set by Start and must
// not be changed.
type Topology struct {
	// Stack is the devstack, with two PgBouncers and the ingress.
	Stack *devstack.Stack
	// URL is the ingress, e.g. http://127.0.0.1:8080.
	URL string
	// APIs are the API processes behind the ingress, Workers the workers.
	APIs, Workers []*Child
	// AdminToken is a dev platform-admin token, valid 12 hours.
	AdminToken string
	// RunDir is the children's CONVEYOR_RUN_DIR.
	RunDir string

	opts     Options
	env      []string // the common environment of every child
	logMu    sync.Mutex
	stopOnce sync.Once
	stopErr  error
}

// Start brings the topology up; see the package documentation. On failure
// it stops whatever it started.
func Start(ctx context.Context, opts Options) (_ *Topology, err error) {
	if opts.Dir == "" || opts.Bin == "" {
		return nil, errors.New("topology: Options.Dir and Options.Bin are required")
	}
	if opts.APIs < 0 || opts.Workers < 0 || opts.Replicas < 0 {
		return nil, errors.New("topology: counts must not be negative")
	}
	opts.APIs, opts.Workers, opts.Replicas = max(opts.APIs, 1), max(opts.Workers, 1), max(opts.Replicas, 1)
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	opts.Dir = dir
	t := &Topology{opts: opts}
	stack, err := devstack.Start(ctx, devstack.Options{Dir: dir, Replicas: opts.Replicas, Keep: opts.Keep,
		Mail: opts.Mail, Log: opts.Log, WorkerPgBouncer: true})
	if err != nil {
		return nil, err
	}
	t.Stack = stack
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Stop())
		}
	}()
	logs := filepath.Join(dir, "topology", "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	// Every port at once (the stack's are taken by now), so they differ.
	addrs, err := freeAddrs(1 + 2*opts.APIs + opts.Workers)
	if err != nil {
		return nil, err
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = addrs[0]
		t.opts.HTTPAddr = addrs[0]
	}
	addrs = addrs[1:]
	t.URL = "http://" + opts.HTTPAddr
	if err := t.buildEnv(); err != nil {
		return nil, err
	}

	// Migrations once, then a token: it creates the dev issuer's key
	// before any API process could race to.
	if _, err := t.runTool(ctx, filepath.Join(logs, "migrate.log"), t.apiEnv(), "migrate", "up"); err != nil {
		return nil, err
	}
	if err := stack.WaitReplicasCaughtUp(ctx); err != nil {
		return nil, err
	}
	if t.AdminToken, err = t.Token(ctx, "dev-admin", "admin@conveyor.local", "Dev Admin", true, 12*time.Hour); err != nil {
		return nil, err
	}

	var upstreams []string
	for i := range opts.APIs {
		addr, internal := addrs[0], addrs[1]
		addrs = addrs[2:]
		env := append(t.apiEnv(), "CONVEYOR_HTTP_ADDR="+addr, "CONVEYOR_INTERNAL_ADDR="+internal)
		name := "api" + strconv.Itoa(i+1)
		t.APIs = append(t.APIs, newChild(name, "http://"+addr, opts.Bin, t.args("serve"), env, filepath.Join(logs, name+".log"), opts.ChildLog))
		upstreams = append(upstreams, addr)
	}
	for i := range opts.Workers {
		addr := addrs[0]
		addrs = addrs[1:]
		env := append(t.workerEnv(), "CONVEYOR_WORKER_ADDR="+addr)
		name := "worker" + strconv.Itoa(i+1)
		t.Workers = append(t.Workers, newChild(name, "http://"+addr, opts.Bin, t.args("worker"), env, filepath.Join(logs, name+".log"), opts.ChildLog))
	}
	for _, c := range t.children() {
		go c.supervise(t.logf)
	}
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, c := range t.children() {
		if err := c.WaitReady(rctx); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, tail(c.LogPath()))
		}
	}
	if err := stack.StartIngress(rctx, opts.HTTPAddr, upstreams); err != nil {
		return nil, err
	}
	if err := waitServed(rctx, t.URL+"/api/v1/openapi.yaml"); err != nil {
		return nil, fmt.Errorf("topology: ingress: %w", err)
	}
	return t, nil
}

// Stop stops the ingress, the children (SIGTERM, SIGKILL after 30 s) and
// the stack, each by pid, and waits until they are gone. It is safe to call
// more than once.
func (t *Topology) Stop() error {
	t.stopOnce.Do(func() {
		var errs []error
		if t.Stack != nil {
			errs = append(errs, t.Stack.StopIngress())
		}
		var wg sync.WaitGroup
		cerrs := make([]error, len(t.children()))
		for i, c := range t.children() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cerrs[i] = c.stop()
			}()
		}
		wg.Wait()
		errs = append(errs, cerrs...)
		if t.Stack != nil {
			errs = append(errs, t.Stack.Stop())
		}
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}

// Token mints a dev access token for subject with `conveyor token`, valid
// ttl; the API processes accept it.
func (t *Topology) Token(ctx context.Context, subject, email, name string, admin bool, ttl time.Duration) (string, error) {
	args := []string{"token", "--subject", subject, "--ttl", ttl.String()}
	if email != "" {
		args = append(args, "--email", email)
	}
	if name != "" {
		args = append(args, "--name", name)
	}
	if admin {
		args = append(args, "--admin")
	}
	out, err := t.runTool(ctx, "", t.apiEnv(), args...)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

func (t *Topology) children() []*Child {
	return append(append([]*Child(nil), t.APIs...), t.Workers...)
}

func (t *Topology) args(cmd ...string) []string {
	return append(append([]string(nil), t.opts.BinArgs...), cmd...)
}

// buildEnv sets the environment every child shares.
func (t *Topology) buildEnv() error {
	s := t.Stack
	keep := map[string]string{}
	for _, kv := range t.opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			keep[k] = v
		}
	}
	runDir := keep["CONVEYOR_RUN_DIR"]
	if runDir == "" {
		runDir = t.opts.Dir
	}
	runDir, err := filepath.Abs(runDir)
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	t.RunDir = runDir
	publicURL := keep["CONVEYOR_PUBLIC_URL"]
	if publicURL == "" {
		publicURL = t.URL
	}
	env := append([]string(nil), t.opts.Env...)
	env = append(env,
		"CONVEYOR_DEV=true",
		"CONVEYOR_RUN_DIR="+runDir,
		"CONVEYOR_PUBLIC_URL="+publicURL,
		"CONVEYOR_DATABASE_MIGRATE_URL="+s.DirectPrimaryURL,
		"CONVEYOR_REDIS_ADDR="+s.RedisAddr,
		"CONVEYOR_REDIS_PASSWORD=",
		"CONVEYOR_REDIS_DB=0",
		"CONVEYOR_S3_ENDPOINT="+s.S3Endpoint,
		"CONVEYOR_S3_REGION="+s.S3Region,
		"CONVEYOR_S3_BUCKET="+s.S3Bucket,
		"CONVEYOR_S3_ACCESS_KEY_ID="+s.S3AccessKey,
		"CONVEYOR_S3_SECRET_ACCESS_KEY="+s.S3SecretKey,
		"CONVEYOR_S3_PATH_STYLE=true",
	)
	if s.SMTPAddr != "" {
		host, port, _ := strings.Cut(s.SMTPAddr, ":")
		env = append(env, "CONVEYOR_SMTP_HOST="+host, "CONVEYOR_SMTP_PORT="+port, "CONVEYOR_SMTP_TLS=none",
			"CONVEYOR_SMTP_USERNAME=", "CONVEYOR_SMTP_PASSWORD=")
	}
	t.env = env
	return nil
}

// apiEnv is the API processes' environment: the API's PgBouncer, and the
// ingress as the trusted proxy that names the client.
func (t *Topology) apiEnv() []string {
	s := t.Stack
	env := append(append([]string(nil), t.env...),
		"CONVEYOR_DATABASE_URL="+s.PrimaryURL,
		"CONVEYOR_DATABASE_REPLICA_URLS="+strings.Join(s.ReplicaURLs, ","))
	if !hasVar(t.opts.Env, "CONVEYOR_TRUSTED_PROXIES") {
		env = append(env, "CONVEYOR_TRUSTED_PROXIES=127.0.0.1")
	}
	return env
}

// workerEnv is the workers' environment: the workers' PgBouncer.
func (t *Topology) workerEnv() []string {
	s := t.Stack
	return append(append([]string(nil), t.env...),
		"CONVEYOR_DATABASE_URL="+s.WorkerPrimaryURL,
		"CONVEYOR_DATABASE_REPLICA_URLS="+strings.Join(s.WorkerReplicaURLs, ","))
}

func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// runTool runs a short conveyor command to completion and returns its
// standard output; its standard error goes to logPath (or into the error).
func (t *Topology) runTool(ctx context.Context, logPath string, env []string, cmdArgs ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.opts.Bin, t.args(cmdArgs...)...)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if logPath != "" {
		_ = os.WriteFile(logPath, []byte(stderr.String()), 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("topology: conveyor %s: %w\n%s", cmdArgs[0], err, lastLines(stderr.String(), 20))
	}
	return stdout.String(), nil
}

func (t *Topology) logf(format string, args ...any) {
	if t.opts.Log == nil {
		return
	}
	t.logMu.Lock()
	defer t.logMu.Unlock()
	fmt.Fprintf(t.opts.Log, "topology: "+format+"\n", args...)
}

// waitServed polls url until it answers 200.
func waitServed(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeAddrs returns n distinct free loopback addresses (127.0.0.1:port),
// for listeners started later.
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("topology: pick free port: %w", err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return "--- last lines of " + path + " ---\n" + lastLines(string(b), 25)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
