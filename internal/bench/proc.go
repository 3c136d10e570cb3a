package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ChildArg is the first argument that makes the bench program (or the
// test binary, see bench_test.go) run as one of its own child processes:
// `<self> ChildArg conveyor serve`, `<self> ChildArg baseline-read ...`.
const ChildArg = "bench-child"

// child is a process the benchmark started (itself, re-executed), owned by
// its pid and stopped by it.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

// startChild re-executes the running program as `self ChildArg args...`
// with env (plus the parent's environment without any CONVEYOR_* setting),
// its output going to a log file under dir.
func startChild(dir, name string, args []string, env map[string]string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{ChildArg}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONVEYOR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's pid and waits (SIGKILL after 30 s).
func (c *child) stop() error {
	if c == nil || c.exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s (pid %d) did not stop within 30 s of SIGTERM; killed", c.name, c.pid())
	}
	var ee *exec.ExitError
	if c.err != nil && !errors.As(c.err, &ee) {
		return c.err
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w (log: %s)", c.name, c.err, c.log)
	}
	return nil
}

// waitHealthy polls url until it answers 200, the child exits, or limit
// passes.
func (c *child) waitHealthy(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c.exited() {
			return fmt.Errorf("%s exited during start-up: %v (log: %s)\n%s", c.name, c.err, c.log, tail(c.log))
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: %s not OK within %s (log: %s)\n%s", c.name, url, limit, c.log, tail(c.log))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
