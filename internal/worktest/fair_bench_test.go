package worktest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/queue"
)

// fairBacklog is team A's backlog in BenchmarkFairDispatch.
const fairBacklog = 5000

// fairSamples is how many of team B's jobs each phase times.
const fairSamples = 100

// BenchmarkFairDispatch measures team B's submit→succeeded latency for one
// inspect job at a time (POST through the API until its succeeded event
// arrives on B's event stream), first on an idle system (the baseline),
// then while team A has 5,000 inspect jobs queued, in the same run, with
// one worker of concurrency 10 and the default cap of 20 running jobs per
// team. A's backlog is bulk-inserted in one statement (the rows CreateJob
// writes: the job and its admitting dispatch record), and the relays are
// woken as the API would; every one of B's loaded samples is taken while
// A still has jobs waiting. It prints p50 and p99 of both as rows
// "measure | conveyor | baseline | ratio" (goal: within 2× of idle, p99 ≤
// 1 s). The phases take a fixed number of samples whatever b.N is, and
// A's remaining backlog is cancelled at the end.
func BenchmarkFairDispatch(b *testing.B) {
	env := shared.Env(b)
	benchWorker(b)
	a := newAPI(b, "fair-bench-admin")
	teamA, teamB := a.team("Flood"), a.team("Single")
	fileA := a.upload(teamA, "a.png", pngBytes(b, 32, 32))
	fileB := a.upload(teamB, "b.png", pngBytes(b, 32, 32))
	done, stop := succeededEvents(b, a, teamB)
	defer stop()
	c := db(b)
	ctx := context.Background()
	sample := func() time.Duration {
		t0 := time.Now()
		id := a.job(teamB, fileB, "inspect")
		deadline := time.After(time.Minute)
		for {
			select {
			case got := <-done:
				if got == id {
					return time.Since(t0)
				}
			case <-deadline:
				b.Fatalf("team B's job %s not done within a minute", id)
			}
		}
	}
	for range 5 { // warm up the connections and the event stream
		sample()
	}

	b.ResetTimer()
	idle := make([]time.Duration, 0, fairSamples)
	for range fairSamples {
		idle = append(idle, sample())
	}

	if _, err := c.Exec(ctx, `
		WITH j AS (
			INSERT INTO jobs (id, team_id, file_id, processor, params)
			SELECT gen_random_uuid(), $1, $2, 'inspect', '{}'::jsonb FROM generate_series(1, $3)
			RETURNING id, team_id)
		INSERT INTO job_outbox (job_id, team_id, admit) SELECT id, team_id, true FROM j`,
		teamA, fileA, fairBacklog); err != nil {
		b.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: env.Stack.RedisAddr})
	defer rc.Close()
	if err := rc.Publish(ctx, queue.WakeChannel, "").Err(); err != nil {
		b.Fatal(err)
	}
	waiting := func() (n int) {
		if err := c.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE team_id = $1 AND status = 'queued' AND admitted_at IS NULL`, teamA).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); waiting() > fairBacklog-20; { // A fills its cap first
		if time.Now().After(deadline) {
			b.Fatal("team A's backlog is not being admitted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	succeeded := func() (n int) {
		if err := c.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE team_id = $1 AND status = 'succeeded'`, teamA).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	loaded := make([]time.Duration, 0, fairSamples)
	from, start := succeeded(), time.Now()
	for range fairSamples {
		loaded = append(loaded, sample())
	}
	left, aPerSec := waiting(), float64(succeeded()-from)/time.Since(start).Seconds()
	b.StopTimer()
	if _, err := c.Exec(ctx, `UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now()
		WHERE team_id = $1 AND status = 'queued'`, teamA); err != nil {
		b.Fatal(err)
	}
	if left == 0 {
		b.Fatal("team A's backlog drained before the last sample: the loaded phase was not loaded")
	}

	pct := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
	}
	lp50, lp99, ip50, ip99 := pct(loaded, 0.50), pct(loaded, 0.99), pct(idle, 0.50), pct(idle, 0.99)
	b.ReportMetric(lp50, "p50-ms")
	b.ReportMetric(lp99, "p99-ms")
	b.ReportMetric(ip50, "idle-p50-ms")
	b.ReportMetric(ip99, "idle-p99-ms")
	b.ReportMetric(lp50/ip50, "x-idle-p50")
	b.ReportMetric(lp99/ip99, "x-idle-p99")
	b.ReportMetric(aPerSec, "teamA-jobs/s")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("measure | conveyor | baseline | ratio\n")
	fmt.Printf("team B inspect submit→succeeded p50, team A %d queued (ms) vs idle | %.1f | %.1f | %.2f\n", fairBacklog, lp50, ip50, lp50/ip50)
	fmt.Printf("team B inspect submit→succeeded p99, team A %d queued (ms) vs idle | %.1f | %.1f | %.2f\n", fairBacklog, lp99, ip99, lp99/ip99)
	fmt.Printf("(team A still had %d of %d jobs waiting after the last sample; it ran %.0f jobs/s meanwhile)\n", left, fairBacklog, aPerSec)
}
