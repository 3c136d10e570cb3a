package ratelimit_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

// redisAddr is the Redis server of the stack TestMain starts, shared by every
// test and benchmark; each test keeps its buckets under its own prefix.
var redisAddr string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // the fast lane: tests that need Redis skip
	}
	dir, err := devstack.TestDir("ratelimit")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var log syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, devstack.Options{Dir: dir, Replicas: 1, Log: &log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n%s(logs kept in %s)\n", err, log.String(), dir)
		return 1
	}
	redisAddr = st.RedisAddr
	code := m.Run()
	if err := st.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "devstack: kept %s for inspection\n", dir)
		return code
	}
	_ = os.RemoveAll(dir)
	return code
}

// syncBuffer collects the stack's progress lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MustClient returns a new go-redis client for the test Redis, closed when
// the test ends.
func MustClient(tb testing.TB) *redis.Client {
	tb.Helper()
	devstacktest.SkipIfShort(tb)
	if redisAddr == "" {
		tb.Skip("needs the test Redis (not started under -short)")
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("ping redis: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// prefixes counts the prefixes handed out, so that a test run again (-count)
// starts from empty buckets.
var prefixes atomic.Int64

// prefix returns a fresh key prefix for the test.
func prefix(tb testing.TB) string {
	return fmt.Sprintf("test:%s:%d:", tb.Name(), prefixes.Add(1))
}

// bucket is the Redis key of the bucket key under prefix p.
func bucket(p, key string) string { return "rate:" + p + key }

// MustAllow calls Allow and fails the test on error.
func MustAllow(tb testing.TB, l *ratelimit.Limiter, key string, limit ratelimit.Limit) ratelimit.Decision {
	tb.Helper()
	d, err := l.Allow(context.Background(), key, limit)
	if err != nil {
		tb.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

// commandCounter is a go-redis hook that counts the commands a client sends.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
