package breaker

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

type subscriberKey struct{}

// Subscriber marks ctx as a subscription's: a Breaker's DialHook refuses
// its dials while Redis is known to be unreachable.
func Subscriber(ctx context.Context) context.Context {
	return context.WithValue(ctx, subscriberKey{}, true)
}

// Listen backoff and health check; variables for tests.
var (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second
	listenIdle     = 30 * time.Second // a ping after this long without a message
)

// Listen receives the messages of the subscription that subscribe returns
// (*redis.Subscription on every (re)subscription, *redis.Message,
// *redis.Pong) and hands each to fn, until ctx is done. Unlike go-redis'
// Channel, which retries a lost connection every 100 ms, it backs off
// (doubling up to 5 s, reset by a message) and its dials carry Subscriber,
// so a Breaker refuses them while Redis is known to be down. A connection
// that answers neither a message nor a ping for listenIdle twice over is
// dropped and subscribed again.
func Listen(ctx context.Context, subscribe func(context.Context) *redis.PubSub, fn func(any)) {
	ctx = Subscriber(ctx)
	ps := subscribe(ctx)
	defer func() { _ = ps.Close() }()
	wait := listenRetryMin
	pinged := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, listenIdle)
		if err == nil {
			wait, pinged = listenRetryMin, false
			fn(msg)
			continue
		}
		if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}
		var nerr interface{ Timeout() bool }
		if errors.As(err, &nerr) && nerr.Timeout() {
			if !pinged {
				pinged = true
				if ps.Ping(ctx) == nil {
					continue
				}
			}
			// No answer to a ping: the connection is dead though open.
			_ = ps.Close()
			ps = subscribe(ctx)
			pinged = false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, listenRetryMax)
	}
}
