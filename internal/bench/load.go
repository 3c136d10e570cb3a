package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// loadResult is what one closed-loop run measured.
type loadResult struct {
	ok, errs int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // of the successful calls, sorted
}

// perSec reports successful calls per second.
func (r loadResult) perSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// pct returns the p-quantile (0..1) of the latencies in milliseconds, or 0
// when nothing succeeded.
func (r loadResult) pct(p float64) float64 { return quantileMS(r.lat, p) }

// quantileMS is the nearest-rank p-quantile of sorted, in milliseconds.
func quantileMS(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

// closedLoop runs conns workers that each call do back to back until d has
// passed (or maxCalls calls were made in all, when maxCalls > 0), and
// measures every call. A call that fails is counted, not timed. The load
// is bounded: at most conns calls are in flight at once.
func closedLoop(ctx context.Context, conns int, d time.Duration, maxCalls int, do func(ctx context.Context, worker int) error) loadResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		res   loadResult
		wg    sync.WaitGroup
		calls = make(chan struct{}, conns)
	)
	go func() {
		defer close(calls)
		stop := time.After(d)
		for n := 0; maxCalls <= 0 || n < maxCalls; n++ {
			select {
			case calls <- struct{}{}:
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, errs := 0, 0
			var first error
			for range calls {
				t0 := time.Now()
				if err := do(ctx, w); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				ok++
			}
			mu.Lock()
			res.ok += ok
			res.errs += errs
			res.lat = append(res.lat, lat...)
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}
