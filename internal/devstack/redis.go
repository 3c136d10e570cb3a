package devstack

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartRedis starts Redis (if it is not running) and waits until it answers
// PING.
func (s *Stack) StartRedis(ctx context.Context) error {
	appendOnly := "no"
	if s.opts.Keep {
		appendOnly = "yes"
	}
	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	p := s.redis
	if p == nil || p.exited() {
		var err error
		p, err = startProc(procSpec{
			name: "redis",
			path: s.bins.redis,
			args: []string{
				"--port", strconv.Itoa(s.Ports.Redis),
				"--bind", "127.0.0.1",
				"--daemonize", "no",
				"--save", "",
				"--appendonly", appendOnly,
				"--dir", s.paths.redisDir,
				"--logfile", "",
			},
			dir:     s.Dir,
			logPath: filepath.Join(s.paths.logs, "redis.log"),
			stopSig: syscall.SIGTERM,
		})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("devstack: start redis: %w", err)
		}
		s.redis = p
	}
	s.mu.Unlock()

	began := time.Now()
	check := func(ctx context.Context) error {
		c := redis.NewClient(&redis.Options{
			Addr:         s.RedisAddr,
			DialTimeout:  time.Second,
			ReadTimeout:  time.Second,
			WriteTimeout: time.Second,
			MaxRetries:   -1,
			PoolSize:     1,
		})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	if err := waitReady(ctx, "redis", p, check); err != nil {
		return fmt.Errorf("devstack: start redis: %w", err)
	}
	s.logf("redis ready on %s (%s)", s.RedisAddr, time.Since(began).Round(time.Millisecond))
	return nil
}

// StopRedis stops Redis and waits until it is gone.
func (s *Stack) StopRedis() error {
	s.mu.Lock()
	p := s.redis
	s.mu.Unlock()
	if err := p.stop(); err != nil {
		return fmt.Errorf("devstack: stop redis: %w", err)
	}
	return nil
}
