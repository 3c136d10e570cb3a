package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// baseBackup creates replica i's data folder from the running primary.
func (s *Stack) baseBackup(ctx context.Context, i int) error {
	began := time.Now()
	data := s.paths.replicaData[i]
	if err := os.RemoveAll(data); err != nil {
		return fmt.Errorf("devstack: replica %d: remove old data: %w", i, err)
	}
	err := runTool(ctx, procSpec{
		name: "pg_basebackup",
		path: filepath.Join(s.bins.pgBin, "pg_basebackup"),
		args: []string{
			"-h", "127.0.0.1", "-p", strconv.Itoa(s.Ports.Primary), "-U", "postgres",
			"-D", data, "-R", "-X", "stream", "-c", "fast",
		},
		dir:     s.Dir,
		logPath: filepath.Join(s.paths.logs, "basebackup-replica"+strconv.Itoa(i+1)+".log"),
		as:      s.pgAs,
	}, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("devstack: start replica %d: %w", i, err)
	}
	s.logf("base backup for replica %d done in %s", i, time.Since(began).Round(time.Millisecond))
	return nil
}

func (s *Stack) replicaIndex(i int) error {
	if i < 0 || i >= len(s.paths.replicaData) {
		return fmt.Errorf("devstack: no replica %d (stack has %d, numbered from 0)", i, len(s.paths.replicaData))
	}
	return nil
}

// StartReplica starts replica i (0-based; it is served by PgBouncer as
// "conveyor_replica<i+1>") if it is not running, and waits until it accepts
// connections and reports pg_is_in_recovery() = true.
func (s *Stack) StartReplica(ctx context.Context, i int) error {
	if err := s.replicaIndex(i); err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	for len(s.replicas) <= i {
		s.replicas = append(s.replicas, nil)
	}
	p := s.replicas[i]
	name := "replica" + strconv.Itoa(i+1)
	if p == nil || p.exited() {
		var err error
		p, err = startProc(s.postgresSpec(name, s.paths.replicaData[i], s.paths.replicaSock[i], s.Ports.Replicas[i]))
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("devstack: start replica %d: %w", i, err)
		}
		s.replicas[i] = p
	}
	bouncers := s.runningBouncers()
	s.mu.Unlock()

	began := time.Now()
	if err := waitReady(ctx, "postgres "+name, p, pgCheck(adminURL(s.Ports.Replicas[i]), true, false)); err != nil {
		return fmt.Errorf("devstack: start replica %d: %w", i, err)
	}
	for _, b := range bouncers {
		if err := waitReady(ctx, b.name+" -> "+name, b.proc, pgCheck(b.replicas[i], true, true)); err != nil {
			return fmt.Errorf("devstack: start replica %d: %w", i, err)
		}
	}
	s.logf("postgres %s ready on 127.0.0.1:%d (%s)", name, s.Ports.Replicas[i], time.Since(began).Round(time.Millisecond))
	return nil
}

// StopReplica stops replica i (0-based) and waits until it is gone.
func (s *Stack) StopReplica(i int) error {
	if err := s.replicaIndex(i); err != nil {
		return err
	}
	s.mu.Lock()
	var p *proc
	if i < len(s.replicas) {
		p = s.replicas[i]
	}
	s.mu.Unlock()
	if err := p.stop(); err != nil {
		return fmt.Errorf("devstack: stop replica %d: %w", i, err)
	}
	return nil
}

// WaitReplicasCaughtUp waits (up to 30 s) until every replica has replayed
// the primary's WAL as of the call: after migrations, say, so that reads
// from replicas see the schema.
func (s *Stack) WaitReplicasCaughtUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	prim, err := pgx.Connect(ctx, s.DirectPrimaryURL)
	if err != nil {
		return fmt.Errorf("devstack: wait for replicas: %w", err)
	}
	defer prim.Close(context.WithoutCancel(ctx))
	var target string
	if err := prim.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target); err != nil {
		return fmt.Errorf("devstack: wait for replicas: %w", err)
	}
	for i, url := range s.DirectReplicaURLs {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("devstack: wait for replica %d: %w", i, err)
		}
		for {
			var done bool
			err := conn.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target).Scan(&done)
			if err != nil || done {
				conn.Close(context.WithoutCancel(ctx))
				if err != nil {
					return fmt.Errorf("devstack: wait for replica %d: %w", i, err)
				}
				break
			}
			select {
			case <-ctx.Done():
				conn.Close(context.WithoutCancel(ctx))
				return fmt.Errorf("devstack: replica %d did not reach %s: %w", i, target, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}
