package topology_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/app"
	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
	"github.com/conveyorhq/conveyor/internal/topology"
)

// childArg makes the test binary run as Conveyor itself, so the topology's
// children are real processes of the code under test without a build step.
const childArg = "conveyor-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := app.Run(ctx, append([]string{"conveyor"}, os.Args[2:]...), os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "conveyor:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// start brings up the full topology for the test and stops it at the end.
func start(t *testing.T) *topology.Topology {
	t.Helper()
	devstacktest.SkipIfShort(t)
	dir, err := devstack.TestDir(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	began := time.Now()
	top, err := topology.Start(ctx, topology.Options{
		Dir: dir, APIs: 2, Workers: 2, Replicas: 2,
		Bin: self, BinArgs: []string{childArg},
		Env: []string{"CONVEYOR_SHUTDOWN_TIMEOUT=5s", "CONVEYOR_LOG_FORMAT=json"},
		Log: tbWriter{t},
	})
	if err != nil {
		t.Fatalf("%v\n(logs kept in %s)", err, dir)
	}
	t.Logf("full topology up in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := top.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		for name, pid := range top.Stack.PIDs() {
			t.Errorf("%s (pid %d) still runs after Stop", name, pid)
		}
		for _, c := range append(append([]*topology.Child(nil), top.APIs...), top.Workers...) {
			if c.PID() != 0 {
				t.Errorf("%s (pid %d) still runs after Stop", c.Name(), c.PID())
			}
		}
		if t.Failed() {
			t.Logf("kept %s for inspection", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return top
}

// TestFullTopology: two API processes behind nginx, two workers, a primary
// with two replicas behind two PgBouncers; requests, an event stream and
// jobs go through the ingress; killed API processes and workers are
// restarted while the ingress keeps answering.
func TestFullTopology(t *testing.T) {
	top := start(t)
	c := client{t: t, base: top.URL, token: top.AdminToken}

	t.Run("shape", func(t *testing.T) {
		if len(top.APIs) != 2 || len(top.Workers) != 2 {
			t.Fatalf("%d APIs, %d workers, want 2 and 2", len(top.APIs), len(top.Workers))
		}
		pids := top.Stack.PIDs()
		for _, name := range []string{"postgres-primary", "postgres-replica1", "postgres-replica2", "pgbouncer", "pgbouncer-worker", "redis", "versitygw", "nginx"} {
			if pids[name] == 0 {
				t.Errorf("%s is not running (pids %v)", name, pids)
			}
		}
		if top.Stack.WorkerPrimaryURL == top.Stack.PrimaryURL || len(top.Stack.WorkerReplicaURLs) != 2 {
			t.Errorf("workers' pool %q %v is not a second PgBouncer beside %q", top.Stack.WorkerPrimaryURL, top.Stack.WorkerReplicaURLs, top.Stack.PrimaryURL)
		}
		seen := map[int]bool{}
		for _, ch := range append(append([]*topology.Child(nil), top.APIs...), top.Workers...) {
			if ch.PID() == 0 || seen[ch.PID()] || ch.PID() == os.Getpid() {
				t.Errorf("%s: pid %d is not a process of its own", ch.Name(), ch.PID())
			}
			seen[ch.PID()] = true
			if r, err := http.Get(ch.URL() + "/healthz"); err != nil || r.StatusCode != 200 {
				t.Errorf("%s: %s/healthz: %v %v", ch.Name(), ch.URL(), r, err)
			} else {
				r.Body.Close()
			}
		}
	})

	team := c.createTeam("Topology")

	t.Run("routes", func(t *testing.T) {
		c := c.with(t)
		if st, b := c.do("GET", "/api/v1/teams/"+team, "", nil); st != 200 || !strings.Contains(b, team) {
			t.Fatalf("GET team through the ingress: %d %s", st, b)
		}
		for _, p := range []string{"/", "/docs/", "/api/v1/openapi.yaml", "/team-manager", "/it-manager"} {
			if st, _ := c.raw("GET", p); st != 200 {
				t.Errorf("GET %s through the ingress: %d, want 200", p, st)
			}
		}
		// As the Kubernetes Ingress: never forwarded.
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/debug/pprof/"} {
			if st, _ := c.raw("GET", p); st != 404 {
				t.Errorf("GET %s through the ingress: %d, want 404 (not public)", p, st)
			}
		}
	})

	t.Run("events and a job through the ingress", func(t *testing.T) {
		c := c.with(t)
		frames := c.stream("/api/v1/teams/" + team + "/events")
		file := c.upload(team, "hello.txt", []byte("hello, topology\n"))
		job := c.submit(team, file)
		got := map[string]bool{}
		deadline := time.After(60 * time.Second)
		for !got["file.created"] || !got["job.succeeded"] {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("stream ended; saw %v", got)
				}
				got[f.event] = true
				if f.event == "job.updated" && strings.Contains(f.data, job) && strings.Contains(f.data, `"succeeded"`) {
					got["job.succeeded"] = true
				}
			case <-deadline:
				t.Fatalf("through nginx, events seen: %v; want file.created and the job's success", got)
			}
		}
	})

	t.Run("an API process killed is restarted and the ingress keeps answering", func(t *testing.T) {
		c := c.with(t)
		api := top.APIs[0]
		old := api.PID()
		stop := make(chan struct{})
		failures := make(chan string, 1000)
		done := make(chan int)
		go func() { // reads through the ingress all along
			n := 0
			defer func() { done <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if st, b := c.do("GET", "/api/v1/teams/"+team, "", nil); st != 200 {
					select {
					case failures <- fmt.Sprintf("%d %s", st, b):
					default:
					}
				}
				n++
				// 20 reads a second: under the per-principal read limit.
				time.Sleep(50 * time.Millisecond)
			}
		}()
		time.Sleep(time.Second)
		if err := api.Kill(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := api.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // back in nginx's rotation
		close(stop)
		n := <-done
		close(failures)
		for f := range failures {
			t.Errorf("GET team through the ingress failed while %s was killed: %s", api.Name(), f)
		}
		if api.PID() == old || api.PID() == 0 || api.Restarts() != 1 {
			t.Fatalf("%s: pid %d (was %d), %d restarts; want a new process, 1 restart", api.Name(), api.PID(), old, api.Restarts())
		}
		if syscall.Kill(old, 0) == nil {
			t.Errorf("old pid %d still exists", old)
		}
		t.Logf("%d reads through the ingress while %s was killed and restarted", n, api.Name())
	})

	t.Run("a worker killed is restarted and jobs still succeed", func(t *testing.T) {
		c := c.with(t)
		for _, w := range top.Workers {
			old := w.PID()
			if err := w.Kill(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := w.WaitReady(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if w.PID() == old || w.Restarts() != 1 {
				t.Fatalf("%s: pid %d (was %d), %d restarts", w.Name(), w.PID(), old, w.Restarts())
			}
		}
		file := c.upload(team, "again.txt", []byte("after the workers' restart\n"))
		job := c.submit(team, file)
		c.waitJob(team, job, 60*time.Second)
	})
}

// client talks to the API through the ingress.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) with(t *testing.T) client { c.t = t; return c }

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (c client) do(method, path, ctype string, body []byte) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c client) raw(method, path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c client) id(st int, want int, b, what string) string {
	c.t.Helper()
	var v struct{ ID string }
	if st != want || json.Unmarshal([]byte(b), &v) != nil || v.ID == "" {
		c.t.Fatalf("%s: %d %s", what, st, b)
	}
	return v.ID
}

func (c client) createTeam(name string) string {
	c.t.Helper()
	st, b := c.do("POST", "/api/v1/teams", "application/json", []byte(`{"name":"`+name+`"}`))
	return c.id(st, 201, b, "create team")
}

func (c client) upload(team, name string, content []byte) string {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	st, b := c.do("POST", "/api/v1/teams/"+team+"/files", mw.FormDataContentType(), body.Bytes())
	return c.id(st, 201, b, "upload")
}

func (c client) submit(team, file string) string {
	c.t.Helper()
	st, b := c.do("POST", "/api/v1/teams/"+team+"/jobs", "application/json", []byte(`{"processor":"inspect","file_id":"`+file+`"}`))
	return c.id(st, 202, b, "submit job")
}

func (c client) waitJob(team, job string, limit time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st, b := c.do("GET", "/api/v1/teams/"+team+"/jobs/"+job, "", nil)
		var j struct{ Status string }
		_ = json.Unmarshal([]byte(b), &j)
		if st == 200 && j.Status == "succeeded" {
			return
		}
		if time.Now().After(deadline) || j.Status == "failed" {
			c.t.Fatalf("job %s: %d %s", job, st, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type frame struct{ event, data string }

// stream opens an event stream and sends its events until the test ends.
func (c client) stream(path string) <-chan frame {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		c.t.Fatalf("stream through the ingress: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan frame, 256)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.event != "" {
					select {
					case out <- f:
					case <-ctx.Done():
						return
					}
				}
				f = frame{}
			case strings.HasPrefix(line, "event:"):
				f.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				f.data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			}
		}
	}()
	return out
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
