package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// scaleRows measures the scaling curve: with o.ScaleRows[i] files and as
// many jobs in one team (seeded with generate_series directly on the
// primary, then replicated), the p50 of GET team, of the first page of 100
// files and jobs, and of the page after it (through its cursor), each at
// one connection. Each figure's baseline is the same measure at the
// smallest size, so the ratio is how much it grew; the goal is that it
// stays flat (at most 2× the smallest size's).
func (r *runner) scaleRows(ctx context.Context) ([]Row, error) {
	p := r.p
	team, err := p.createTeam(ctx, "bench-scale")
	if err != nil {
		return nil, err
	}
	first := map[string]float64{}
	var rows []Row
	have := 0
	for _, n := range r.o.ScaleRows {
		t0 := time.Now()
		if err := r.seedFiles(ctx, team, have, n); err != nil {
			return rows, err
		}
		if err := r.seedJobs(ctx, team, have, n); err != nil {
			return rows, err
		}
		have = n
		r.logf("scale: %d files and %d jobs in one team (seeded in %s)", n, n, time.Since(t0).Round(time.Millisecond))
		for _, m := range []struct{ what, path string }{
			{"GET team", "/teams/" + team},
			{"files page 1", "/teams/" + team + "/files?limit=100"},
			{"files page 2", "/teams/" + team + "/files?limit=100"},
			{"jobs page 1", "/teams/" + team + "/jobs?limit=100"},
			{"jobs page 2", "/teams/" + team + "/jobs?limit=100"},
		} {
			path := m.path
			if m.what[len(m.what)-1] == '2' {
				var page struct {
					NextCursor *string `json:"next_cursor"`
				}
				if err := p.do(ctx, p.client, "GET", path, "", nil, http.StatusOK, &page); err != nil {
					return rows, err
				}
				if page.NextCursor == nil {
					return rows, fmt.Errorf("%s: no next page with %d rows", m.what, n)
				}
				path += "&cursor=" + url.QueryEscape(*page.NextCursor)
			}
			res, err := r.p50Of(ctx, path)
			if err != nil {
				return rows, fmt.Errorf("%s with %d rows: %w", m.what, n, err)
			}
			p50 := res.pct(0.5)
			row := Row{Measure: fmt.Sprintf("S. %s p50, %s rows in the team", m.what, countName(n)), Unit: "ms", Conveyor: p50}
			if base, ok := first[m.what]; ok {
				row.Baseline = base
				row.Goal = fmt.Sprintf("≤ 2× (%s rows)", countName(r.o.ScaleRows[0]))
				row.Pass = verdict(p50 <= 2*base)
			} else {
				first[m.what] = p50
				row.Baseline = -1
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// p50Of runs GET path at one connection for a while (at most 2 s or the
// load phase's length, at most 500 calls).
func (r *runner) p50Of(ctx context.Context, path string) (loadResult, error) {
	c := loadClient(1)
	defer c.CloseIdleConnections()
	get := func(ctx context.Context, _ int) error {
		var v json.RawMessage
		return r.p.do(ctx, c, "GET", path, "", nil, http.StatusOK, &v)
	}
	_ = get(ctx, 0)
	res := closedLoop(ctx, 1, min(r.o.Duration, 2*time.Second), 500, get)
	return res, res.check()
}

func countName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
