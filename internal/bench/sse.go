package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sseRows measures row 4 and the memory per open stream: o.Subscribers
// streams of one team's events, opened through the API (each its own
// connection), then o.SSEJobs jobs created one at a time, each waited for
// until it succeeded. An event's commit time is its logged time: the
// milliseconds of its id, PostgreSQL's clock_timestamp() read as the
// committing transaction's last statement logs it (sql/queries/events.sql,
// NextTeamEventIDs), so commit → last subscriber is, per event, the last
// stream's arrival minus that (up to 1 ms more, as it is floored); the p99
// is over every event of those jobs (created, running, succeeded).
// Memory per stream is the serve child's VmRSS rise from before the
// streams opened to 1 s after, divided by their number.
func (r *runner) sseRows(ctx context.Context) ([]Row, error) {
	p := r.p
	team, file, err := r.teamWithFile(ctx, "bench-sse")
	if err != nil {
		return nil, err
	}
	before, err := readMem(p.api.pid())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &fanout{events: map[string]*eventTimes{}}
	tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	n := r.o.Subscribers
	opened := make(chan error, n)
	gate := make(chan struct{}, 32) // streams being opened at once
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gate <- struct{}{}
			err := f.subscribe(ctx, c, p.url+"/api/v1/teams/"+team+"/events", p.token, func(err error) { <-gate; opened <- err })
			if err != nil && ctx.Err() == nil {
				f.fail(err)
			}
		}()
	}
	for range n {
		if err := <-opened; err != nil {
			return nil, fmt.Errorf("open a stream: %w", err)
		}
	}
	time.Sleep(time.Second) // let the server settle before reading its memory
	after, err := readMem(p.api.pid())
	if err != nil {
		return nil, err
	}
	perStream := float64(after.RSS-before.RSS) / float64(n) / 1024

	var timed []string
	for i := range r.o.SSEJobs + 1 { // the first one warms up
		var created struct{ ID string }
		if err := p.do(ctx, p.client, "POST", "/teams/"+team+"/jobs", "application/json",
			strings.NewReader(`{"processor":"inspect","file_id":"`+file+`"}`), http.StatusAccepted, &created); err != nil {
			return nil, err
		}
		if err := r.waitJobsFinished(ctx, team, i+1, time.Minute); err != nil {
			return nil, err
		}
		if i > 0 {
			timed = append(timed, created.ID)
		}
	}
	lat, events, err := f.wait(ctx, timed, n, 30*time.Second)
	if err != nil {
		return nil, err
	}
	p99 := quantileMS(lat, 0.99)
	return []Row{
		{Measure: "4. SSE fan-out, commit → last subscriber p99", Unit: "ms", Conveyor: p99, Baseline: -1,
			Goal: "≤ 100 ms", Pass: verdict(p99 <= 100),
			Note: fmt.Sprintf("%d subscribers, %d events of %d jobs; p50 %.1f ms, max %.1f ms; commit = the event's logged time (its id's ms)",
				n, events, len(timed), quantileMS(lat, 0.5), quantileMS(lat, 1))},
		{Measure: "S. memory per open SSE stream", Unit: "KiB", Conveyor: perStream, Baseline: -1, ZeroOK: true,
			Note: "serve child's VmRSS before and 1 s after the streams opened, / streams"},
	}, nil
}

// eventTimes is, for one event id, how many streams have it and when the
// last one did.
type eventTimes struct {
	job    string
	logged time.Time
	n      int
	last   time.Time
}

type fanout struct {
	mu      sync.Mutex
	events  map[string]*eventTimes
	failure error
}

func (f *fanout) fail(err error) {
	f.mu.Lock()
	if f.failure == nil {
		f.failure = err
	}
	f.mu.Unlock()
}

// subscribe reads one stream until ctx ends, calling opened once it has
// the stream's opening comment (the server has subscribed by then).
func (f *fanout) subscribe(ctx context.Context, c *http.Client, url, token string, opened func(error)) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		opened(err)
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		opened(err)
		return err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 16<<10), 1<<20)
	isOpen := false
	id := ""
	for sc.Scan() {
		line := sc.Text()
		if !isOpen && line == ": stream open" {
			isOpen = true
			opened(nil)
			continue
		}
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			id = v
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		now := time.Now()
		var ev struct {
			Job *struct {
				ID string `json:"id"`
			} `json:"job"`
		}
		if json.Unmarshal([]byte(data), &ev) == nil && ev.Job != nil {
			f.record(id, ev.Job.ID, now)
		}
	}
	if !isOpen {
		opened(fmt.Errorf("stream ended before it opened: %v", sc.Err()))
	}
	return sc.Err()
}

func (f *fanout) record(id, job string, at time.Time) {
	ms, _, _ := strings.Cut(id, "-")
	logged, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.events[id]
	if e == nil {
		e = &eventTimes{job: job, logged: time.UnixMilli(logged)}
		f.events[id] = e
	}
	e.n++
	e.last = at
}

// wait waits until every event of jobs has reached n streams and returns,
// per event, last arrival − logged time (sorted), and how many events.
func (f *fanout) wait(ctx context.Context, jobs []string, n int, limit time.Duration) ([]time.Duration, int, error) {
	want := map[string]bool{}
	for _, j := range jobs {
		want[j] = true
	}
	deadline := time.Now().Add(limit)
	for {
		f.mu.Lock()
		var lat []time.Duration
		short := 0
		for _, e := range f.events {
			if !want[e.job] {
				continue
			}
			if e.n < n {
				short++
			}
			lat = append(lat, e.last.Sub(e.logged))
		}
		failure := f.failure
		f.mu.Unlock()
		if failure != nil {
			return nil, 0, failure
		}
		if short == 0 && len(lat) >= len(jobs) {
			slices.Sort(lat)
			return lat, len(lat), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%d of %d events had not reached all %d streams after %s", short, len(lat), n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
