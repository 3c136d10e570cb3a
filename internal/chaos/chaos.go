// Package chaos loads a running Conveyor through its ingress with a mixed
// workload of virtual clients (the Go SDK, with its retries) while faults
// are injected on a fixed schedule, then checks what the clients were
// promised: every accepted upload downloads with its SHA-256, every
// accepted job succeeds once, every resumed event stream missed nothing,
// no 5xx beyond those the faults explain, and every failure a client saw
// was made good by the SDK's retry. `make chaos` runs it on the full
// local topology (tools/chaos); a 20-second form runs in the Go tests.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Target is the running system: its ingress, a way to mint tokens, a
// direct connection string to the primary (for the checks after the run)
// and the faults. Each fault returns once it has happened; those with a
// Start counterpart leave the piece down until it is called.
type Target interface {
	URL() string
	Token(subject string, admin bool) (string, error)
	PrimaryURL() string

	// KillAPI SIGKILLs one API process behind the ingress and returns once
	// it was killed (its supervisor restarts it); WaitAPIs waits until
	// every API process serves again.
	KillAPI(ctx context.Context) error
	// KillWorker SIGKILLs one worker process (its supervisor restarts it).
	KillWorker(ctx context.Context) error
	StopRedis() error
	StartRedis(ctx context.Context) error
	StopReplica() error
	StartReplica(ctx context.Context) error
	StopPrimary() error
	StartPrimary(ctx context.Context) error
	StopS3() error
	StartS3(ctx context.Context) error
}

// ErrUnsupported is what a Target answers for a fault it cannot inject
// (a single in-process API cannot be SIGKILLed); the run reports it.
var ErrUnsupported = errors.New("chaos: fault not supported by this target")

// Options sizes a run.
type Options struct {
	Clients  int           // virtual clients; 0 means 200
	Duration time.Duration // of the load; 0 means 60 s
	// Outage is how long the primary and S3 each stay down; 0 means 10 s.
	Outage time.Duration
	// BigUploads bounds the 50 MiB uploads in flight at once; 0 means 4.
	BigUploads int
	// BigSize is the size of a big upload; 0 means 50 MiB.
	BigSize int64
	// Settle bounds the wait, after the load, for accepted jobs to finish
	// and streams to catch up; 0 means 2 minutes.
	Settle time.Duration
	// Logf reports progress (nil: quiet).
	Logf func(format string, args ...any)
}

func (o *Options) defaults() {
	if o.Clients <= 0 {
		o.Clients = 200
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.Outage <= 0 {
		o.Outage = 10 * time.Second
	}
	if o.BigUploads <= 0 {
		o.BigUploads = 4
	}
	if o.BigSize <= 0 {
		o.BigSize = 50 << 20
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Minute
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Run loads t for o.Duration while the fault schedule runs, lets the
// system settle, checks everything, and returns the report. An error means
// the run itself could not be carried out (set-up failed); what the run
// found is in the report (Report.Violations).
func Run(ctx context.Context, t Target, o Options) (*Report, error) {
	o.defaults()
	r := &run{t: t, o: o, rec: newRecorder(), began: time.Now()}
	r.rep = &Report{Clients: o.Clients, Duration: o.Duration}
	if err := r.installHistory(ctx); err != nil {
		return nil, fmt.Errorf("chaos: event history: %w", err)
	}
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("chaos: set-up: %w", err)
	}
	o.Logf("chaos: %d clients in %d teams for %s", o.Clients, len(r.teams), o.Duration)
	r.load(ctx)
	r.settle(ctx)
	if err := r.verify(ctx); err != nil {
		return r.rep, fmt.Errorf("chaos: checks: %w", err)
	}
	r.rep.Elapsed = time.Since(r.began)
	return r.rep, nil
}
