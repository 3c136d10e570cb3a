package devstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

type binaries struct {
	pgBin     string // folder with initdb, postgres, pg_basebackup
	pgbouncer string
	redis     string
	versitygw string
	mailpit   string // with Options.Mail
}

type paths struct {
	logs          string
	pgRoot        string
	primaryData   string
	replicaData   []string
	sockRoot      string
	primarySock   string // "" disables the Unix socket
	replicaSock   []string
	pgbouncerDir  string
	pgbouncerSock string
	// workerBouncerDir and workerBouncerSock are the workers' PgBouncer's.
	workerBouncerDir  string
	workerBouncerSock string
	redisDir          string
	s3Root            string
	s3Creds           string
	mailDir           string
}

// prepare resolves binaries and identities, lays out and cleans the folder
// tree, and picks ports. It starts no process.
func (s *Stack) prepare() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("devstack: create dir: %w", err)
	}
	lock, err := lockDir(s.Dir)
	if err != nil {
		return err
	}
	s.lock = lock

	bins, err := findBinaries(s.opts)
	if err != nil {
		return err
	}
	s.bins = bins

	as, err := postgresIdentity()
	if err != nil {
		return err
	}
	s.pgAs = as
	if err := ensureTraversable(s.Dir, as); err != nil {
		return err
	}

	if err := s.layout(); err != nil {
		return err
	}
	if err := s.pickPorts(); err != nil {
		return err
	}
	s.fillURLs()
	return nil
}

// layout computes paths, removes stale or (without Keep) old data, and
// creates the folders with the right owners.
func (s *Stack) layout() error {
	d := s.Dir
	n := s.opts.Replicas
	p := paths{
		logs:             filepath.Join(d, "logs"),
		pgRoot:           filepath.Join(d, "pg"),
		primaryData:      filepath.Join(d, "pg", "primary"),
		sockRoot:         filepath.Join(d, "run"),
		pgbouncerDir:     filepath.Join(d, "pgbouncer"),
		workerBouncerDir: filepath.Join(d, "pgbouncer-worker"),
		redisDir:         filepath.Join(d, "redis"),
		s3Root:           filepath.Join(d, "s3"),
		s3Creds:          filepath.Join(d, "s3-credentials.json"),
		mailDir:          filepath.Join(d, "mail"),
	}
	p.primarySock = socketDir(filepath.Join(p.sockRoot, "primary"))
	p.pgbouncerSock = socketDir(filepath.Join(p.sockRoot, "pgbouncer"))
	p.workerBouncerSock = socketDir(filepath.Join(p.sockRoot, "pgbouncer-worker"))
	for i := range n {
		name := "replica" + strconv.Itoa(i+1)
		p.replicaData = append(p.replicaData, filepath.Join(p.pgRoot, name))
		p.replicaSock = append(p.replicaSock, socketDir(filepath.Join(p.sockRoot, name)))
	}
	s.paths = p

	// Always fresh: logs, sockets, PgBouncer state, replicas (re-created from
	// a base backup each start so a changed primary port is never a problem).
	remove := []string{p.logs, p.sockRoot, p.pgbouncerDir, p.workerBouncerDir}
	if s.opts.Keep {
		entries, err := os.ReadDir(p.pgRoot)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("devstack: read %s: %w", p.pgRoot, err)
		}
		for _, e := range entries {
			if e.Name() != "primary" {
				remove = append(remove, filepath.Join(p.pgRoot, e.Name()))
			}
		}
		if _, err := os.Stat(filepath.Join(p.primaryData, "PG_VERSION")); err != nil {
			remove = append(remove, p.primaryData) // half-made data dir
		}
	} else {
		remove = append(remove, p.pgRoot, p.redisDir, p.s3Root, p.s3Creds, p.mailDir)
	}
	for _, r := range remove {
		if err := os.RemoveAll(r); err != nil {
			return fmt.Errorf("devstack: remove old %s: %w", r, err)
		}
	}

	for _, dir := range []string{p.logs, p.redisDir, filepath.Join(p.s3Root, s.S3Bucket), p.mailDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("devstack: create %s: %w", dir, err)
		}
	}
	// Folders the PostgreSQL user writes into.
	pgDirs := []string{p.pgRoot, p.sockRoot, p.pgbouncerDir}
	socks := []string{p.primarySock, p.pgbouncerSock}
	if s.opts.WorkerPgBouncer {
		pgDirs = append(pgDirs, p.workerBouncerDir)
		socks = append(socks, p.workerBouncerSock)
	}
	for _, sd := range append(socks, p.replicaSock...) {
		if sd != "" {
			pgDirs = append(pgDirs, sd)
		}
	}
	for _, dir := range pgDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("devstack: create %s: %w", dir, err)
		}
		if err := s.chownPG(dir); err != nil {
			return err
		}
	}
	return nil
}

// socketDir returns dir, or "" when a socket in it would exceed the Unix
// socket path limit (then the service listens on TCP only).
func socketDir(dir string) string {
	const maxSunPath = 107
	if len(dir)+len("/.s.PGSQL.65535.lock") > maxSunPath {
		return ""
	}
	return dir
}

func (s *Stack) chownPG(path string) error {
	if s.pgAs == nil || s.pgAs.cred == nil {
		return nil
	}
	if err := os.Chown(path, s.pgAs.uid, s.pgAs.gid); err != nil {
		return fmt.Errorf("devstack: chown %s: %w", path, err)
	}
	return nil
}

// lockDir takes an exclusive lock on Dir/.devstack.lock so two stacks never
// share a folder.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, ".devstack.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devstack: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("devstack: folder %s is in use by another running stack: %w", dir, err)
	}
	return f, nil
}

func (s *Stack) releaseLock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock != nil {
		_ = s.lock.Close() // closing releases the flock
		s.lock = nil
	}
}
