package app_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

// TestConsoleE2E drives the built console (gen/console, embedded in the
// binary) in Debian's chromium against the real stack: it runs the
// Playwright suite in clients/console/e2e (one file per user flow) once,
// with the stack's URL and a platform admin's token for seeding, and fails
// when any flow fails. Chromium and the console's node_modules are
// installed by make deps; their absence is a failure, not a skip.
func TestConsoleE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser against the real stack")
	}
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "clients", "console")
	chromium := "/usr/bin/chromium"
	cli := filepath.Join(dir, "node_modules", "@playwright", "test", "cli.js")
	for _, p := range []string{chromium, cli} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing (make deps installs it): %v", p, err)
		}
	}

	e := apptest.Start(t, apptest.Options{})
	runPlaywright(t, dir, []string{cli, "test"}, map[string]string{
		"CONVEYOR_URL":         e.URL,
		"CONVEYOR_ADMIN_TOKEN": e.Token(t, "console-e2e-admin", true),
		"CHROMIUM":             chromium,
		"CI":                   "1",
	})
}

// runPlaywright runs node with args in dir, streaming its output into the
// test log line by line (a browser suite runs for minutes), and fails the
// test on a non-zero exit. It is runNode's streaming sibling.
func runPlaywright(t *testing.T, dir string, args []string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	wg.Wait()
	if err != nil {
		t.Fatalf("playwright: %v", err)
	}
}
