// Package worktest runs the worker as a separate process (the built
// binary), so tests can kill it the way production does: SIGKILL in the
// middle of a thousand jobs, SIGTERM with tasks in flight.
package worktest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

var (
	// shared: the API (no worker: tests start worker processes) on a
	// primary, a replica, PgBouncer, Redis and S3; shared.Env skips under -short.
	shared apptest.Shared
	bin    string // the conveyor binary
	// atExit stops what benchmarks started (their cleanups run per round).
	atExit []func()
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		// The fast lane: no binary to build, no stack (apptest.Main starts none).
		return apptest.Main(m, "worktest", apptest.Options{}, &shared, nil)
	}
	dir, err := os.MkdirTemp("", "conveyor-worktest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := devstack.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin = filepath.Join(dir, "conveyor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/conveyor")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the binary: %v\n%s", err, out)
		return 1
	}
	defer func() {
		for _, f := range atExit {
			f()
		}
	}()
	return apptest.Main(m, "worktest", apptest.Options{Replicas: 1, NoWorker: true, Env: map[string]string{
		"CONVEYOR_ORPHAN_GRACE":    "10s",
		"CONVEYOR_JOB_MAX_RETRIES": "2",
	}}, &shared, nil)
}

// worker is a `conveyor worker` process.
type worker struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	url  string
	done chan error
}

// startWorker starts a worker process with extra settings and waits until
// it serves its health endpoint; it is killed at the end of the test.
func startWorker(t *testing.T, extra map[string]string) *worker {
	t.Helper()
	w := launchWorker(t, extra)
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			t.Logf("worker logs:\n%s", w.logs)
		}
	})
	return w
}

// launchWorker starts a worker process; the caller stops it.
func launchWorker(t testing.TB, extra map[string]string) *worker {
	t.Helper()
	env := shared.Env(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := env.Vars()
	vars["CONVEYOR_WORKER_ADDR"] = addr
	vars["CONVEYOR_LOG_LEVEL"] = "info"
	for k, v := range extra {
		vars[k] = v
	}
	cmd := exec.Command(bin, "worker")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	w := &worker{cmd: cmd, logs: &bytes.Buffer{}, url: "http://" + addr, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(w.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not healthy: %v\n%s", err, w.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the process to exit, at most d.
func (w *worker) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(d):
		t.Fatalf("worker did not exit within %s", d)
	}
}

// once the janitor has swept what killed attempts left, in storage.
func TestWorkerKilledMidThousandJobs(t *testing.T) {
	const n = 1000
	a := newAPI(t, "crash-admin")
	c := db(t)
	team := a.team("Crash")
	file := a.upload(team, "pixel.png", pngBytes(t, 64, 48))

	w := startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "16"})
	ids := a.createJobs(team, file, "thumbnail", n)
	before := waitCounts(t, c, team, 2*time.Minute, func(m map[string]int) bool { return m["succeeded"] >= n/5 })
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.wait(t, 10*time.Second)
	atKill := statusCounts(t, c, team)
	t.Logf("killed the worker at %v (first seen %v)", atKill, before)
	if atKill["succeeded"] == n {
		t.Fatal("every job finished before the kill; the test proves nothing")
	}

	startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "16"})
	final := waitCounts(t, c, team, 4*time.Minute, func(m map[string]int) bool { return m["succeeded"] == n })
	if len(final) != 1 {
		t.Fatalf("job states: %v", final)
	}

	var rerun, noResult, badOutputs int
	err := c.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE j.attempts > 1),
		       count(*) FILTER (WHERE j.result IS NULL),
		       count(*) FILTER (WHERE (SELECT count(*) FROM job_outputs o WHERE o.job_id = j.id) <> 1)
		FROM jobs j WHERE j.team_id = $1`, team).Scan(&rerun, &noResult, &badOutputs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d jobs ran more than one attempt", rerun, n)
	if noResult != 0 || badOutputs != 0 {
		t.Fatalf("%d jobs without a result, %d without exactly one output", noResult, badOutputs)
	}
	if rerun == 0 && atKill["running"] > 0 {
		t.Fatalf("%d jobs were running at the kill, yet none ran again", atKill["running"])
	}
	recorded := map[string]bool{}
	rows, err := c.Query(context.Background(), `SELECT o.object_key FROM job_outputs o JOIN jobs j ON j.id = o.job_id WHERE j.team_id = $1`, team)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		recorded[k] = true
	}
	if len(recorded) != n {
		t.Fatalf("%d distinct output objects recorded for %d jobs", len(recorded), n)
	}
	for _, id := range ids[:10] {
		if !strings.Contains(strings.Join(keysOf(recorded), " "), id) {
			t.Fatalf("job %s has no recorded output", id)
		}
	}
	// Storage: every recorded object exists, and what killed attempts left
	// behind is swept (orphan grace is 10 s here: long enough that a slow
	// attempt's object is not swept between its upload and its commit on a
	// loaded machine).
	deadline := time.Now().Add(60 * time.Second)
	for {
		keys := listObjects(t, "teams/"+team+"/jobs/")
		extra := 0
		present := 0
		for _, k := range keys {
			if recorded[k] {
				present++
			} else {
				extra++
			}
		}
		if present != n {
			t.Fatalf("%d of %d recorded outputs are in storage", present, n)
		}
		if extra == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d objects of killed attempts were never swept", extra)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWorkerShutdownHandsTasksBack: SIGTERM with jobs running and a short
// shutdown timeout: the worker exits promptly and the unfinished tasks are
// back in the queue at once (not left for lease expiry), so another worker
// finishes them well within the time a lost lease would take.
func TestWorkerShutdownHandsTasksBack(t *testing.T) {
	env := shared.Env(t)
	a := newAPI(t, "graceful-admin")
	c := db(t)
	team := a.team("Graceful")
	var csv bytes.Buffer
	csv.WriteString("id,name,score\n")
	for i := 0; csv.Len() < 48<<20; i++ {
		fmt.Fprintf(&csv, "%d,row-%d,%d.5\n", i, i%1000, i%97)
	}
	file := a.upload(team, "rows.csv", csv.Bytes())

	w := startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "2", "CONVEYOR_SHUTDOWN_TIMEOUT": "300ms"})
	a.createJobs(team, file, "csv_profile", 2)
	waitCounts(t, c, team, time.Minute, func(m map[string]int) bool { return m["running"] == 2 })
	start := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	w.wait(t, 15*time.Second)
	t.Logf("worker exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if w.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("worker exit code %d\n%s", w.cmd.ProcessState.ExitCode(), w.logs)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: env.Stack.RedisAddr})
	defer insp.Close()
	q, err := insp.GetQueueInfo("default")
	if err != nil {
		t.Fatal(err)
	}
	if q.Active != 0 || q.Pending+q.Retry < 2 {
		t.Fatalf("after shutdown: active %d pending %d retry %d; want the 2 tasks handed back", q.Active, q.Pending, q.Retry)
	}
	startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "2"})
	// A lost lease is recovered after 30 s + up to a minute; handed-back
	// tasks start at once.
	waitCounts(t, c, team, 25*time.Second, func(m map[string]int) bool { return m["succeeded"] == 2 })
}

// TestRetryableFailureBacksOffThenFails: with storage down, an attempt
// fails with a retryable error; it is retried with backoff up to the
// maximum (2 here), then the job fails with that typed error — and a retry
// asked for once storage is back succeeds.
func TestRetryableFailureBacksOffThenFails(t *testing.T) {
	env := shared.Env(t)
	a := newAPI(t, "backoff-admin")
	team := a.team("Backoff")
	file := a.upload(team, "pixel.png", pngBytes(t, 4, 4))
	startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "2"})
	if err := env.Stack.StopS3(); err != nil {
		t.Fatal(err)
	}
	s3Down := true
	defer func() {
		if s3Down {
			_ = env.Stack.StartS3(context.Background())
		}
	}()
	id := a.job(team, file, "inspect")
	j := a.waitFinal(team, id, 90*time.Second)
	if j.Status != "failed" || j.Attempts != 3 || j.Error == nil || j.Error.Code != "unavailable" || !j.Error.Retryable {
		t.Fatalf("job = %+v (error %+v); want failed after 3 attempts with a retryable unavailable error", j, j.Error)
	}
	if d := j.FinishedAt.Sub(j.StartedAt); d < 2*time.Second {
		t.Fatalf("3 attempts within %s: no backoff between them", d)
	}
	if err := env.Stack.StartS3(context.Background()); err != nil {
		t.Fatal(err)
	}
	s3Down = false
	if s, b := a.do("POST", "/teams/"+team+"/jobs/"+id+"/retry", "", nil); s != 202 {
		t.Fatalf("retry: %d %s", s, b)
	}
	if j = a.waitFinal(team, id, 60*time.Second); j.Status != "succeeded" {
		t.Fatalf("after retry with storage back: %+v", j)
	}
}

// jobState is what the tests read of a job.
type jobState struct {
	Status     string
	Attempts   int
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Error      *struct {
		Code      string
		Retryable bool
	}
}

// waitFinal polls the job until it succeeded or failed, at most limit.
func (a api) waitFinal(team, id string, limit time.Duration) jobState {
	a.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s, b := a.do("GET", "/teams/"+team+"/jobs/"+id, "", nil)
		if s != 200 {
			a.t.Fatalf("get job: %d %s", s, b)
		}
		var j jobState
		_ = json.Unmarshal(b, &j)
		if j.Status == "failed" || j.Status == "succeeded" {
			return j
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("job still %s after %s", b, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
