package apptest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
)

// Shared is the one environment a package's TestMain starts (Main) for all
// of its tests. Tests reach it only through Env, which skips them in the
// fast lane (-short), so no test that needs it can forget to skip.
type Shared struct {
	env *Env
}

// Env returns the shared environment. Under -short it skips the test
// (Main started nothing); it fails the test when Main did not start one.
func (s *Shared) Env(tb testing.TB) *Env {
	tb.Helper()
	devstacktest.SkipIfShort(tb)
	if s.env == nil {
		tb.Fatal("apptest: no shared environment: the package's TestMain must run apptest.Main")
	}
	return s.env
}

// Main runs a package's tests against one shared environment: it starts
// it (named name) into shared, runs the tests, runs after (if not nil) on
// success, closes the environment, and returns the exit code — printing
// the program's logs when anything failed. Under -short (the fast lane) it
// starts nothing and runs the tests, and those that ask shared for the
// environment skip; after does not run.
func Main(m *testing.M, name string, o Options, shared *Shared, after func() int) int {
	flag.Parse()
	if testing.Short() {
		fmt.Fprintf(os.Stderr, "apptest: %s: not starting %s\n", devstacktest.ShortSkipMessage, name)
		return m.Run()
	}
	e, err := New(context.Background(), name, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the environment:", err)
		return 1
	}
	shared.env = e
	code := m.Run()
	if code == 0 && after != nil {
		code = after()
	}
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "shut down cleanly:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "conveyor logs:\n%s\n", e.Logs())
	}
	return code
}
