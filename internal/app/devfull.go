package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/topology"
)

// runDevFull is `conveyor dev --apis N --workers M --replicas R`: the full
// topology (internal/topology) on loopback, with nginx on
// CONVEYOR_HTTP_ADDR in front of the API processes, until Ctrl-C.
func runDevFull(ctx context.Context, cfg *config.Config, getenv func(string) string, apis, workers, replicas int, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("dev: find the conveyor binary: %w", err)
	}
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	// The caller's settings go to every child; the topology adds its own.
	var env []string
	for _, v := range config.Vars() {
		if val := getenv(v.Name); val != "" {
			env = append(env, v.Name+"="+val)
		}
	}
	env = append(env, "CONVEYOR_RUN_DIR="+runDir)
	start := time.Now()
	top, err := topology.Start(ctx, topology.Options{
		Dir: filepath.Join(runDir, "dev"), APIs: apis, Workers: workers, Replicas: replicas,
		HTTPAddr: cfg.HTTPAddr, Bin: self, Env: env, Mail: true, Keep: true,
		Log: stderr, ChildLog: stderr,
	})
	if err != nil {
		return err
	}
	var procs []devProc
	for _, c := range top.APIs {
		procs = append(procs, devProc{"api", c.PID(), c.URL()})
	}
	for _, c := range top.Workers {
		procs = append(procs, devProc{"worker", c.PID(), c.URL()})
	}
	writeFullDevBanner(stdout, time.Since(start), top.URL, procs, top.Stack.PrimaryURL, top.Stack.WorkerPrimaryURL,
		len(top.Stack.ReplicaURLs), top.Stack.RedisAddr, top.Stack.S3Endpoint, top.Stack.MailURL, filepath.Join(runDir, "dev"), top.AdminToken)
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping the full local topology")
	return top.Stop()
}

// devProc is one child process as the banner lists it.
type devProc struct {
	role string // "api" or "worker"
	pid  int
	url  string
}

// writeFullDevBanner prints where everything of the full topology is: the
// console first, then every API and worker process on its own line
// ("  api pid <pid> <url>", "  worker pid <pid> <url>").
func writeFullDevBanner(w io.Writer, took time.Duration, u string, procs []devProc, apiPool, workerPool string, replicas int, redis, s3, mail, dir, tok string) {
	fmt.Fprintf(w, `
Conveyor is running (full local topology up in %s).
  Console:  %s/
  API:      %s/api/v1 (nginx, the local ingress, in front of the API processes)
  Docs:     %s/docs/
  Spec:     %s/api/v1/openapi.yaml
`, took.Round(10*time.Millisecond), u, u, u, u)
	for _, p := range procs {
		fmt.Fprintf(w, "  %s pid %d %s\n", p.role, p.pid, p.url)
	}
	fmt.Fprintf(w, `  Postgres: primary + %d replica(s); PgBouncer for the APIs %s, for the workers %s
  Redis:    %s    S3: %s
  Mail:     %s (mailpit)
  Logs:     %s (topology/logs, logs, nginx)
Press Ctrl-C to stop; a process that dies is restarted. Another token: go run ./cmd/conveyor token --subject you [--admin]
Dev admin token (12h):
%s
`, replicas, apiPool, workerPool, redis, s3, mail, dir, tok)
}
