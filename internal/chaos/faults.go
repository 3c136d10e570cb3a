package chaos

import (
	"context"
	"errors"
	"time"
)

// A window is when a fault was in force: a kill is a moment (start ==
// end), an outage lasts from the stop until the piece answers again.
type window struct {
	kind       string
	start, end time.Time
	err        string
}

// Fault kinds.
const (
	faultKillAPI    = "SIGKILL an API process"
	faultKillWorker = "SIGKILL a worker"
	faultRedis      = "restart Redis"
	faultReplica    = "kill a replica"
	faultPrimary    = "stop the primary"
	faultS3         = "stop S3"
)

// schedule injects the faults at fixed points of the load, spaced across
// it: kills early, then Redis, a replica (back near the end), and the two
// outages of o.Outage (at most a fifth of the run each). It returns once
// every fault is undone, even when the load ended first.
func (r *run) schedule(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	d := r.o.Duration
	out := min(r.o.Outage, d/5)
	at := func(f float64) { r.sleepUntil(time.Duration(f * float64(d))) }
	moment := func(kind string, fn func(context.Context) error) {
		w := window{kind: kind, start: time.Now()}
		err := fn(ctx)
		w.end = time.Now()
		if errors.Is(err, ErrUnsupported) {
			w.err = "not injected: the target cannot"
		} else if err != nil {
			w.err = err.Error()
		}
		r.o.Logf("chaos: %s (%s) %s", kind, w.end.Sub(w.start).Round(time.Millisecond), w.err)
		r.mu.Lock()
		r.faults = append(r.faults, w)
		r.mu.Unlock()
	}
	outage := func(kind string, stop func() error, hold time.Duration, start func(context.Context) error) {
		moment(kind, func(ctx context.Context) error {
			if err := stop(); err != nil {
				return err
			}
			time.Sleep(hold)
			return start(ctx)
		})
	}
	at(0.08)
	moment(faultKillAPI, r.t.KillAPI)
	at(0.18)
	moment(faultKillWorker, r.t.KillWorker)
	at(0.27)
	outage(faultRedis, r.t.StopRedis, 0, r.t.StartRedis)
	at(0.36)
	replicaDown := time.Now()
	if err := r.t.StopReplica(); err != nil {
		r.mu.Lock()
		r.faults = append(r.faults, window{kind: faultReplica, start: replicaDown, end: time.Now(), err: err.Error()})
		r.mu.Unlock()
	}
	at(0.45)
	outage(faultPrimary, r.t.StopPrimary, out, r.t.StartPrimary)
	at(0.70)
	outage(faultS3, r.t.StopS3, out, r.t.StartS3)
	at(0.92)
	err := r.t.StartReplica(ctx)
	w := window{kind: faultReplica, start: replicaDown, end: time.Now()}
	if err != nil {
		w.err = err.Error()
	}
	r.o.Logf("chaos: %s, back after %s %s", faultReplica, w.end.Sub(w.start).Round(time.Millisecond), w.err)
	r.mu.Lock()
	r.faults = append(r.faults, w)
	r.mu.Unlock()
}

func (r *run) sleepUntil(offset time.Duration) {
	if d := time.Until(r.began.Add(offset)); d > 0 {
		time.Sleep(d)
	}
}
