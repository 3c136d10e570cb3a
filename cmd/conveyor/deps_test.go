package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestCode checks that the shipped binary (serve, worker and
// the dev orchestrator) links neither the testing package nor the project's
// test helper packages (apptest, devstacktest, devoidctest, ...): they belong
// to tests only (issue 18 item 8).
func TestBinaryLinksNoTestCode(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/conveyorhq/conveyor/"
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list -deps listed only %d packages: %q", len(pkgs), out)
	}
	for _, p := range pkgs {
		switch {
		case p == "testing", strings.HasPrefix(p, "testing/"):
			t.Errorf("the binary links %s", p)
		case strings.HasPrefix(p, module) && strings.HasSuffix(p, "test"):
			t.Errorf("the binary links the test helper package %s", p)
		}
	}
}
