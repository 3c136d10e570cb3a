package breaker_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/breaker"
)

// TestListenDialsNotPastOpenBreaker points a client at a hung Redis (a
// listener that accepts and never answers): once a command has opened the
// breaker, a subscription's reconnect attempts open no connection until
// the breaker lets a probe through (go-redis' Channel opened one every
// 100 ms, each then refused its first command by the breaker).
func TestListenDialsNotPastOpenBreaker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			held = append(held, conn) // never answered
		}
	}()
	defer func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, DialerRetries: 1,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	defer c.Close()
	b := breaker.New(breaker.Options{OpenFor: time.Minute})
	c.AddHook(b)
	if err := c.Get(context.Background(), "k").Err(); !errors.Is(err, breaker.ErrUnavailable) {
		t.Fatalf("first command: %v, want ErrUnavailable", err)
	}
	if !b.Open() {
		t.Fatal("the breaker is closed after a command timed out")
	}
	before := accepted.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	breaker.Listen(ctx, func(ctx context.Context) *redis.PubSub { return c.Subscribe(ctx, "ch") }, func(any) {
		t.Error("a message from a hung Redis")
	})
	if n := accepted.Load() - before; n != 0 {
		t.Errorf("%d connections to the hung Redis from a subscription while the breaker was open", n)
	}
}

// TestBreakerProbeSetsUpItsConnection: once Redis is back, the one probe
// of a half-open breaker dials and sets up its connection (HELLO), and
// closes the breaker; its connection set-up is not refused as a second
// probe.
func TestBreakerProbeSetsUpItsConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	down.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if down.Load() {
				conn.Close() // dropped: the command fails for want of Redis
				continue
			}
			go serveRESP(conn)
		}
	}()
	defer func() { ln.Close(); <-done }()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	b := breaker.New(breaker.Options{OpenFor: 100 * time.Millisecond})
	c.AddHook(b)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); !errors.Is(err, breaker.ErrUnavailable) {
		t.Fatalf("ping with Redis dropping connections: %v, want ErrUnavailable", err)
	}
	down.Store(false)
	time.Sleep(150 * time.Millisecond)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the probe with Redis back: %v", err)
	}
	if b.Open() {
		t.Error("the breaker is still open after a probe that succeeded")
	}
}

// serveRESP answers each command on conn: HELLO with an error (RESP2
// only, as an old Redis), anything else with +PONG.
func serveRESP(conn net.Conn) {
	defer conn.Close()
	rd := bufio.NewReader(conn)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
		var args []string
		for range n {
			if _, err := rd.ReadString('\n'); err != nil { // $len
				return
			}
			arg, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			args = append(args, strings.TrimSpace(arg))
		}
		reply := "+PONG\r\n"
		if len(args) > 0 && strings.EqualFold(args[0], "hello") {
			reply = "-ERR unknown command 'HELLO'\r\n"
		}
		if _, err := conn.Write([]byte(reply)); err != nil {
			return
		}
	}
}
