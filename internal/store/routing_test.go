package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/conveyorhq/conveyor/internal/apptest"
)

// shared: the API over a primary and two replicas behind PgBouncer, every
// PostgreSQL server logging its statements so tests count, server side,
// where each query ran. shared.Env skips the tests under -short.
var shared apptest.Shared

func TestMain(m *testing.M) {
	os.Exit(apptest.Main(m, "store-routing", apptest.Options{Replicas: 2, LogStatements: true, NoWorker: true},
		&shared, nil))
}

type caller struct {
	t     testing.TB
	base  string
	token string
	c     *http.Client
}

func newCaller(t testing.TB, base, subject string, admin bool) *caller {
	env := shared.Env(t)
	return &caller{t: t, base: base, token: env.Token(t, subject, admin), c: env.Client(t)}
}

// do sends a request and returns the status, the body and the headers.
func (c *caller) do(method, path, body string) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(method, c.base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

func (c *caller) createTeam(name string) string {
	c.t.Helper()
	code, body, _, err := c.do("POST", "/teams", `{"name":"`+name+`"}`)
	if err != nil || code != 201 {
		c.t.Fatalf("create team: %d %s %v", code, body, err)
	}
	var t struct{ ID string }
	if err := json.Unmarshal(body, &t); err != nil {
		c.t.Fatal(err)
	}
	return t.ID
}

func count(t *testing.T, server, stmt string) int {
	t.Helper()
	env := shared.Env(t)
	n, err := env.Stack.CountStatements(server, stmt)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type counts map[string]int

func snapshot(t *testing.T, stmt string) counts {
	return counts{"primary": count(t, "primary", stmt), "replica1": count(t, "replica1", stmt), "replica2": count(t, "replica2", stmt)}
}

func (a counts) delta(b counts) counts {
	out := counts{}
	for k := range a {
		out[k] = b[k] - a[k]
	}
	return out
}

func catchUp(t *testing.T) {
	t.Helper()
	env := shared.Env(t)
	if err := env.Stack.WaitReplicasCaughtUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // two health checks, so the store has seen it
}

// TestReadsGoToReplicasWritesToPrimary counts, in each server's own log,
// where the API's reads and writes ran.
func TestReadsGoToReplicasWritesToPrimary(t *testing.T) {
	env := shared.Env(t)
	admin := newCaller(t, env.URL, "router-admin", true)
	team := admin.createTeam("Routing")
	catchUp(t)
	if code, _, _, _ := admin.do("GET", "/teams/"+team, ""); code != 200 {
		t.Fatalf("warm-up read: %d", code)
	}

	// The handler's read of the team (and its usage).
	const stmt = "-- name: GetTeamWithUsage "
	before := snapshot(t, stmt)
	const reads = 200
	for range reads {
		if code, body, _, err := admin.do("GET", "/teams/"+team, ""); err != nil || code != 200 {
			t.Fatalf("get team: %d %s %v", code, body, err)
		}
	}
	d := before.delta(snapshot(t, stmt))
	t.Logf("GetTeamWithUsage ran: %v", d)
	if d["primary"] != 0 || d["replica1"]+d["replica2"] != reads || d["replica1"] < reads/4 || d["replica2"] < reads/4 {
		t.Fatalf("reads ran %v; want all %d on the replicas, spread over both, none on the primary", d, reads)
	}

	before = snapshot(t, "-- name: CreateTeam ")
	const writes = 50
	for i := range writes {
		admin.createTeam(fmt.Sprintf("W%d", i))
	}
	d = before.delta(snapshot(t, "-- name: CreateTeam "))
	if d["primary"] != writes || d["replica1"] != 0 || d["replica2"] != 0 {
		t.Fatalf("writes ran %v; want all %d on the primary", d, writes)
	}
}

func setReplay(t *testing.T, pause bool) {
	t.Helper()
	env := shared.Env(t)
	fn := "pg_wal_replay_resume()"
	if pause {
		fn = "pg_wal_replay_pause()"
	}
	for i, url := range env.Stack.DirectReplicaURLs {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		_, err = conn.Exec(context.Background(), "SELECT "+fn)
		conn.Close(context.Background())
		if err != nil {
			t.Fatalf("replica %d: %s: %v", i, fn, err)
		}
	}
}

// TestReadYourWritesWithReplayPaused: with replay paused on every replica,
// a principal's read right after its write sees the write — 1,000 times in
// a row, alternating between two API processes (the write position is
// shared through Redis). Another principal, meanwhile, reads from the
// stale replicas: the guarantee is per principal, and the replicas really
// are behind.
func TestReadYourWritesWithReplayPaused(t *testing.T) {
	env := shared.Env(t)
	apiB := env.StartAPI(t, nil)
	writer := newCaller(t, env.URL, "ryw-writer", true)
	writerB := &caller{t: t, base: apiB, token: writer.token, c: writer.c}
	other := newCaller(t, env.URL, "ryw-other", true)
	writer.createTeam("warm-up") // provisions both principals before the pause
	if code, _, _, _ := other.do("GET", "/me", ""); code != 200 {
		t.Fatal("other principal not provisioned")
	}
	catchUp(t)

	setReplay(t, true)
	defer setReplay(t, false)

	first := writer.createTeam("first-while-paused")
	if code, _, _, _ := other.do("GET", "/teams/"+first, ""); code != 404 {
		t.Fatalf("another principal's read of a fresh write = %d; want 404 from a paused replica (the test would prove nothing)", code)
	}
	primaryBefore := count(t, "primary", "-- name: GetTeamWithUsage ")
	const n = 1000
	for i := range n {
		w, r := writer, writerB
		if i%2 == 1 {
			w, r = writerB, writer
		}
		code, body, _, err := w.do("POST", "/teams", fmt.Sprintf(`{"name":"ryw-%d"}`, i))
		if err != nil || code != 201 {
			t.Fatalf("write %d: %d %s %v", i, code, body, err)
		}
		var team struct{ ID string }
		_ = json.Unmarshal(body, &team)
		code, body, _, err = r.do("GET", "/teams/"+team.ID, "")
		if err != nil || code != 200 {
			t.Fatalf("read %d after write (other API process): %d %s %v", i, code, body, err)
		}
	}
	if got := count(t, "primary", "-- name: GetTeamWithUsage ") - primaryBefore; got < n {
		t.Fatalf("only %d of %d reads ran on the primary while the replicas were paused", got, n)
	}
}

// TestReplicaStoppedUnderReadLoad: a replica dies while 8 clients read as
// fast as they can; not one request fails, and reads return to it once it
// is back.
func TestReplicaStoppedUnderReadLoad(t *testing.T) {
	env := shared.Env(t)
	admin := newCaller(t, env.URL, "load-admin", true)
	team := admin.createTeam("Load")
	catchUp(t)

	const workers, perWorker = 8, 250
	var done, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCaller(t, env.URL, "load-admin", true)
			for range perWorker {
				code, body, _, err := c.do("GET", "/teams/"+team, "")
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", code, body, err))
				}
				done.Add(1)
			}
		}()
	}
	for done.Load() < workers*perWorker/5 {
		time.Sleep(5 * time.Millisecond)
	}
	stoppedAt := done.Load()
	if err := env.Stack.StopReplica(0); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("%d requests, replica1 stopped after %d, %d failed", workers*perWorker, stoppedAt, failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed while a replica died; first: %v", failed.Load(), firstErr.Load())
	}

	if err := env.Stack.StartReplica(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	before := count(t, "replica1", "-- name: GetTeamWithUsage ")
	deadline := time.Now().Add(20 * time.Second)
	for count(t, "replica1", "-- name: GetTeamWithUsage ") == before {
		if time.Now().After(deadline) {
			t.Fatal("reads did not return to replica1 within 20s of its restart")
		}
		if code, body, _, err := admin.do("GET", "/teams/"+team, ""); err != nil || code != 200 {
			t.Fatalf("read while replica1 recovers: %d %s %v", code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPrimaryDown: with the primary stopped, reads keep answering from the
// replicas and creating POSTs fail fast with 503 and Retry-After; both
// recover on their own once the primary is back. It starts the primary
// again and waits until writes succeed before it returns, so it may run in
// any order with the package's other tests.
func TestPrimaryDown(t *testing.T) {
	env := shared.Env(t)
	admin := newCaller(t, env.URL, "outage-admin", true)
	team := admin.createTeam("Outage")
	catchUp(t)

	if err := env.Stack.StopPrimary(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = env.Stack.StartPrimary(context.Background())
		}
	}()
	for i := range 50 {
		if code, body, _, err := admin.do("GET", "/teams/"+team, ""); err != nil || code != 200 {
			t.Fatalf("read %d with the primary down: %d %s %v", i, code, body, err)
		}
	}
	for i := range 5 {
		start := time.Now()
		code, body, h, err := admin.do("POST", "/teams", `{"name":"during-outage"}`)
		took := time.Since(start)
		if err != nil || code != 503 || h.Get("Retry-After") == "" || h.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("write %d with the primary down: %d %q %s %v", i, code, h.Get("Retry-After"), body, err)
		}
		if took > 6*time.Second {
			t.Fatalf("write %d took %s to fail; want fast", i, took)
		}
		t.Logf("write %d failed in %s", i, took.Round(time.Millisecond))
	}

	if err := env.Stack.StartPrimary(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body, _, err := admin.do("POST", "/teams", `{"name":"after-outage"}`)
		if err == nil && code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not recover within 20s: %d %s %v", code, body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 20 {
		if code, body, _, err := admin.do("POST", "/teams", fmt.Sprintf(`{"name":"recovered-%d"}`, i)); err != nil || code != 201 {
			t.Fatalf("write %d after recovery: %d %s %v", i, code, body, err)
		}
		if code, body, _, err := admin.do("GET", "/teams/"+team, ""); err != nil || code != 200 {
			t.Fatalf("read %d after recovery: %d %s %v", i, code, body, err)
		}
	}
}
