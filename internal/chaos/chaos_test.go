package chaos_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/chaos"
)

// TestChaos is the 20-second form of `make chaos`: fewer clients, the
// same faults (outages of 3 s), the same goals.
func TestChaos(t *testing.T) {
	e := apptest.Start(t, apptest.Options{Replicas: 2})
	rep, err := chaos.Run(context.Background(), single{e: e, t: t}, chaos.Options{
		Clients: 24, Duration: 20 * time.Second, Outage: 3 * time.Second, BigUploads: 1, Settle: 90 * time.Second, Logf: t.Logf,
	})
	if rep != nil {
		rep.Print(os.Stdout)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations() {
		t.Error(v)
	}
}

// single adapts one in-process API and worker (apptest) to chaos.Target:
// their processes cannot be SIGKILLed.
type single struct {
	e *apptest.Env
	t *testing.T
}

func (s single) URL() string        { return s.e.URL }
func (s single) PrimaryURL() string { return s.e.Stack.DirectPrimaryURL }
func (s single) Token(subject string, admin bool) (string, error) {
	return s.e.Token(s.t, subject, admin), nil
}
func (s single) KillAPI(context.Context) error          { return chaos.ErrUnsupported }
func (s single) KillWorker(context.Context) error       { return chaos.ErrUnsupported }
func (s single) StopRedis() error                       { return s.e.Stack.StopRedis() }
func (s single) StartRedis(ctx context.Context) error   { return s.e.Stack.StartRedis(ctx) }
func (s single) StopReplica() error                     { return s.e.Stack.StopReplica(1) }
func (s single) StartReplica(ctx context.Context) error { return s.e.Stack.StartReplica(ctx, 1) }
func (s single) StopPrimary() error                     { return s.e.Stack.StopPrimary() }
func (s single) StartPrimary(ctx context.Context) error { return s.e.Stack.StartPrimary(ctx) }
func (s single) StopS3() error                          { return s.e.Stack.StopS3() }
func (s single) StartS3(ctx context.Context) error      { return s.e.Stack.StartS3(ctx) }
