package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// readRows measures row 1: GET one team and GET a page of 100 files,
// through Conveyor and through the lean baseline service (a child process
// reading the same rows from the same replica through the same PgBouncer,
// verifying the same token with go-oidc), each under the same closed-loop
// load, one after the other.
func (r *runner) readRows(ctx context.Context) ([]Row, error) {
	p := r.p
	team, err := p.createTeam(ctx, "bench-read")
	if err != nil {
		return nil, err
	}
	if err := r.seedFiles(ctx, team, 0, 150); err != nil {
		return nil, err
	}
	port, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port[0])
	base, err := startChild(p.dir, "baseline-read", []string{"baseline-read",
		"-addr", addr, "-issuer", p.issuer(), "-audience", "api://conveyor", "-db", p.stack.ReplicaURLs[0]}, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = base.stop() }()
	if err := base.waitHealthy(ctx, "http://"+addr+"/healthz", time.Minute); err != nil {
		return nil, err
	}
	var rows []Row
	for _, m := range []struct{ name, path string }{
		{"GET team", "/teams/" + team},
		{"GET files page of 100", "/teams/" + team + "/files?limit=100"},
	} {
		conv, err := r.getLoad(ctx, p.url+"/api/v1"+m.path)
		if err != nil {
			return nil, fmt.Errorf("%s through Conveyor: %w", m.name, err)
		}
		lean, err := r.getLoad(ctx, "http://"+addr+m.path)
		if err != nil {
			return nil, fmt.Errorf("%s through the baseline: %w", m.name, err)
		}
		note := fmt.Sprintf("%d conns; p50 %.2f vs %.2f ms", r.o.Conns, conv.pct(0.5), lean.pct(0.5))
		rows = append(rows,
			minRatioRow("1. "+m.name+" throughput", "req/s", conv.perSec(), lean.perSec(), 0.9, note),
			maxRatioRow("1. "+m.name+" p99", "ms", conv.pct(0.99), lean.pct(0.99), 1.2, ""))
	}
	return rows, nil
}

// getLoad warms up, then runs GET url under the closed-loop load.
func (r *runner) getLoad(ctx context.Context, url string) (loadResult, error) {
	c := loadClient(r.o.Conns)
	defer c.CloseIdleConnections()
	get := func(ctx context.Context, _ int) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+r.p.token)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = drain(resp)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return err
	}
	closedLoop(ctx, r.o.Conns, r.o.Warmup, 0, get)
	res := closedLoop(ctx, r.o.Conns, r.o.Duration, 0, get)
	return res, res.check()
}

// check fails a run that had errors or no successful call.
func (r loadResult) check() error {
	if r.errs > 0 {
		return fmt.Errorf("%d of %d calls failed; first: %w", r.errs, r.errs+r.ok, r.firstErr)
	}
	if r.ok == 0 {
		return fmt.Errorf("no call succeeded")
	}
	return nil
}

// minRatioRow is a row whose goal is Conveyor ≥ min × baseline.
func minRatioRow(measure, unit string, conv, base, min float64, note string) Row {
	return Row{Measure: measure, Unit: unit, Conveyor: conv, Baseline: base, Note: note,
		Goal: fmt.Sprintf("≥ %.2g×", min), Pass: verdict(base > 0 && conv/base >= min)}
}

// maxRatioRow is a row whose goal is Conveyor ≤ max × baseline.
func maxRatioRow(measure, unit string, conv, base, max float64, note string) Row {
	return Row{Measure: measure, Unit: unit, Conveyor: conv, Baseline: base, Note: note,
		Goal: fmt.Sprintf("≤ %.2g×", max), Pass: verdict(conv > 0 && base > 0 && conv/base <= max)}
}
