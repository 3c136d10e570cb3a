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

// startPgBouncer writes PgBouncer's configuration, starts it and waits until
// every database answers through it.
func (s *Stack) startPgBouncer(ctx context.Context) error {
	dir := s.paths.pgbouncerDir
	var b strings.Builder
	b.WriteString("[databases]\n")
	fmt.Fprintf(&b, "conveyor = host=127.0.0.1 port=%d dbname=conveyor\n", s.Ports.Primary)
	for i, port := range s.Ports.Replicas {
		fmt.Fprintf(&b, "%s = host=127.0.0.1 port=%d dbname=conveyor\n", replicaDBName(i), port)
	}
	b.WriteString("\n[pgbouncer]\n")
	lines := []string{
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(s.Ports.PgBouncer),
		"unix_socket_dir = " + s.paths.pgbouncerSock,
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
		return fmt.Errorf("devstack: start pgbouncer: write ini: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte("\"postgres\" \"\"\n"), 0o644); err != nil {
		return fmt.Errorf("devstack: start pgbouncer: write userlist: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, "pgbouncer.pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("devstack: start pgbouncer: remove stale pid file: %w", err)
	}

	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	p, err := startProc(procSpec{
		name:    "pgbouncer",
		path:    s.bins.pgbouncer,
		args:    []string{ini},
		dir:     s.Dir,
		logPath: filepath.Join(s.paths.logs, "pgbouncer.log"),
		as:      s.pgAs,
		stopSig: syscall.SIGTERM, // immediate shutdown
	})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("devstack: start pgbouncer: %w", err)
	}
	s.pgbouncer = p
	s.mu.Unlock()

	began := time.Now()
	if err := waitReady(ctx, "pgbouncer", p, pgCheck(s.PrimaryURL, false, true)); err != nil {
		return fmt.Errorf("devstack: start pgbouncer: %w", err)
	}
	for i, u := range s.ReplicaURLs {
		if err := waitReady(ctx, "pgbouncer -> "+replicaDBName(i), p, pgCheck(u, true, true)); err != nil {
			return fmt.Errorf("devstack: start pgbouncer: %w", err)
		}
	}
	s.logf("pgbouncer ready on 127.0.0.1:%d (%s)", s.Ports.PgBouncer, time.Since(began).Round(time.Millisecond))
	return nil
}
