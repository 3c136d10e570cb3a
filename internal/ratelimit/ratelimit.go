// Package ratelimit keeps rate limits in Redis, so a limit holds across every
// API process that shares the Redis server.
//
// The algorithm is GCRA (the generic cell rate algorithm), which behaves like
// a token bucket of Burst tokens refilled at Rate per second but stores a
// single number per bucket: its theoretical arrival time. Each decision is
// one Lua script run atomically in Redis against Redis's own clock, so
// processes with skewed clocks still agree. The script is
// github.com/go-redis/redis_rate's; this package keeps Conveyor's terms
// (a rate per second that may be fractional, validated limits, decisions
// with the RateLimit-* numbers) around it.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// maxRate is the fastest refill Allow supports: the script counts time in
// whole microseconds, so one request per microsecond.
const maxRate = 1e6

// maxSpan bounds Burst/Rate (the time an empty bucket takes to fill), in
// microseconds, so the script's arithmetic (seconds since 2017 in Lua's
// doubles) keeps microseconds.
const maxSpan = 1 << 50 // about 35 years

// Limit is a budget: Burst requests at once, refilled at Rate per second.
type Limit struct {
	// Rate is the refill rate in requests per second.
	Rate float64
	// Burst is the bucket size: how many requests may arrive at once.
	Burst int
}

// Validate reports why l cannot be used, or nil: Rate must be a positive
// finite number of at most one million per second, Burst at least 1, and
// Burst/Rate (the time to refill an empty bucket) under about 35 years.
func (l Limit) Validate() error {
	if err := l.validate(); err != nil {
		return fmt.Errorf("ratelimit: invalid limit: %w", err)
	}
	return nil
}

func (l Limit) validate() error {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate <= 0:
		return fmt.Errorf("rate must be a positive number (got %v)", l.Rate)
	case l.Rate > maxRate:
		return fmt.Errorf("rate must be at most %g per second (got %v)", float64(maxRate), l.Rate)
	case l.Burst < 1:
		return fmt.Errorf("burst must be at least 1 (got %d)", l.Burst)
	case float64(l.Burst)*float64(l.interval()) > maxSpan:
		return fmt.Errorf("burst %d at %v per second takes too long to refill", l.Burst, l.Rate)
	}
	return nil
}

// interval is the time between two refills in whole microseconds (1/Rate,
// rounded to the nearest microsecond, at least 1).
func (l Limit) interval() int64 {
	return max(int64(math.Round(1e6/l.Rate)), 1)
}

// period is interval as a duration.
func (l Limit) period() time.Duration { return time.Duration(l.interval()) * time.Microsecond }

// Decision is the outcome of one request.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit is the burst size (for RateLimit-Limit).
	Limit int
	// Remaining is the number of requests that would be allowed right now,
	// after this one (RateLimit-Remaining).
	Remaining int
	// Reset is the time until the bucket is full again (RateLimit-Reset,
	// rounded up to whole seconds by the caller).
	Reset time.Duration
	// RetryAfter is, when the request is not allowed, the time until one
	// request would be; 0 when it is allowed.
	RetryAfter time.Duration
}

// Limiter takes requests from buckets kept in Redis. It is safe for
// concurrent use; several Limiters (in one process or many) that use the
// same Redis server and prefix share their buckets.
type Limiter struct {
	gcra   *redis_rate.Limiter
	prefix string
}

// New returns a Limiter that keeps each bucket in the Redis key
// "rate:"+prefix+key (redis_rate adds "rate:"), for example with the
// prefix "conveyor:rl:".
func New(client *redis.Client, prefix string) *Limiter {
	return &Limiter{gcra: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow takes one request from the bucket named key under limit, atomically,
// in one round trip to Redis (EVALSHA, falling back to EVAL the first time
// the server sees the script). A bucket that does not exist is full. A
// refused request changes nothing; a bucket's key expires within a second
// of the bucket being full again.
//
// Allow returns an error, and a zero Decision, when limit is invalid (see
// Limit.Validate) or Redis cannot be reached or fails; the caller decides
// whether to let the request through then.
//
// Changing the limit of an existing bucket is allowed: the bucket's state
// carries over, measured in the new limit's terms.
func (l *Limiter) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	if err := limit.Validate(); err != nil {
		return Decision{}, err
	}
	// One request per interval: redis_rate counts whole requests per
	// period, and a fractional rate (1/60 per second) is one per minute.
	res, err := l.gcra.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: 1, Period: limit.period(), Burst: limit.Burst})
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: allow %q: %w", key, err)
	}
	d := Decision{Allowed: res.Allowed > 0, Limit: limit.Burst, Remaining: max(res.Remaining, 0), Reset: max(res.ResetAfter, 0)}
	if !d.Allowed {
		d.RetryAfter = max(res.RetryAfter, 0)
	}
	return d, nil
}
