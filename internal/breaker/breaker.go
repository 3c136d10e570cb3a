// Package breaker keeps an unreachable Redis from slowing down every
// request that touches it. A go-redis hook runs each command through a
// circuit breaker (github.com/sony/gobreaker/v2) shared by everything that
// uses the client: once commands fail for want of Redis, the breaker opens
// and commands fail at once, without a connection attempt, for a short
// while; then one command probes, and its outcome closes the breaker or
// opens it again. The outage is logged a bounded number of times — when it
// starts, at most once per interval while it lasts (with how many commands
// failed or were not tried), and when it ends — and every error it returns
// wraps ErrUnavailable, so callers need not log each one again.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// ErrUnavailable is wrapped by every error the breaker accounts for: a
// command that failed for want of Redis, or one it did not try.
var ErrUnavailable = errors.New("redis unavailable")

// Options configures a Breaker; zero fields take the defaults.
type Options struct {
	// OpenFor is how long commands fail at once after Redis was found
	// unreachable, before one probes again (default 1 s).
	OpenFor time.Duration
	// Trips is how many commands in a row must fail to open the breaker
	// (default 1: a failed command has had go-redis' own retry).
	Trips uint32
	// LogEvery is the least time between two warnings while an outage
	// lasts (default 10 s).
	LogEvery time.Duration
	Logger   *slog.Logger
	// Name names the dependency in log lines (default "redis").
	Name string
}

// Breaker is a go-redis hook (redis.Hook); add it to a client with
// AddHook. It is safe for concurrent use.
type Breaker struct {
	cb  *gobreaker.CircuitBreaker[struct{}]
	o   Options
	now func() time.Time

	mu       sync.Mutex
	down     time.Time // when the outage began; zero while Redis answers
	lastLog  time.Time
	failed   int // commands that failed since the last log line
	refused  int // commands not tried since the last log line
	lastErr  error
	totalOut int // commands failed or not tried in this outage
}

// New returns a Breaker.
func New(o Options) *Breaker {
	if o.OpenFor <= 0 {
		o.OpenFor = time.Second
	}
	if o.Trips == 0 {
		o.Trips = 1
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "redis"
	}
	b := &Breaker{o: o, now: time.Now}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        o.Name,
		MaxRequests: 1, // one probe when half-open
		Timeout:     o.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Trips },
		IsExcluded:  answered,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateClosed {
				b.recovered()
			}
		},
	})
	return b
}

// answered reports whether err says nothing about whether Redis can be
// reached: Redis answered (a missing key, a script error, NOSCRIPT), the
// caller gave up, or the client was closed.
func answered(err error) bool {
	var re redis.Error
	return errors.Is(err, redis.Nil) || errors.As(err, &re) || errors.Is(err, context.Canceled) ||
		errors.Is(err, redis.ErrClosed)
}

// Open reports whether commands are being refused without a try.
func (b *Breaker) Open() bool { return b.cb.State() != gobreaker.StateClosed }

// DialHook implements redis.Hook. A command's dial passes: the command
// itself runs through the breaker. A subscriber's (its context marked by
// Subscriber, as Listen does) is refused while the breaker is open or
// half-open with a probe under way: the subscription would otherwise
// open a connection per reconnect attempt to a Redis known to be down
// (a hung one accepts it, and its first command is then refused).
func (b *Breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if ctx.Value(subscriberKey{}) != nil {
			switch b.cb.State() {
			case gobreaker.StateOpen:
				b.note(false, nil)
				return nil, fmt.Errorf("%w: subscription not tried, %s was unreachable moments ago", ErrUnavailable, b.o.Name)
			case gobreaker.StateHalfOpen:
				if b.cb.Counts().Requests > 0 {
					b.note(false, nil)
					return nil, fmt.Errorf("%w: subscription not tried, %s is being probed", ErrUnavailable, b.o.Name)
				}
			}
		}
		return next(ctx, network, addr)
	}
}

// ProcessHook implements redis.Hook: the command runs through the breaker.
func (b *Breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if connInit(cmd) {
			return next(ctx, cmd)
		}
		err := b.run(func() error { return next(ctx, cmd) })
		if errors.Is(err, ErrUnavailable) {
			cmd.SetErr(err)
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook: a pipeline counts as one
// command.
func (b *Breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && all(cmds, connInit) {
			return next(ctx, cmds)
		}
		err := b.run(func() error { return next(ctx, cmds) })
		if errors.Is(err, ErrUnavailable) {
			for _, c := range cmds {
				if c.Err() == nil || !answered(c.Err()) {
					c.SetErr(err)
				}
			}
		}
		return err
	}
}

// connInit reports whether cmd is one go-redis sends on a new connection
// before the command that needed it (HELLO, AUTH, SELECT, ...). It passes
// the breaker: that command's dial runs within its own turn through the
// breaker, which accounts for the outcome; through the breaker again, the
// probe of a half-open breaker found its own connection set-up refused
// (the one probe under way) and could never close it.
func connInit(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "readonly", "client":
		return true
	}
	return false
}

func all(cmds []redis.Cmder, f func(redis.Cmder) bool) bool {
	for _, c := range cmds {
		if !f(c) {
			return false
		}
	}
	return true
}

// run runs fn unless the breaker is open, and accounts for the outcome.
func (b *Breaker) run(fn func() error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, fn() })
	switch {
	case err == nil || answered(err):
		return err
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		b.note(false, nil)
		return fmt.Errorf("%w: not tried, %s was unreachable moments ago", ErrUnavailable, b.o.Name)
	default:
		b.note(true, err)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// note counts a failed (tried) or refused command and logs, at most once
// per LogEvery, that the outage goes on.
func (b *Breaker) note(tried bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if tried {
		b.failed++
		b.lastErr = err
	} else {
		b.refused++
	}
	b.totalOut++
	if b.down.IsZero() {
		b.down = now
	}
	if !b.lastLog.IsZero() && now.Sub(b.lastLog) < b.o.LogEvery {
		return
	}
	msg := b.o.Name + " unreachable: commands fail at once for a while, then one probes"
	if now.Sub(b.down) > 0 {
		msg = b.o.Name + " still unreachable"
	}
	b.o.Logger.Warn(msg, "failed", b.failed, "not_tried", b.refused, "down_for", now.Sub(b.down).Round(time.Millisecond),
		"open_for", b.o.OpenFor, "err", b.lastErr)
	b.lastLog, b.failed, b.refused = now, 0, 0
}

// recovered logs the end of an outage.
func (b *Breaker) recovered() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down.IsZero() {
		return
	}
	b.o.Logger.Info(b.o.Name+" reachable again", "down_for", b.now().Sub(b.down).Round(time.Millisecond),
		"failed_or_not_tried", b.totalOut)
	b.down, b.lastLog, b.failed, b.refused, b.totalOut, b.lastErr = time.Time{}, time.Time{}, 0, 0, 0, nil
}
