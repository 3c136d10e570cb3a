package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bouncer is one PgBouncer pool of the stack: the API's, or the workers'.
type bouncer struct {
	name      string // component name: "pgbouncer", "pgbouncer-worker"
	port      int
	dir, sock string
	primary   string   // URL of the primary through this pool
	replicas  []string // URLs of the replicas through this pool
	slot      **proc
	proc      *proc // the running process, filled by runningBouncers
}

// bouncers lists the stack's PgBouncer pools: the API's, and the workers'
// with Options.WorkerPgBouncer.
func (s *Stack) bouncers() []bouncer {
	out := []bouncer{{name: "pgbouncer", port: s.Ports.PgBouncer, dir: s.paths.pgbouncerDir, sock: s.paths.pgbouncerSock,
		primary: s.PrimaryURL, replicas: s.ReplicaURLs, slot: &s.pgbouncer}}
	if s.opts.WorkerPgBouncer {
		out = append(out, bouncer{name: "pgbouncer-worker", port: s.Ports.WorkerPgBouncer, dir: s.paths.workerBouncerDir, sock: s.paths.workerBouncerSock,
			primary: s.WorkerPrimaryURL, replicas: s.WorkerReplicaURLs, slot: &s.workerBouncer})
	}
	return out
}

// runningBouncers returns the PgBouncer pools whose process runs, with it
// (for the waits after a server restarts). The caller holds s.mu.
func (s *Stack) runningBouncers() []bouncer {
	var out []bouncer
	for _, b := range s.bouncers() {
		if p := *b.slot; p != nil && !p.exited() {
			b.proc = p
			out = append(out, b)
		}
	}
	return out
}

// startPgBouncer starts every PgBouncer pool.
func (s *Stack) startPgBouncer(ctx context.Context) error {
	for _, b := range s.bouncers() {
		if err := s.startBouncer(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// startBouncer writes one pool's configuration, starts it and waits until
// every database answers through it.
func (s *Stack) startBouncer(ctx context.Context, bc bouncer) error {
	dir := bc.dir
	var b strings.Builder
	b.WriteString("[databases]\n")
	fmt.Fprintf(&b, "conveyor = host=127.0.0.1 port=%d dbname=conveyor\n", s.Ports.Primary)
	for i, port := range s.Ports.Replicas {
		fmt.Fprintf(&b, "%s = host=127.0.0.1 port=%d dbname=conveyor\n", replicaDBName(i), port)
	}
	b.WriteString("\n[pgbouncer]\n")
	lines := []string{
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(bc.port),
		"unix_socket_dir = " + bc.sock,
		"auth_type = trust",
		"auth_file = " + filepath.Join(dir, "userlist.txt"),
		"admin_users = postgres",
		"stats_users = postgres",
		"pool_mode = transaction",
		"max_client_conn = 1000",
		"default_pool_size = 20",
		"pidfile = " + filepath.Join(dir, "pgbouncer.pid"),
		"logfile = " + filepath.Join(dir, "pgbouncer.log"),
		"ignore_startup_parameters = extra_float_digits,search_path",
		// Retry a server login 1 s after a failure instead of 15 s, so a
		// restarted primary is usable through PgBouncer right away.
		"server_login_retry = 1",
		"server_connect_timeout = 2",
		// A client waits at most this long for a server connection: with a
		// server down, queries fail within seconds instead of hanging.
		"query_wait_timeout = 10",
	}
	b.WriteString(strings.Join(lines, "\n") + "\n")
	ini := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(ini, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("devstack: start %s: write ini: %w", bc.name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte("\"postgres\" \"\"\n"), 0o644); err != nil {
		return fmt.Errorf("devstack: start %s: write userlist: %w", bc.name, err)
	}
	if err := os.Remove(filepath.Join(dir, "pgbouncer.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("devstack: start %s: remove stale pid file: %w", bc.name, err)
	}

	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	p, err := startProc(procSpec{
		name:    bc.name,
		path:    s.bins.pgbouncer,
		args:    []string{ini},
		dir:     s.Dir,
		logPath: filepath.Join(s.paths.logs, bc.name+".log"),
		as:      s.pgAs,
		stopSig: syscall.SIGTERM, // immediate shutdown
	})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("devstack: start %s: %w", bc.name, err)
	}
	*bc.slot = p
	s.mu.Unlock()

	began := time.Now()
	if err := waitReady(ctx, bc.name, p, pgCheck(bc.primary, false, true)); err != nil {
		return fmt.Errorf("devstack: start %s: %w", bc.name, err)
	}
	for i, u := range bc.replicas {
		if err := waitReady(ctx, bc.name+" -> "+replicaDBName(i), p, pgCheck(u, true, true)); err != nil {
			return fmt.Errorf("devstack: start %s: %w", bc.name, err)
		}
	}
	s.logf("%s ready on 127.0.0.1:%d (%s)", bc.name, bc.port, time.Since(began).Round(time.Millisecond))
	return nil
}
