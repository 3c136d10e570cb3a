package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
)

// TestRedisDownFailsFast takes Redis away under a running API (a topology
// of its own): stopped (connections refused), then hung (a listener on
// its port that accepts and never answers, so every command waits for its
// timeout). Each time the first request finds Redis gone; the next ones
// do not wait on Redis again (the rate limit and the read-your-writes
// mark both skip it while the breaker is open, and no connection is even
// tried), they all succeed (the limiter fails open, reads go to the
// primary), the warnings stay a handful however many requests there are,
// and once Redis is back the limiter counts again.
func TestRedisDownFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own topology")
	}
	e := apptest.Start(t, apptest.Options{NoWorker: true})
	tok := e.Token(t, "redis-breaker", true)
	team, err := sdk(t, e, tok).CreateTeam(context.Background(), "Breaker")
	if err != nil {
		t.Fatal(err)
	}
	c := &breakerCase{e: e, client: e.Client(t), tok: tok, files: "/teams/" + team.Id.String() + "/files"}
	c.waitLimiter(t)
	t.Run("stopped", func(t *testing.T) {
		if err := e.Stack.StopRedis(); err != nil {
			t.Fatal(err)
		}
		defer c.restart(t)
		c.check(t, nil)
	})
	t.Run("hung", func(t *testing.T) {
		if err := e.Stack.StopRedis(); err != nil {
			t.Fatal(err)
		}
		defer c.restart(t)
		ln, err := net.Listen("tcp", e.Stack.RedisAddr)
		if err != nil {
			t.Fatal(err)
		}
		var accepted atomic.Int64
		var conns []net.Conn
		var mu sync.Mutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				mu.Lock()
				conns = append(conns, conn) // held open, never answered
				mu.Unlock()
			}
		}()
		defer func() {
			_ = ln.Close()
			<-done
			mu.Lock()
			for _, conn := range conns {
				_ = conn.Close()
			}
			mu.Unlock()
		}()
		c.check(t, &accepted)
	})
}

type breakerCase struct {
	e      *apptest.Env
	client *http.Client
	tok    string
	files  string
}

func (c *breakerCase) do(t *testing.T, method, path, body string) (time.Duration, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(method, c.e.URL+"/api/v1"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	began := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return time.Since(began), resp
}

// check runs requests with Redis gone. With accepted (the hung case), it
// also checks that they try no connection to Redis.
func (c *breakerCase) check(t *testing.T, accepted *atomic.Int64) {
	logsBefore := len(c.e.Logs())
	first, resp := c.do(t, "GET", c.files, "")
	if resp.StatusCode != 200 {
		t.Fatalf("first read with Redis gone: %d", resp.StatusCode)
	}
	var tried int64
	if accepted != nil {
		tried = accepted.Load()
	}
	// Reads (rate limit + mark lookup) and writes (rate limit + mark
	// update), as fast as they come: all within the breaker's open state.
	const n = 40
	var worst, total time.Duration
	for i := range n {
		method, path, body := "GET", c.files, ""
		if i%4 == 3 {
			method, path, body = "POST", "/teams", `{"name":"breaker write"}`
		}
		d, resp := c.do(t, method, path, body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s with Redis gone: %d", method, path, resp.StatusCode)
		}
		if resp.Header.Get("RateLimit-Limit") != "" {
			t.Errorf("%s %s: rate limit headers with Redis gone", method, path)
		}
		total += d
		worst = max(worst, d)
	}
	t.Logf("Redis gone: first request %v; next %d: mean %v, worst %v", first, n, total/n, worst)
	if mean := total / n; mean > 50*time.Millisecond {
		t.Errorf("requests after the first take %v on average with Redis gone: they still wait on Redis", mean)
	}
	if accepted != nil {
		if more := accepted.Load() - tried; more > 1 {
			t.Errorf("%d connections to the hung Redis after the first request, want at most one probe", more)
		}
	}
	var warnings []string
	for _, line := range strings.Split(c.e.Logs()[logsBefore:], "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			warnings = append(warnings, line)
		}
	}
	t.Logf("%d warnings or errors logged", len(warnings))
	if len(warnings) > 4 {
		t.Errorf("%d warnings for %d requests with Redis gone, want a handful:\n%s", len(warnings), n+1, strings.Join(warnings, "\n"))
	}
}

// restart brings Redis back and waits for the limiter to count again.
func (c *breakerCase) restart(t *testing.T) {
	if err := c.e.Stack.StartRedis(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.waitLimiter(t)
}

func (c *breakerCase) waitLimiter(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, resp := c.do(t, "GET", c.files, "")
		if resp.StatusCode == 200 && resp.Header.Get("RateLimit-Limit") != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the limiter does not count with Redis up: %d %v", resp.StatusCode, resp.Header)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
