package chaos_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/chaos"
)

// Short is the 20-second form of `make chaos` that runs in the Go tests:
// fewer clients, the same faults (outages of 3 s), the same goals.
var Short = chaos.Options{Clients: 24, Duration: 20 * time.Second, Outage: 3 * time.Second, BigUploads: 1, Settle: 90 * time.Second}

// TestChaos runs the short form and asserts the goals. Skipped with -short.
func TestChaos(t *testing.T) {
	e := apptest.Start(t, apptest.Options{Replicas: 2})
	o := Short
	o.Logf = t.Logf
	rep, err := chaos.Run(context.Background(), chaos.Single{Env: e}, o)
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
