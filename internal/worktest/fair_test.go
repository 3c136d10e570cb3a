package worktest

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// setTeamCap gives a team its own cap on running jobs, as a platform
// admin's quota does (teams.max_running_jobs).
func setTeamCap(t *testing.T, c *pgx.Conn, team string, n int) {
	t.Helper()
	if _, err := c.Exec(context.Background(), `UPDATE teams SET max_running_jobs = $2 WHERE id = $1`, team, n); err != nil {
		t.Fatal(err)
	}
}

// jobSpan is when a job's first attempt started and when it finished.
type jobSpan struct {
	id                string
	started, finished time.Time
}

func jobSpans(t *testing.T, c *pgx.Conn, team string) []jobSpan {
	t.Helper()
	rows, err := c.Query(context.Background(),
		`SELECT id::text, started_at, finished_at FROM jobs WHERE team_id = $1 AND status = 'succeeded'`, team)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (s jobSpan, err error) {
		return s, r.Scan(&s.id, &s.started, &s.finished)
	})
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

// maxOverlap is the most spans open at one instant. The spans come from
// the database's clock: a job is admitted only after the count of its
// team's unfinished jobs saw another's finish committed, so its start is
// later than that finish; a span covers all of a job's attempts.
func maxOverlap(spans []jobSpan) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s.started, 1}, edge{s.finished, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta // a finish at the same instant first
	})
	open, most := 0, 0
	for _, e := range edges {
		open += e.delta
		most = max(most, open)
	}
	return most
}

// TestTeamCapHoldsAcrossWorkers: a team with a cap of 3 queues 40 jobs
// before any worker runs; two workers with room for 12 then run them, and
// at no instant does the team have more than 3 running — neither in the
// job spans the database recorded nor in the running count sampled while
// they run — while it does use its 3.
func TestTeamCapHoldsAcrossWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack and worker processes")
	}
	const n, limit = 40, 3
	a := newAPI(t, "cap-admin")
	c := db(t)
	team := a.team("Capped")
	setTeamCap(t, c, team, limit)
	file := a.upload(team, "square.png", pngBytes(t, 512, 512))
	a.createJobs(team, file, "thumbnail", n)

	sampler := db(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sampled int
	wg.Add(1)
	go func() { // a second observer: the running count, read as they run
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var running int
			if err := sampler.QueryRow(context.Background(),
				`SELECT count(*) FROM jobs WHERE team_id = $1 AND status = 'running'`, team).Scan(&running); err == nil {
				sampled = max(sampled, running)
			}
		}
	}()
	for range 2 {
		startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "6"})
	}
	waitCounts(t, c, team, 2*time.Minute, func(m map[string]int) bool { return m["succeeded"] == n })
	close(stop)
	wg.Wait()

	most := maxOverlap(jobSpans(t, c, team))
	t.Logf("cap %d: at most %d jobs running at once by their spans, %d by sampling", limit, most, sampled)
	if most > limit || sampled > limit {
		t.Fatalf("the team ran %d at once (spans), %d (sampled); its cap is %d", most, sampled, limit)
	}
	if most < 2 {
		t.Fatalf("at most %d job ran at a time: the workers never ran the team's jobs side by side, the test proves nothing", most)
	}
}

// TestSmallTeamNotHeldBackByBacklog: team A (cap 2) queues 200 jobs and
// cancels 20 of them while they wait, then team B queues one; a worker
// starts only then. B's job finishes before nearly all of A's backlog
// (by the order the database recorded the finishes), every one of A's
// jobs ends succeeded or, for the cancelled ones, cancelled without ever
// running, and A never has more than 2 running.
func TestSmallTeamNotHeldBackByBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack and a worker process")
	}
	const n, limit, cancelled = 200, 2, 20
	a := newAPI(t, "fair-admin")
	c := db(t)
	teamA, teamB := a.team("Backlog"), a.team("Single")
	setTeamCap(t, c, teamA, limit)
	fileA := a.upload(teamA, "a.png", pngBytes(t, 16, 16))
	fileB := a.upload(teamB, "b.png", pngBytes(t, 16, 16))
	ids := a.createJobs(teamA, fileA, "inspect", n)
	for _, id := range ids[n-cancelled:] { // the newest: still waiting for admission
		if s, b := a.do("POST", "/teams/"+teamA+"/jobs/"+id+"/cancel", "", nil); s != 200 {
			t.Fatalf("cancel: %d %s", s, b)
		}
	}
	single := a.job(teamB, fileB, "inspect")

	w := startWorker(t, map[string]string{"CONVEYOR_WORKER_CONCURRENCY": "4"})
	// While A's backlog drains, the worker exports it without a label per
	// team: jobs waiting for admission, and a team at its cap.
	if waiting := metric(t, w, "conveyor_dispatch_jobs_waiting"); waiting < 100 {
		t.Errorf("conveyor_dispatch_jobs_waiting = %v with most of A's %d jobs waiting", waiting, n)
	}
	for deadline := time.Now().Add(5 * time.Second); metric(t, w, "conveyor_dispatch_teams_at_cap") < 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("conveyor_dispatch_teams_at_cap never counted team A")
			break
		}
	}
	final := waitCounts(t, c, teamA, 3*time.Minute, func(m map[string]int) bool { return m["succeeded"] == n-cancelled })
	if final["cancelled"] != cancelled || len(final) != 2 {
		t.Fatalf("team A's jobs: %v; want %d succeeded and %d cancelled", final, n-cancelled, cancelled)
	}
	if b := a.waitFinal(teamB, single, 10*time.Second); b.Status != "succeeded" {
		t.Fatalf("team B's job: %+v", b)
	}
	var ranCancelled int
	if err := c.QueryRow(context.Background(),
		`SELECT count(*) FROM jobs WHERE team_id = $1 AND status = 'cancelled' AND attempts > 0`, teamA).Scan(&ranCancelled); err != nil || ranCancelled != 0 {
		t.Fatalf("%d cancelled jobs ran an attempt (%v)", ranCancelled, err)
	}
	var before int
	if err := c.QueryRow(context.Background(), `
		SELECT count(*) FROM jobs a, jobs b
		WHERE a.team_id = $1 AND a.status = 'succeeded' AND b.id = $2 AND a.finished_at < b.finished_at`,
		teamA, single).Scan(&before); err != nil {
		t.Fatal(err)
	}
	t.Logf("team B's job finished after %d of team A's %d", before, n-cancelled)
	if before > 3*limit {
		t.Fatalf("team B's job finished after %d of team A's jobs; want it admitted at the first round, behind at most A's cap", before)
	}
	if most := maxOverlap(jobSpans(t, c, teamA)); most > limit {
		t.Fatalf("team A ran %d jobs at once; its cap is %d", most, limit)
	}
}

// metric reads an unlabelled sample from the worker's /metrics.
func metric(t *testing.T, w *worker, name string) float64 {
	t.Helper()
	resp, err := http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the worker's metrics", name)
	return 0
}
