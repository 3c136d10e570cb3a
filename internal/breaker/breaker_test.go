package breaker_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/breaker"
)

// TestBreakerFailsFast points a client at a port nobody listens on: the
// first command fails (and opens the breaker), the next ones fail at once
// without dialling, one probe dials once the breaker's open time is over,
// and a hundred failures make one warning.
func TestBreakerFailsFast(t *testing.T) {
	var dials atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now: connections are refused
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	defer c.Close()
	var log bytes.Buffer
	b := breaker.New(breaker.Options{OpenFor: 300 * time.Millisecond, LogEvery: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	c.AddHook(b)
	ctx := context.Background()

	if err := c.Get(ctx, "k").Err(); !errors.Is(err, breaker.ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("first command: %v, want ErrUnavailable wrapping the refusal", err)
	}
	if !b.Open() {
		t.Fatal("the breaker is closed after a command failed for want of Redis")
	}
	triedFirst := dials.Load()
	began := time.Now()
	for range 100 {
		if err := c.Get(ctx, "k").Err(); !errors.Is(err, breaker.ErrUnavailable) {
			t.Fatalf("command with the breaker open: %v", err)
		}
		if err := c.Eval(ctx, "return 1", nil).Err(); !errors.Is(err, breaker.ErrUnavailable) {
			t.Fatalf("script with the breaker open: %v", err)
		}
	}
	if took := time.Since(began); took > 100*time.Millisecond {
		t.Errorf("200 refused commands took %v", took)
	}
	if n := dials.Load() - triedFirst; n != 0 {
		t.Errorf("%d dials while the breaker was open", n)
	}
	time.Sleep(350 * time.Millisecond)
	_ = c.Get(ctx, "k").Err() // the probe
	if n := dials.Load() - triedFirst; n != 1 {
		t.Errorf("%d dials after the open time, want one probe", n)
	}
	if !b.Open() {
		t.Error("the breaker closed after a failed probe")
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for 202 failed commands, want 1:\n%s", n, log.String())
	}
}

// TestBreakerIgnoresAnswers: errors Redis answers (a missing key) and a
// caller that gives up say nothing about Redis being reachable.
func TestBreakerIgnoresAnswers(t *testing.T) {
	for _, err := range []error{redis.Nil, context.Canceled, redis.ErrClosed} {
		if !breaker.Answered(err) {
			t.Errorf("%v counts as Redis unreachable", err)
		}
	}
	for _, err := range []error{context.DeadlineExceeded, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, errors.New("i/o timeout")} {
		if breaker.Answered(err) {
			t.Errorf("%v does not count as Redis unreachable", err)
		}
	}
}
