package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func (s *Stack) bringUpPostgres(ctx context.Context) error {
	if err := s.initPrimary(ctx); err != nil {
		return err
	}
	if err := s.StartPrimary(ctx); err != nil {
		return err
	}
	if err := s.createDatabase(ctx); err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, s.opts.Replicas)
	)
	for i := range s.opts.Replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.baseBackup(ctx, i); err != nil {
				errs[i] = err
				return
			}
			errs[i] = s.StartReplica(ctx, i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return s.startPgBouncer(ctx)
}

// initPrimary runs initdb and writes the primary's configuration, unless
// Keep found an existing data folder.
func (s *Stack) initPrimary(ctx context.Context) error {
	data := s.paths.primaryData
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		s.logf("reusing postgres data in %s", data)
		return nil
	}
	began := time.Now()
	args := []string{"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=" + initdbLocale(), "--no-instructions"}
	if !s.opts.Keep {
		args = append(args, "--no-sync")
	}
	err := runTool(ctx, procSpec{
		name:    "initdb",
		path:    filepath.Join(s.bins.pgBin, "initdb"),
		args:    args,
		dir:     s.Dir,
		logPath: filepath.Join(s.paths.logs, "initdb.log"),
		as:      s.pgAs,
	}, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("devstack: initdb: %w", err)
	}

	conf := []string{
		"",
		"# ---- added by devstack ----",
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(s.Ports.Primary) + " # overridden by -p on the command line",
		"unix_socket_directories = " + pgQuote(s.paths.primarySock) + " # overridden on the command line",
		"wal_level = replica",
		"max_wal_senders = 10",
		"max_replication_slots = 10",
		"hot_standby = on",
		"max_connections = 200",
		"wal_keep_size = '128MB'",
		"wal_retrieve_retry_interval = '1s'",
		"log_line_prefix = '%m [%p] %q%u@%d '",
	}
	if !s.opts.Keep && !s.opts.Durable {
		conf = append(conf,
			"fsync = off",
			"synchronous_commit = off",
			"full_page_writes = off",
		)
	}
	if err := appendFile(filepath.Join(data, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return fmt.Errorf("devstack: configure primary: %w", err)
	}
	hbaPath := filepath.Join(data, "pg_hba.conf")
	hba, err := os.ReadFile(hbaPath)
	if err != nil {
		return fmt.Errorf("devstack: read pg_hba.conf: %w", err)
	}
	const replLine = "host replication all 127.0.0.1/32 trust"
	if !strings.Contains(normalizeSpaces(string(hba)), replLine) {
		if err := appendFile(hbaPath, replLine+"\n"); err != nil {
			return fmt.Errorf("devstack: configure pg_hba.conf: %w", err)
		}
	}
	s.logf("initdb done in %s", time.Since(began).Round(time.Millisecond))
	return nil
}

func normalizeSpaces(text string) string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// pgQuote quotes a configuration value.
func pgQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// postgresSpec is the command line of one server. Port and socket folder are
// passed with -c so a kept data folder works whatever ports this run uses.
func (s *Stack) postgresSpec(name, data, sock string, port int) procSpec {
	args := []string{
		"-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + sock,
		"-c", "cluster_name=devstack-" + name,
	}
	if s.opts.LogStatements {
		args = append(args, "-c", "log_statement=all", "-c", "log_line_prefix=%m [%p] ")
	}
	return procSpec{
		name:    "postgres " + name,
		path:    filepath.Join(s.bins.pgBin, "postgres"),
		args:    args,
		dir:     s.Dir,
		logPath: filepath.Join(s.paths.logs, "postgres-"+name+".log"),
		as:      s.pgAs,
		// SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait
		// for every client to disconnect.
		stopSig: syscall.SIGINT,
	}
}

// pgCheck connects to url and verifies pg_is_in_recovery() == wantRecovery.
func pgCheck(url string, wantRecovery bool, viaBouncer bool) func(context.Context) error {
	return func(ctx context.Context) error {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return err
		}
		cfg.ConnectTimeout = 2 * time.Second
		if viaBouncer {
			cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var rec bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
			return err
		}
		if rec != wantRecovery {
			return fmt.Errorf("pg_is_in_recovery() = %v, want %v", rec, wantRecovery)
		}
		return nil
	}
}

func adminURL(port int) string { return pgURL(port, "postgres") }

// StartPrimary starts the primary (if it is not running) and waits until it
// accepts connections, directly and, once PgBouncer runs, through it.
func (s *Stack) StartPrimary(ctx context.Context) error {
	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	p := s.primary
	if p == nil || p.exited() {
		if err := clearStalePostmasterPid(ctx, s.paths.primaryData); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("devstack: start primary: %w", err)
		}
		var err error
		p, err = startProc(s.postgresSpec("primary", s.paths.primaryData, s.paths.primarySock, s.Ports.Primary))
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("devstack: start primary: %w", err)
		}
		s.primary = p
	}
	bouncers := s.runningBouncers()
	s.mu.Unlock()

	began := time.Now()
	if err := waitReady(ctx, "postgres primary", p, pgCheck(adminURL(s.Ports.Primary), false, false)); err != nil {
		return fmt.Errorf("devstack: start primary: %w", err)
	}
	for _, b := range bouncers {
		if err := waitReady(ctx, b.name+" -> primary", b.proc, pgCheck(b.primary, false, true)); err != nil {
			return fmt.Errorf("devstack: start primary: %w", err)
		}
	}
	s.logf("postgres primary ready on 127.0.0.1:%d (%s)", s.Ports.Primary, time.Since(began).Round(time.Millisecond))
	return nil
}

// StopPrimary stops the primary (fast shutdown) and waits until it is gone.
// Replicas keep running and reconnect when StartPrimary brings it back.
func (s *Stack) StopPrimary() error {
	s.mu.Lock()
	p := s.primary
	s.mu.Unlock()
	if err := p.stop(); err != nil {
		return fmt.Errorf("devstack: stop primary: %w", err)
	}
	return nil
}

// createDatabase creates database "conveyor" on the primary if missing.
func (s *Stack) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, adminURL(s.Ports.Primary))
	if err != nil {
		return fmt.Errorf("devstack: create database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'conveyor')").Scan(&exists); err != nil {
		return fmt.Errorf("devstack: create database: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE conveyor"); err != nil {
		return fmt.Errorf("devstack: create database: %w", err)
	}
	return nil
}

// clearStalePostmasterPid handles a postmaster.pid left by a previous run
// that was killed (Keep mode). PostgreSQL itself ignores a pid that no longer
// exists, but refuses while that pid is a not-yet-reaped zombie or has been
// reused by an unrelated process. The folder lock guarantees no other stack
// uses this data folder, so a postgres still holding the pid is one that is
// dying (Pdeathsig); wait for it, bounded.
func clearStalePostmasterPid(ctx context.Context, data string) error {
	pidFile := filepath.Join(data, "postmaster.pid")
	content, err := os.ReadFile(pidFile)
	if err != nil {
		return nil // no file (or unreadable: let postgres report it)
	}
	first, _, _ := strings.Cut(string(content), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return nil // gone: postgres treats the file as stale itself
		}
		// /proc/PID/stat: "pid (comm) state ..."; comm may contain spaces.
		text := string(stat)
		open, closing := strings.IndexByte(text, '('), strings.LastIndexByte(text, ')')
		if open < 0 || closing < open || closing+2 >= len(text) {
			return nil
		}
		comm, state := text[open+1:closing], text[closing+2]
		if state == 'Z' || (comm != "postgres" && comm != "postmaster") {
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove stale %s: %w", pidFile, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a postgres process (pid %d) from an earlier run still holds %s", pid, data)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// CountStatements returns how many statements containing substr the server
// logged: "primary" or "replica1", "replica2", ... Needs LogStatements.
func (s *Stack) CountStatements(server, substr string) (int, error) {
	b, err := os.ReadFile(filepath.Join(s.paths.logs, "postgres-"+server+".log"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "statement: ") || strings.Contains(line, "execute ") {
			if strings.Contains(line, substr) {
				n++
			}
		}
	}
	return n, nil
}
