package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout bounds how long a process gets to exit after its stop signal
// before it (and its process group) is sent SIGKILL.
const stopTimeout = 10 * time.Second

// runAs is the identity child processes run as. A nil credential means "the
// current user" (no switch).
type runAs struct {
	uid, gid int
	home     string
	cred     *syscall.Credential
}

// procSpec describes a long-running child process.
type procSpec struct {
	name    string // for messages: "postgres primary", "redis", ...
	path    string
	args    []string
	dir     string
	logPath string
	as      *runAs         // nil: current user
	stopSig syscall.Signal // signal that asks for a clean, quick shutdown
}

// proc is one started child process that we own by pid.
type proc struct {
	spec    procSpec
	cmd     *exec.Cmd
	pid     int
	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// childEnv is the complete environment of a child. It is built from scratch
// rather than inherited so nothing in the caller's environment (PG*, VGW_*,
// AWS_* ...) changes a service's configuration behind our back.
func childEnv(as *runAs) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if as != nil && as.home != "" {
		env = append(env, "HOME="+as.home)
	}
	return env
}

func sysProcAttr(as *runAs) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if as != nil && as.cred != nil {
		c := *as.cred
		attr.Credential = &c
	}
	return attr
}

// startProc starts a long-running process with its output appended to
// spec.logPath.
func startProc(spec procSpec) (*proc, error) {
	logf, err := os.OpenFile(spec.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log for %s: %w", spec.name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "---- devstack: starting %s at %s: %s\n", spec.name, time.Now().Format(time.RFC3339), commandLine(spec))

	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = childEnv(spec.as)
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr(spec.as)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	p := &proc{spec: spec, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited (and been reaped).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitErr describes how the process ended, for error messages.
func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return errors.New("exited with status 0")
	}
	return p.waitErr
}

// stop asks the process to exit with its stop signal, waits up to
// stopTimeout, then SIGKILLs its process group. It returns once the process
// has been reaped. Leftover members of its process group are killed too.
func (p *proc) stop() error {
	if p == nil {
		return nil
	}
	if !p.exited() {
		sig := p.spec.stopSig
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal %s (pid %d): %w", p.spec.name, p.pid, err)
		}
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.spec.name, p.pid)
			}
		}
	}
	// The leader is gone; make sure nothing else in its group survives.
	if err := syscall.Kill(-p.pid, 0); err == nil {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	return nil
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxBytes = 4096
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - maxBytes
	if off < 0 {
		off = 0
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // first line is probably partial
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

// withLog appends the tail of a log file to an error.
func withLog(err error, path string) error {
	tail := logTail(path, 25)
	if tail == "" {
		return err
	}
	return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, path, tail)
}

// runTool runs a short-lived command (initdb, pg_basebackup) to completion,
// appending its output to logPath. On failure the error carries the log tail.
func runTool(ctx context.Context, spec procSpec, timeout time.Duration) error {
	p, err := startProc(spec)
	if err != nil {
		return err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
		return withLog(fmt.Errorf("%s timed out after %s", spec.name, timeout), spec.logPath)
	case <-ctx.Done():
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s: %w", spec.name, ctx.Err())
	}
	p.mu.Lock()
	werr := p.waitErr
	p.mu.Unlock()
	if werr != nil {
		return withLog(fmt.Errorf("%s: %w", spec.name, werr), spec.logPath)
	}
	return nil
}

// commandLine renders a command for logs, quoting empty or spaced words.
func commandLine(spec procSpec) string {
	words := []string{spec.path}
	for _, a := range spec.args {
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			a = strconv.Quote(a)
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
