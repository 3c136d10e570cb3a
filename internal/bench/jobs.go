package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/conveyorhq/conveyor/internal/bench/baseline"
)

// workerConcurrency is CONVEYOR_WORKER_CONCURRENCY's default, which the
// benchmark's worker runs with; the raw asynq server gets the same.
const workerConcurrency = 10

// jobRows measures row 2: end-to-end jobs/s (submit → succeeded, inspect
// on a 4 KiB file) against raw asynq enqueue + no-op processing, then
// POST /jobs throughput and latency at each of o.JobConns connections
// against raw asynq enqueues, sampling the outbox and the event log while
// the load lasts; then it waits for the worker to finish the backlog.
func (r *runner) jobRows(ctx context.Context) ([]Row, error) {
	p := r.p
	raw, err := baseline.StartAsynq(p.stack.RedisAddr, workerConcurrency)
	if err != nil {
		return nil, err
	}
	defer raw.Stop()

	// End to end, on a team of its own, the system otherwise idle.
	e2eTeam, e2eFile, err := r.teamWithFile(ctx, "bench-jobs-e2e")
	if err != nil {
		return nil, err
	}
	conns := 8
	t0 := time.Now()
	sub := closedLoop(ctx, conns, time.Hour, r.o.E2EJobs, r.postJob(loadClient(conns), e2eTeam, e2eFile))
	if err := sub.check(); err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	if err := r.waitJobsFinished(ctx, e2eTeam, r.o.E2EJobs, 10*time.Minute); err != nil {
		return nil, err
	}
	convE2E := float64(r.o.E2EJobs) / time.Since(t0).Seconds()
	t0 = time.Now()
	start := raw.Done()
	enq := closedLoop(ctx, conns, time.Hour, r.o.E2EJobs, func(ctx context.Context, _ int) error { return raw.Enqueue(ctx) })
	if err := enq.check(); err != nil {
		return nil, fmt.Errorf("raw asynq: %w", err)
	}
	for raw.Done()-start < int64(r.o.E2EJobs) {
		if time.Since(t0) > 5*time.Minute {
			return nil, fmt.Errorf("raw asynq: %d of %d tasks done after 5 min", raw.Done()-start, r.o.E2EJobs)
		}
		time.Sleep(time.Millisecond)
	}
	rawE2E := float64(r.o.E2EJobs) / time.Since(t0).Seconds()
	rows := []Row{minRatioRow("2. end-to-end jobs/s (inspect, 4 KiB)", "jobs/s", convE2E, rawE2E, 0.15,
		fmt.Sprintf("%d jobs, 8 conns; baseline raw asynq no-op", r.o.E2EJobs))}

	// POST /jobs under sustained load.
	team, file, err := r.teamWithFile(ctx, "bench-jobs")
	if err != nil {
		return nil, err
	}
	sampler := r.sampleOutbox(ctx)
	submitted := 0
	for _, n := range r.o.JobConns {
		c := loadClient(n)
		conv := closedLoop(ctx, n, r.o.Duration, 0, r.postJob(c, team, file))
		c.CloseIdleConnections()
		if err := conv.check(); err != nil {
			sampler.stop()
			return rows, fmt.Errorf("POST /jobs at %d conns: %w", n, err)
		}
		submitted += conv.ok
		base := closedLoop(ctx, n, r.o.Duration, 0, func(ctx context.Context, _ int) error { return raw.Enqueue(ctx) })
		if err := base.check(); err != nil {
			sampler.stop()
			return rows, fmt.Errorf("raw asynq enqueue at %d conns: %w", n, err)
		}
		name := fmt.Sprintf("2. POST /jobs at %d conns", n)
		p50 := Row{Measure: name + " p50", Unit: "ms", Conveyor: conv.pct(0.5), Baseline: base.pct(0.5)}
		if n == 8 {
			p50.Goal, p50.Pass = "≤ 10 ms", verdict(conv.pct(0.5) > 0 && conv.pct(0.5) <= 10)
		}
		rows = append(rows,
			Row{Measure: name + " throughput", Unit: "req/s", Conveyor: conv.perSec(), Baseline: base.perSec(), Note: "baseline raw asynq enqueue"},
			p50,
			Row{Measure: name + " p99", Unit: "ms", Conveyor: conv.pct(0.99), Baseline: base.pct(0.99)})
	}
	out := sampler.stop()
	drainStart := time.Now()
	if err := r.waitJobsFinished(ctx, team, submitted, 10*time.Minute); err != nil {
		return rows, err
	}
	note := fmt.Sprintf("%d jobs in %s of POST load; backlog drained %s after", submitted,
		(time.Duration(len(r.o.JobConns)) * r.o.Duration).Round(time.Millisecond), time.Since(drainStart).Round(100*time.Millisecond))
	rows = append(rows,
		Row{Measure: "S. job_outbox rows, max under POST load", Unit: "rows", Conveyor: float64(out.maxOutbox), Baseline: -1, ZeroOK: true, Note: note},
		Row{Measure: "S. job_outbox undispatched, max under POST load", Unit: "rows", Conveyor: float64(out.maxPending), Baseline: -1, ZeroOK: true},
		Row{Measure: "S. team_events rows, max under POST load", Unit: "rows", Conveyor: float64(out.maxEvents), Baseline: -1, ZeroOK: true})
	return rows, nil
}

// teamWithFile creates a team and uploads a 4 KiB file of random bytes.
func (r *runner) teamWithFile(ctx context.Context, name string) (team, file string, err error) {
	if team, err = r.p.createTeam(ctx, name); err != nil {
		return "", "", err
	}
	body := make([]byte, 4096)
	_, _ = rand.Read(body)
	file, err = r.p.uploadSmall(ctx, team, "small.bin", body)
	return team, file, err
}

// postJob returns a call that creates one inspect job on file.
func (r *runner) postJob(c *http.Client, team, file string) func(context.Context, int) error {
	body := `{"processor":"inspect","file_id":"` + file + `"}`
	return func(ctx context.Context, _ int) error {
		return r.p.do(ctx, c, "POST", "/teams/"+team+"/jobs", "application/json", strings.NewReader(body), http.StatusAccepted, nil)
	}
}

// waitJobsFinished waits until n of the team's jobs have finished (read on
// the primary every 25 ms); a failed or cancelled one is an error.
func (r *runner) waitJobsFinished(ctx context.Context, team string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var done, bad int
		err := r.p.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status IN ('failed', 'cancelled'))
FROM jobs WHERE team_id = $1`, team).Scan(&done, &bad)
		if err != nil {
			return err
		}
		if bad > 0 {
			return fmt.Errorf("%d jobs failed or were cancelled", bad)
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d jobs succeeded after %s", done, n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}
