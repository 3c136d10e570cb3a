package devstack

// This file holds what tests need from devstack that does not import
// testing (the binary links devstack for `conveyor dev`); the helpers that
// take a testing.TB are in devstacktest.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

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
