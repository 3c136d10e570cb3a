package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartForTest starts a stack with the given number of replicas under a
// fresh folder below the repository's .run/test/ (falling back to the system
// temporary folder), registers Stop in tb.Cleanup, and fails the test with
// tb.Fatal on error. The folder is removed after a passing test and kept for
// inspection after a failing one.
func StartForTest(tb testing.TB, replicas int) *Stack {
	tb.Helper()
	dir, err := testDir(tb.Name())
	if err != nil {
		tb.Fatalf("devstack: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{Dir: dir, Replicas: replicas, Log: tbWriter{tb}})
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

// TestDir makes a fresh, world-traversable folder for a test stack named
// name, below the repository's .run/test/.
func TestDir(name string) (string, error) { return testDir(name) }

// testDir makes a fresh, world-traversable folder for one test's stack.
// Short names keep Unix socket paths under the kernel's limit.
func testDir(testName string) (string, error) {
	base := ""
	if root, err := ModuleRoot(); err == nil {
		base = filepath.Join(root, ".run", "test")
		if err := os.MkdirAll(base, 0o755); err != nil {
			base = ""
		}
	}
	if base == "" {
		base = os.TempDir()
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		default:
			return '_'
		}
	}, testName)
	if len(name) > 24 {
		name = name[:24]
	}
	dir, err := os.MkdirTemp(base, name+"-")
	if err != nil && base != os.TempDir() {
		dir, err = os.MkdirTemp(os.TempDir(), name+"-")
	}
	if err != nil {
		return "", fmt.Errorf("create test folder: %w", err)
	}
	// MkdirTemp makes 0700; PostgreSQL runs as another user when we are root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("chmod test folder: %w", err)
	}
	return dir, nil
}

// tbWriter sends progress lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
