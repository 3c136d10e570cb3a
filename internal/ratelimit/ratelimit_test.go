package ratelimit_test

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

// slow refills once a minute, so nothing refills while a test runs.
var slow = ratelimit.Limit{Rate: 1.0 / 60, Burst: 5}

const minute = time.Minute

func TestAllow(t *testing.T) {
	t.Run("burst then refuse then retry", func(t *testing.T) {
		l := ratelimit.New(MustClient(t), prefix(t))
		// One every second: the burst's four round trips must not straddle a
		// refill, even on a loaded CI machine.
		limit := ratelimit.Limit{Rate: 1, Burst: 4}
		interval := time.Second
		began := time.Now()
		for i := range limit.Burst {
			if d := MustAllow(t, l, "k", limit); !d.Allowed {
				t.Fatalf("request %d of the burst refused: %+v", i+1, d)
			}
		}
		d := MustAllow(t, l, "k", limit)
		elapsed := time.Since(began)
		if d.Allowed {
			t.Fatalf("request past the burst allowed: %+v", d)
		}
		if d.Remaining != 0 || d.Limit != limit.Burst {
			t.Errorf("refused: Remaining=%d Limit=%d, want 0 and %d", d.Remaining, d.Limit, limit.Burst)
		}
		// The first request's refill is due one interval after it was made.
		if d.RetryAfter > interval || d.RetryAfter < interval-elapsed {
			t.Errorf("RetryAfter = %v, want within %v of %v", d.RetryAfter, elapsed, interval)
		}
		if want := 4 * interval; d.Reset > want || d.Reset < want-elapsed {
			t.Errorf("refused: Reset = %v, want within %v of %v", d.Reset, elapsed, want)
		}

		time.Sleep(d.RetryAfter)
		if d := MustAllow(t, l, "k", limit); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("after waiting RetryAfter: %+v, want allowed with 0 remaining", d)
		}
		if d := MustAllow(t, l, "k", limit); d.Allowed {
			t.Fatalf("second request after one refill allowed: %+v", d)
		}
	})

	t.Run("remaining counts down and reset grows", func(t *testing.T) {
		l := ratelimit.New(MustClient(t), prefix(t))
		began := time.Now()
		for i := 1; i <= slow.Burst; i++ {
			d := MustAllow(t, l, "k", slow)
			elapsed := time.Since(began)
			if !d.Allowed || d.Remaining != slow.Burst-i || d.Limit != slow.Burst || d.RetryAfter != 0 {
				t.Fatalf("request %d: %+v, want allowed, Remaining %d, Limit %d, RetryAfter 0", i, d, slow.Burst-i, slow.Burst)
			}
			// i requests take i intervals to refill, less the time since the first.
			if want := time.Duration(i) * minute; d.Reset > want || d.Reset < want-elapsed {
				t.Errorf("request %d: Reset = %v, want within %v of %v", i, d.Reset, elapsed, want)
			}
		}
		d := MustAllow(t, l, "k", slow)
		if d.Allowed || d.Remaining != 0 {
			t.Fatalf("past the burst: %+v", d)
		}
		if d.RetryAfter <= minute-time.Second || d.RetryAfter > minute {
			t.Errorf("RetryAfter = %v, want about %v", d.RetryAfter, minute)
		}
		if d.Reset <= 5*minute-time.Second || d.Reset > 5*minute {
			t.Errorf("Reset = %v, want about %v", d.Reset, 5*minute)
		}
	})

	t.Run("two limiters share a bucket", func(t *testing.T) {
		p := prefix(t)
		a := ratelimit.New(MustClient(t), p)
		b := ratelimit.New(MustClient(t), p)
		limiters := []*ratelimit.Limiter{a, b}
		for i := range slow.Burst {
			d := MustAllow(t, limiters[i%2], "shared", slow)
			if !d.Allowed || d.Remaining != slow.Burst-1-i {
				t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, d, slow.Burst-1-i)
			}
		}
		for name, l := range map[string]*ratelimit.Limiter{"a": a, "b": b} {
			if d := MustAllow(t, l, "shared", slow); d.Allowed {
				t.Errorf("limiter %s: request past the shared burst allowed: %+v", name, d)
			}
		}
	})

	t.Run("keys and prefixes are independent", func(t *testing.T) {
		c := MustClient(t)
		p := prefix(t)
		l := ratelimit.New(c, p)
		for range slow.Burst + 1 {
			MustAllow(t, l, "a", slow)
		}
		if d := MustAllow(t, l, "a", slow); d.Allowed {
			t.Fatalf("key a past its burst allowed: %+v", d)
		}
		if d := MustAllow(t, l, "b", slow); !d.Allowed || d.Remaining != slow.Burst-1 {
			t.Errorf("key b: %+v, want allowed with %d remaining", d, slow.Burst-1)
		}
		other := ratelimit.New(c, p+"other:")
		if d := MustAllow(t, other, "a", slow); !d.Allowed || d.Remaining != slow.Burst-1 {
			t.Errorf("key a under another prefix: %+v, want allowed with %d remaining", d, slow.Burst-1)
		}
	})

	t.Run("keys expire when full again", func(t *testing.T) {
		// redis_rate sets expiries in whole seconds: a bucket's key
		// outlives its refill by less than one.
		c := MustClient(t)
		p := prefix(t)
		l := ratelimit.New(c, p)
		ctx := context.Background()

		d := MustAllow(t, l, "long", slow)
		ttl := c.PTTL(ctx, bucket(p, "long")).Val()
		if ttl <= 0 || ttl > d.Reset+time.Second || ttl < d.Reset-time.Second {
			t.Errorf("TTL after one request = %v, want within a second of Reset (%v)", ttl, d.Reset)
		}
		for range slow.Burst {
			d = MustAllow(t, l, "long", slow)
		}
		ttl = c.PTTL(ctx, bucket(p, "long")).Val()
		if d.Allowed || ttl < d.Reset-time.Second || ttl > d.Reset+time.Second {
			t.Errorf("TTL after the burst = %v (decision %+v), want within a second of Reset", ttl, d)
		}

		fast := ratelimit.Limit{Rate: 20, Burst: 1} // full again 50ms after a request
		MustAllow(t, l, "short", fast)
		if ttl := c.PTTL(ctx, bucket(p, "short")).Val(); ttl <= 0 || ttl > time.Second {
			t.Fatalf("TTL = %v, want in (0, 1s]", ttl)
		}
		time.Sleep(1100 * time.Millisecond)
		if n := c.Exists(ctx, bucket(p, "short")).Val(); n != 0 {
			t.Errorf("key still exists a second after the bucket refilled")
		}
		if d := MustAllow(t, l, "short", fast); !d.Allowed {
			t.Errorf("after expiry: %+v, want allowed", d)
		}
	})

	t.Run("refused request changes nothing", func(t *testing.T) {
		c := MustClient(t)
		p := prefix(t)
		l := ratelimit.New(c, p)
		one := ratelimit.Limit{Rate: 1.0 / 60, Burst: 1}
		MustAllow(t, l, "k", one)
		before := c.Get(context.Background(), bucket(p, "k")).Val()
		if before == "" {
			t.Fatal("no bucket stored")
		}
		for range 10 {
			if d := MustAllow(t, l, "k", one); d.Allowed {
				t.Fatalf("allowed: %+v", d)
			}
		}
		if after := c.Get(context.Background(), bucket(p, "k")).Val(); after != before {
			t.Errorf("refusals moved the bucket: %s -> %s", before, after)
		}
	})

	t.Run("invalid limits are refused before Redis", func(t *testing.T) {
		c := MustClient(t)
		p := prefix(t)
		l := ratelimit.New(c, p)
		for _, limit := range []ratelimit.Limit{
			{Rate: 0, Burst: 1},
			{Rate: -1, Burst: 1},
			{Rate: math.NaN(), Burst: 1},
			{Rate: math.Inf(1), Burst: 1},
			{Rate: 2e6, Burst: 1},
			{Rate: 1, Burst: 0},
			{Rate: 1, Burst: -3},
			{Rate: 1e-10, Burst: 1}, // refills once in 317 years
		} {
			if _, err := l.Allow(context.Background(), "k", limit); err == nil {
				t.Errorf("Allow with %+v: no error", limit)
			}
			if limit.Validate() == nil {
				t.Errorf("Validate(%+v): no error", limit)
			}
		}
		if n := c.Exists(context.Background(), bucket(p, "k")).Val(); n != 0 {
			t.Errorf("an invalid limit created the key")
		}
	})

	t.Run("redis unreachable", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
		defer c.Close()
		d, err := ratelimit.New(c, "x:").Allow(context.Background(), "k", slow)
		if err == nil || d != (ratelimit.Decision{}) {
			t.Errorf("Allow = %+v, %v; want a zero Decision and an error", d, err)
		}
	})

	t.Run("one round trip per call", func(t *testing.T) {
		c := MustClient(t)
		var cmds commandCounter
		c.AddHook(&cmds)
		l := ratelimit.New(c, prefix(t))
		// A server without the script answers EVALSHA with NOSCRIPT; the
		// limiter then sends EVAL once.
		if err := c.ScriptFlush(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		cmds.n.Store(0)
		MustAllow(t, l, "k", slow)
		if n := cmds.n.Load(); n != 2 {
			t.Errorf("first call after SCRIPT FLUSH: %d commands, want 2 (EVALSHA, EVAL)", n)
		}
		cmds.n.Store(0)
		for range 10 {
			MustAllow(t, l, "k", slow)
		}
		if n := cmds.n.Load(); n != 10 {
			t.Errorf("10 calls sent %d commands, want 10", n)
		}
	})
}

// TestAllowConcurrent hammers one bucket from 20 goroutines, each with its
// own limiter and client, and checks that no more requests pass than the
// burst plus what refilled while the test ran.
func TestAllowConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit ratelimit.Limit
	}{
		{"no refill", ratelimit.Limit{Rate: 1.0 / 60, Burst: 10}},
		{"refill", ratelimit.Limit{Rate: 200, Burst: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const workers, calls = 20, 50
			p := prefix(t)
			limiters := make([]*ratelimit.Limiter, workers)
			for i := range limiters {
				limiters[i] = ratelimit.New(MustClient(t), p)
			}
			var (
				allowed atomic.Int64
				wg      sync.WaitGroup
				start   = make(chan struct{})
			)
			for _, l := range limiters {
				wg.Go(func() {
					<-start
					for range calls {
						d, err := l.Allow(context.Background(), "hot", tc.limit)
						if err != nil {
							t.Error(err)
							return
						}
						if d.Allowed {
							allowed.Add(1)
						}
					}
				})
			}
			began := time.Now()
			close(start)
			wg.Wait()
			elapsed := time.Since(began)

			got := int(allowed.Load())
			// Redis counts wall-clock time, which NTP may slew (by at most
			// 500 ppm) against the monotonic clock that measured elapsed.
			refilled := int(math.Floor(elapsed.Seconds() * 1.0005 * tc.limit.Rate))
			t.Logf("%d of %d allowed in %v (burst %d + up to %d refilled)", got, workers*calls, elapsed, tc.limit.Burst, refilled)
			if got > tc.limit.Burst+refilled {
				t.Errorf("%d allowed, more than burst %d + %d refilled", got, tc.limit.Burst, refilled)
			}
			if got < tc.limit.Burst {
				t.Errorf("%d allowed, fewer than the burst %d", got, tc.limit.Burst)
			}
		})
	}
}

// BenchmarkAllow measures one Allow, one EVALSHA round trip to a local
// Redis, and reports the commands sent per call.
func BenchmarkAllow(b *testing.B) {
	c := MustClient(b)
	var cmds commandCounter
	c.AddHook(&cmds)
	l := ratelimit.New(c, prefix(b))
	limit := ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}
	ctx := context.Background()
	if _, err := l.Allow(ctx, "k", limit); err != nil { // load the script
		b.Fatal(err)
	}
	cmds.n.Store(0)
	for b.Loop() {
		if _, err := l.Allow(ctx, "k", limit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cmds.n.Load())/float64(b.N), "cmds/op")
}

// BenchmarkAllowParallel is BenchmarkAllow from GOMAXPROCS goroutines on one
// bucket, the contended case.
func BenchmarkAllowParallel(b *testing.B) {
	c := MustClient(b)
	l := ratelimit.New(c, prefix(b))
	limit := ratelimit.Limit{Rate: 1e6, Burst: 1 << 30}
	ctx := context.Background()
	if _, err := l.Allow(ctx, "k", limit); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Allow(ctx, "k", limit); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
