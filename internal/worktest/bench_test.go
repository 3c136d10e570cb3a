package worktest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/conveyorhq/conveyor/internal/queue"
)

// BenchmarkJobs compares, on the same machine and Redis:
//
//   - raw-asynq: enqueue a no-op task and have an asynq server (concurrency
//     10, the same poll interval as Conveyor's worker) run it — the floor of
//     any asynq-based pipeline;
//   - conveyor: POST an inspect job on a small file through the API (job row
//     and outbox in one transaction, direct dispatch, a worker process with
//     concurrency 10 loading the job, streaming the object from S3, fencing
//     the result, publishing events) until its succeeded event arrives on
//     the team's event stream.
//
// Latency (p50, p99) is submit→done with one job in flight at a time (up to
// 200 of the b.N); throughput (jobs/s) is b.N submitted at once by 8
// clients. conveyor also reports its throughput as a ratio of raw-asynq's.
// Run with -benchtime=1000x for stable figures.
func BenchmarkJobs(b *testing.B) {
	b.Run("raw-asynq", benchRawAsynq)
	b.Run("conveyor", benchConveyor)
}

// rawJobsPerSec is the baseline of the last raw-asynq run, for the ratio.
var rawJobsPerSec float64

const benchClients = 8

// pipeline is what a benchmark drives: submit one job, and a channel that
// receives each finished job's id.
type pipeline struct {
	submit func() string
	done   <-chan string
}

// measure runs the closed-loop latency phase and the burst throughput
// phase, reports them, and returns jobs/s.
func measure(b *testing.B, p pipeline) float64 {
	b.Helper()
	wait := func(want map[string]bool, limit time.Duration) {
		deadline := time.After(limit)
		for len(want) > 0 {
			select {
			case id := <-p.done:
				delete(want, id)
			case <-deadline:
				b.Fatalf("%d jobs not done after %s", len(want), limit)
			}
		}
	}
	b.ResetTimer()
	var lat []time.Duration
	for range min(b.N, 200) {
		t0 := time.Now()
		id := p.submit()
		wait(map[string]bool{id: true}, time.Minute)
		lat = append(lat, time.Since(t0))
	}
	start := time.Now()
	ids := make(chan string, b.N)
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				ids <- p.submit()
			}
		}()
	}
	pending := map[string]bool{}
	var mu sync.Mutex
	collected := make(chan struct{})
	go func() {
		for id := range ids {
			mu.Lock()
			pending[id] = true
			mu.Unlock()
		}
		close(collected)
	}()
	finished := map[string]bool{}
	go func() {
		for range b.N {
			next <- struct{}{}
		}
		close(next)
		wg.Wait()
		close(ids)
	}()
	deadline := time.After(5 * time.Minute)
	for len(finished) < b.N {
		select {
		case id := <-p.done:
			finished[id] = true
		case <-deadline:
			b.Fatalf("%d of %d jobs done", len(finished), b.N)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	<-collected
	for id := range pending {
		if !finished[id] {
			b.Fatalf("job %s submitted but never done", id)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	perSec := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(perSec, "jobs/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	return perSec
}

func benchRawAsynq(b *testing.B) {
	env := shared.Env(b)
	opt := asynq.RedisClientOpt{Addr: env.Stack.RedisAddr}
	q := "bench-" + uuid.NewString()[:8]
	done := make(chan string, 4096)
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 10, Queues: map[string]int{q: 1},
		TaskCheckInterval: queue.TaskCheckInterval, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(_ context.Context, t *asynq.Task) error {
		done <- string(t.Payload())
		return nil
	})
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	client := asynq.NewClient(opt)
	defer client.Close()
	rawJobsPerSec = measure(b, pipeline{done: done, submit: func() string {
		id := uuid.NewString()
		if _, err := client.Enqueue(asynq.NewTask("noop", []byte(id)), asynq.Queue(q), asynq.TaskID(id)); err != nil {
			b.Error(err)
		}
		return id
	}})
}

var benchSetup struct {
	once sync.Once
	team string
	file string
	a    api
}

func benchConveyor(b *testing.B) {
	benchSetup.once.Do(func() {
		a := newAPI(b, "bench-admin")
		benchSetup.a = a
		benchSetup.team = a.team("Bench")
		benchSetup.file = a.upload(benchSetup.team, "small.png", pngBytes(b, 32, 32))
	})
	benchWorker(b)
	a, team, file := benchSetup.a, benchSetup.team, benchSetup.file
	a.t = b
	done, stop := succeededEvents(b, a, team)
	defer stop()
	perSec := measure(b, pipeline{done: done, submit: func() string { return a.job(team, file, "inspect") }})
	if rawJobsPerSec > 0 {
		b.ReportMetric(perSec/rawJobsPerSec, "x-raw-asynq")
	}
}

var benchWorkerOnce sync.Once

// benchWorker starts the benchmarks' one worker process (concurrency 10),
// stopped when the package's benchmarks end.
func benchWorker(b *testing.B) {
	benchWorkerOnce.Do(func() {
		w := launchWorker(b, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "10", "CONVEYOR_LOG_LEVEL": "warn"})
		atExit = append(atExit, func() { _ = w.cmd.Process.Kill(); <-w.done })
	})
}

// succeededEvents follows the team's event stream and sends the id of
// each job that succeeded; stop ends it.
func succeededEvents(b *testing.B, a api, team string) (<-chan string, func()) {
	env := shared.Env(b)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", env.URL+"/api/v1/teams/"+team+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		b.Fatalf("event stream: %v %v", err, resp)
	}
	done := make(chan string, 4096)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev struct {
				Job *struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"job"`
			}
			if json.Unmarshal([]byte(data), &ev) == nil && ev.Job != nil && ev.Job.Status == "succeeded" {
				done <- ev.Job.ID
			}
		}
	}()
	return done, func() { cancel(); resp.Body.Close() }
}
