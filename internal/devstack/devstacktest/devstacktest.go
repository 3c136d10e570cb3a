// Package devstacktest starts the local topology (internal/devstack) for a
// test. It imports testing, so only tests import it: the conveyor binary
// links devstack for `conveyor dev` and must not link testing.
package devstacktest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/devstack"
)

// ShortSkipMessage is what a test that needs the real stack says when it
// skips in the fast lane (go test -short).
const ShortSkipMessage = "-short (the fast lane): needs the real stack (PostgreSQL, Redis, S3 from internal/devstack); run without -short"

// SkipIfShort skips the test in the fast lane (go test -short), which starts
// no PostgreSQL, Redis or S3. Every helper that starts the stack calls it
// first; a test that starts processes of the stack by other means calls it
// itself.
func SkipIfShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip(ShortSkipMessage)
	}
}

// StartForTest starts a stack with the given number of replicas under a
// fresh folder below the repository's .run/test/ (falling back to the system
// temporary folder), registers Stop in tb.Cleanup, and fails the test with
// tb.Fatal on error. The folder is removed after a passing test and kept for
// inspection after a failing one. Under -short it skips the test
// (SkipIfShort).
func StartForTest(tb testing.TB, replicas int) *devstack.Stack {
	tb.Helper()
	return start(tb, devstack.Options{Replicas: replicas})
}

// StartWithMailForTest is StartForTest with one replica and mailpit
// (devstack.Options.Mail), for tests that read what was emailed.
func StartWithMailForTest(tb testing.TB) *devstack.Stack {
	tb.Helper()
	return start(tb, devstack.Options{Replicas: 1, Mail: true})
}

func start(tb testing.TB, opts devstack.Options) *devstack.Stack {
	tb.Helper()
	SkipIfShort(tb)
	dir, err := devstack.TestDir(tb.Name())
	if err != nil {
		tb.Fatalf("devstack: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts.Dir, opts.Log = dir, tbWriter{tb}
	st, err := devstack.Start(ctx, opts)
	if err != nil {
		tb.Fatalf("%v\n(logs kept in %s)", err, dir)
	}
	tb.Cleanup(func() {
		if err := st.Stop(); err != nil {
			tb.Errorf("%v", err)
		}
		if tb.Failed() {
			tb.Logf("devstack: kept %s for inspection", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			tb.Logf("devstack: remove %s: %v", dir, err)
		}
	})
	return st
}

// tbWriter sends progress lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
