package topology

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Restart backoff: the first restart waits restartMin, each quick death
// doubles it up to restartMax; a child that ran restartReset starts over.
const (
	restartMin   = 100 * time.Millisecond
	restartMax   = 5 * time.Second
	restartReset = 30 * time.Second
	// stopGrace is how long a child gets after SIGTERM (its
	// CONVEYOR_SHUTDOWN_TIMEOUT plus room) before SIGKILL.
	stopGrace = 30 * time.Second
)

// Child is one supervised Conveyor process (`conveyor serve` or `conveyor
// worker`), restarted with backoff whenever it exits until Topology.Stop.
// Its listener address stays the same across restarts.
type Child struct {
	name    string // "api1", "worker2"
	url     string // its own listener: the API, or the worker's health and metrics
	args    []string
	env     []string
	bin     string
	logPath string
	echo    io.Writer // optional copy of the output, each line prefixed

	mu       sync.Mutex
	cur      *incarnation
	ready    chan struct{} // closed when cur answers /healthz
	restarts int
	stopping bool
	stopped  chan struct{} // closed by stop
	done     chan struct{} // closed when the supervisor loop has ended
}

// incarnation is one run of the child's process.
type incarnation struct {
	cmd    *exec.Cmd
	pid    int
	exited chan struct{} // closed after the process is reaped and the child has noted it
	err    error
}

// Name returns the child's name: "api1", "api2", "worker1", ...
func (c *Child) Name() string { return c.name }

// URL returns the child's own listener: for an API process its API (the
// ingress balances over these), for a worker its /healthz, /readyz and
// /metrics.
func (c *Child) URL() string { return c.url }

// LogPath returns the file the child's output is appended to (every
// incarnation, each after a header line).
func (c *Child) LogPath() string { return c.logPath }

// PID returns the process id of the current incarnation, or 0 while it is
// being restarted.
func (c *Child) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return 0
	}
	return c.cur.pid
}

// Restarts returns how many times the child has been restarted.
func (c *Child) Restarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

// Kill sends SIGKILL to the current process, as a crash or an OOM kill
// would, and returns once it has been reaped; the supervisor then restarts
// it (WaitReady waits for that). It returns an error if no process runs.
func (c *Child) Kill() error {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur == nil {
		return fmt.Errorf("topology: %s: no running process to kill", c.name)
	}
	if err := syscall.Kill(cur.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("topology: kill %s (pid %d): %w", c.name, cur.pid, err)
	}
	select {
	case <-cur.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("topology: %s (pid %d) not reaped 10 s after SIGKILL", c.name, cur.pid)
	}
}

// WaitReady waits until the child's current process answers 200 on
// /healthz: at once for a running, ready child; after Kill or a crash, until
// the restarted process is ready. It fails when ctx ends or the topology
// stops.
func (c *Child) WaitReady(ctx context.Context) error {
	for {
		c.mu.Lock()
		ready, stopping := c.ready, c.stopping
		c.mu.Unlock()
		if stopping {
			return fmt.Errorf("topology: %s: stopped", c.name)
		}
		select {
		case <-ready:
			// Still the same incarnation? A death between ready and now
			// replaces the channel.
			c.mu.Lock()
			same := c.ready == ready
			c.mu.Unlock()
			if same {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("topology: %s not ready: %w (log: %s)", c.name, ctx.Err(), c.logPath)
		case <-c.done:
			return fmt.Errorf("topology: %s: stopped", c.name)
		}
	}
}

// supervise runs the child until stop: start, probe until ready, wait for
// the exit, back off, start again.
func (c *Child) supervise(logf func(string, ...any)) {
	defer close(c.done)
	backoff := restartMin
	for first := true; ; first = false {
		if !first {
			c.mu.Lock()
			c.restarts++
			c.mu.Unlock()
		}
		began := time.Now()
		inc, err := c.start()
		if err != nil {
			if c.isStopping() {
				return
			}
			logf("%s: start: %v", c.name, err)
		} else {
			if !first {
				logf("%s restarted: pid %d", c.name, inc.pid)
			}
			probeDone := make(chan struct{})
			go func() { defer close(probeDone); c.probe(inc) }()
			<-inc.exited
			<-probeDone
			if c.isStopping() {
				return
			}
			logf("%s (pid %d) exited: %v; restarting in %s (log: %s)", c.name, inc.pid, inc.err, backoff, c.logPath)
		}
		if time.Since(began) > restartReset {
			backoff = restartMin
		}
		select {
		case <-time.After(backoff):
		case <-c.stopped:
			return
		}
		if c.isStopping() {
			return
		}
		backoff = min(2*backoff, restartMax)
	}
}

// start launches one incarnation.
func (c *Child) start() (*incarnation, error) {
	f, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "---- topology: starting %s at %s\n", c.name, time.Now().Format(time.RFC3339))
	cmd := exec.Command(c.bin, c.args...)
	cmd.Env = c.env
	var out io.Writer = f
	if c.echo != nil {
		out = io.MultiWriter(f, &prefixWriter{prefix: c.name + " | ", w: c.echo})
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, and killed with us should we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		f.Close()
		return nil, errors.New("stopping")
	}
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		f.Close()
		return nil, err
	}
	inc := &incarnation{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	c.cur = inc
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		c.mu.Lock()
		inc.err = err
		if c.cur == inc {
			c.cur = nil
			// Not ready until the next incarnation says so.
			select {
			case <-c.ready:
				c.ready = make(chan struct{})
			default:
			}
		}
		c.mu.Unlock()
		close(inc.exited)
	}()
	return inc, nil
}

// probe polls /healthz of inc until it answers 200 (then marks the child
// ready) or inc exits.
func (c *Child) probe(inc *incarnation) {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-inc.exited:
			return
		default:
		}
		if resp, err := client.Get(c.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.mu.Lock()
				if c.cur == inc {
					select {
					case <-c.ready:
					default:
						close(c.ready)
					}
				}
				c.mu.Unlock()
				return
			}
		}
		select {
		case <-inc.exited:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Child) isStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

// stop ends supervision, sends SIGTERM to the current process (SIGKILL to
// its process group after stopGrace) and waits until the supervisor is done.
func (c *Child) stop() error {
	c.mu.Lock()
	if !c.stopping {
		c.stopping = true
		close(c.stopped)
	}
	cur := c.cur
	c.mu.Unlock()
	var err error
	if cur != nil {
		_ = syscall.Kill(cur.pid, syscall.SIGTERM)
		select {
		case <-cur.exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-cur.pid, syscall.SIGKILL)
			<-cur.exited
			err = fmt.Errorf("topology: %s (pid %d) did not stop within %s of SIGTERM; killed", c.name, cur.pid, stopGrace)
		}
		// Nothing of its process group may outlive it.
		if syscall.Kill(-cur.pid, 0) == nil {
			_ = syscall.Kill(-cur.pid, syscall.SIGKILL)
		}
	}
	<-c.done
	return err
}

// prefixWriter writes each line it is given to w with a prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), nil // the copy is best effort; the log file has it all
		}
	}
	return len(b), nil
}

// newChild returns a child that is not started yet.
func newChild(name, url, bin string, args, env []string, logPath string, echo io.Writer) *Child {
	return &Child{name: name, url: url, bin: bin, args: args, env: env, logPath: logPath, echo: echo,
		ready: make(chan struct{}), stopped: make(chan struct{}), done: make(chan struct{})}
}
