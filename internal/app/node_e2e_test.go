package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/devstack"
)

// TestTypeScriptClientAgainstLiveServer runs clients/ts's end-to-end test
// (node's test runner) against this server. make test builds clients/ts first.
func TestTypeScriptClientAgainstLiveServer(t *testing.T) {
	e := setup(t)
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "clients", "ts")
	if _, err := os.Stat(filepath.Join(dir, "dist", "index.js")); err != nil {
		t.Fatalf("clients/ts is not built (%v): run `make test`, which runs npm ci and npm run build first", err)
	}
	runNode(t, dir, []string{"--test", "test/e2e.test.mjs"}, map[string]string{
		"CONVEYOR_URL": e.URL, "CONVEYOR_TOKEN": e.Token(t, "ts-client", true)})
}

// TestDocsRenderOfflineInChromium loads the served /docs/ in headless
// Chromium with every host but 127.0.0.1 unresolvable, and checks that every
// operation renders and that nothing tried to leave the machine.
func TestDocsRenderOfflineInChromium(t *testing.T) {
	e := setup(t)
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tools", "npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("tools/npm is not installed (%v): run `make deps`", err)
	}
	runNode(t, dir, []string{"check-docs.mjs"}, map[string]string{"CONVEYOR_URL": e.URL})
}

func runNode(t *testing.T, dir string, args []string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	t.Logf("node %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("node %s: %v", strings.Join(args, " "), err)
	}
}
