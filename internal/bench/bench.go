// Package bench is `make bench`: it starts the real stack (devstack, with
// Conveyor's API and worker as child processes), runs each measure under a
// bounded loopback load next to a baseline started by the benchmark
// itself (package baseline), and prints one table: measure, Conveyor,
// baseline (same run), ratio, goal, pass/fail. See README.md, "Benchmarks".
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/conveyorhq/conveyor/internal/devstack"
)

// Row groups that Options.Only can name.
const (
	GroupRead   = "read"   // row 1
	GroupJobs   = "jobs"   // row 2
	GroupUpload = "upload" // row 3
	GroupSSE    = "sse"    // row 4
	GroupScale  = "scale"  // the scaling curve
)

// Groups lists every row group in the order they run.
var Groups = []string{GroupRead, GroupJobs, GroupUpload, GroupSSE, GroupScale}

// Options sizes the benchmark. Defaults() is `make bench`; Smoke() the few
// seconds' run `make test` does.
type Options struct {
	Duration    time.Duration // each load phase
	Warmup      time.Duration // before each read load phase
	Conns       int           // connections for row 1
	JobConns    []int         // connections for POST /jobs (row 2)
	E2EJobs     int           // jobs submitted for end-to-end jobs/s (row 2)
	UploadBytes int64         // row 3
	Subscribers int           // row 4
	SSEJobs     int           // jobs whose events row 4 times
	ScaleRows   []int         // rows in one team for the scaling curve, ascending
	Only        []string      // groups to run; empty: all
	Keep        bool          // keep the stack's folder after the run
	Log         io.Writer     // progress lines; nil: discarded
}

// Defaults is the full run.
func Defaults() Options {
	return Options{Duration: 10 * time.Second, Warmup: time.Second, Conns: 16, JobConns: []int{8, 32}, E2EJobs: 2000,
		UploadBytes: 1 << 30, Subscribers: 1000, SSEJobs: 20, ScaleRows: []int{10_000, 100_000, 1_000_000}}
}

// Smoke is a run of a few seconds at tiny sizes: it shows that every row
// still produces a figure, not how fast anything is.
func Smoke() Options {
	return Options{Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Conns: 2, JobConns: []int{2}, E2EJobs: 10,
		UploadBytes: 8 << 20, Subscribers: 10, SSEJobs: 2, ScaleRows: []int{200, 400}}
}

func (o Options) runs(group string) bool { return len(o.Only) == 0 || slices.Contains(o.Only, group) }

type runner struct {
	o   Options
	p   *platform
	log io.Writer
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "bench: "+format+"\n", args...)
}

// Run brings everything up, runs the measures in o, stops everything and
// returns the table; a group that failed leaves an error (joined into the
// returned one) and no figure in its rows.
func Run(ctx context.Context, o Options) (*Table, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	root, err := devstack.ModuleRoot()
	if err != nil {
		root = os.TempDir()
	}
	base := filepath.Join(root, ".run", "bench")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "b-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // PostgreSQL runs as another user under root
		return nil, err
	}
	r := &runner{o: o, log: log}
	began := time.Now()
	r.logf("starting the stack and Conveyor under %s", dir)
	if r.p, err = startPlatform(ctx, dir, log); err != nil {
		return nil, err
	}
	r.logf("up in %s", time.Since(began).Round(time.Millisecond))
	t := &Table{}
	var errs []error
	for _, g := range []struct {
		name string
		run  func(context.Context) ([]Row, error)
	}{
		{GroupRead, r.readRows},
		{GroupJobs, r.jobRows},
		{GroupUpload, r.uploadRows},
		{GroupSSE, r.sseRows},
		{GroupScale, r.scaleRows},
	} {
		if !o.runs(g.name) {
			continue
		}
		r.logf("measuring %s", g.name)
		t0 := time.Now()
		rows, err := g.run(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", g.name, err))
			r.logf("%s failed: %v", g.name, err)
			rows = append(rows, Row{Measure: g.name + ": failed", Baseline: -1, Failed: true, Note: err.Error()})
		}
		for i := range rows {
			rows[i].Group = g.name
		}
		t.Add(rows...)
		r.logf("%s done in %s", g.name, time.Since(t0).Round(time.Millisecond))
		if ctx.Err() != nil {
			break
		}
	}
	if err := r.p.close(); err != nil {
		errs = append(errs, fmt.Errorf("stop: %w", err))
	}
	if len(errs) == 0 && !o.Keep {
		_ = os.RemoveAll(dir)
	} else {
		r.logf("kept %s (logs: conveyor-serve.log, conveyor-worker.log, stack/logs)", dir)
	}
	return t, errors.Join(errs...)
}

// seedFiles inserts file rows from..to-1 into team directly on the primary
// (one generate_series statement; no objects behind them: lists read only
// rows), then waits until the replica has them.
func (r *runner) seedFiles(ctx context.Context, team string, from, to int) error {
	_, err := r.p.db.Exec(ctx, `INSERT INTO files (id, team_id, name, size, sha256, content_type, object_key)
SELECT gen_random_uuid(), $1::uuid, 'seed-' || g || '.bin', 4096, repeat('0', 64), 'application/octet-stream', 'seed/' || $1 || '/' || g
FROM generate_series($2::int, $3::int - 1) g`, team, from, to)
	if err != nil {
		return fmt.Errorf("seed files: %w", err)
	}
	return r.waitReplica(ctx)
}

// seedJobs inserts succeeded inspect jobs from..to-1 into team directly on
// the primary, then waits until the replica has them.
func (r *runner) seedJobs(ctx context.Context, team string, from, to int) error {
	_, err := r.p.db.Exec(ctx, `INSERT INTO jobs (id, team_id, processor, status, progress, attempts, result, started_at, finished_at)
SELECT gen_random_uuid(), $1::uuid, 'inspect', 'succeeded', 100, 1, '{}'::jsonb, now(), now()
FROM generate_series($2::int, $3::int - 1) g`, team, from, to)
	if err != nil {
		return fmt.Errorf("seed jobs: %w", err)
	}
	return r.waitReplica(ctx)
}

// waitReplica waits (up to 5 min) until the replica has replayed what the
// primary has written so far, and analyses the tables on the primary so
// plans are made on their current sizes (the statistics replicate).
func (r *runner) waitReplica(ctx context.Context) error {
	if _, err := r.p.db.Exec(ctx, `ANALYZE files, jobs`); err != nil {
		return err
	}
	var lsn string
	if err := r.p.db.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var caught bool
		err := r.p.replica.QueryRow(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&caught)
		if err == nil && caught {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("replica not caught up with %s after 5 min (last error: %v)", lsn, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// drain reads and closes a response body.
func drain(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// Validate reports a size that cannot run, naming it.
func (o Options) Validate() error {
	switch {
	case o.Duration <= 0:
		return errors.New("bench: the duration must be positive")
	case o.Conns < 1 || o.Conns > 1024:
		return errors.New("bench: conns must be between 1 and 1024")
	case len(o.JobConns) == 0:
		return errors.New("bench: job-conns needs at least one count")
	case o.E2EJobs < 1 || o.E2EJobs > 1_000_000:
		return errors.New("bench: e2e-jobs must be between 1 and 1,000,000")
	case o.UploadBytes < 1<<20:
		return errors.New("bench: the upload must be at least 1 MiB")
	case o.Subscribers < 1 || o.Subscribers > 10_000:
		return errors.New("bench: subscribers must be between 1 and 10,000")
	case o.SSEJobs < 1:
		return errors.New("bench: sse-jobs must be at least 1")
	case len(o.ScaleRows) == 0 || !slices.IsSorted(o.ScaleRows) || o.ScaleRows[0] < 1:
		return errors.New("bench: scale-rows must be positive and ascending")
	}
	for _, n := range o.JobConns {
		if n < 1 || n > 1024 {
			return errors.New("bench: each of job-conns must be between 1 and 1024")
		}
	}
	for _, g := range o.Only {
		if !slices.Contains(Groups, g) {
			return fmt.Errorf("bench: unknown row group %q (known: %v)", g, Groups)
		}
	}
	return nil
}
