package conveyor

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how requests are retried. The zero value retries 3
// times, waiting from 200 ms up to 10 s (or what Retry-After asks, capped
// at 60 s).
type RetryPolicy struct {
	MaxRetries int
	MinWait    time.Duration
	MaxWait    time.Duration
}

// WithRetry sets the retry policy; WithRetry(RetryPolicy{MaxRetries: -1})
// turns retries off.
func WithRetry(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// retrying is an HttpRequestDoer that retries what is safe to retry:
// 429 and 503 answers (after Retry-After), 409 with Retry-After (a
// request with the same Idempotency-Key in progress), and network errors, for
// requests that are safe (GET, HEAD) or carry an Idempotency-Key, and
// whose body can be sent again.
type retrying struct {
	next   HttpRequestDoer
	policy RetryPolicy
}

// withDefaults fills in the zero fields; MaxRetries < 0 stays (no retry).
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = 3
	}
	if p.MinWait <= 0 {
		p.MinWait = 200 * time.Millisecond
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 10 * time.Second
	}
	return p
}

func (r retrying) Do(req *http.Request) (*http.Response, error) {
	p := r.policy.withDefaults()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	safe := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Header.Get("Idempotency-Key") != ""
	for attempt := 0; ; attempt++ {
		resp, err := r.next.Do(req)
		last := attempt >= p.MaxRetries || !replayable
		var wait time.Duration
		switch {
		case err != nil:
			if last || !safe || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return resp, err
			}
			wait = backoff(attempt, p)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable,
			// The same Idempotency-Key still in progress (its first attempt
			// died with the server, say): the server says when to come back.
			resp.StatusCode == http.StatusConflict && safe && resp.Header.Get("Retry-After") != "":
			if last {
				return resp, nil
			}
			wait = retryAfter(resp, attempt, p)
			resp.Body.Close()
		default:
			return resp, nil
		}
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, gerr
			}
			req.Body = body
		}
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

// backoff is exponential with full jitter.
func backoff(attempt int, p RetryPolicy) time.Duration {
	d := p.MinWait << min(attempt, 16)
	if d > p.MaxWait || d <= 0 {
		d = p.MaxWait
	}
	return p.MinWait/2 + time.Duration(rand.Int64N(int64(d)))
}

// retryAfter is what the server asked for (seconds), capped at a minute,
// or the backoff.
func retryAfter(resp *http.Response, attempt int, p RetryPolicy) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, time.Minute)
	}
	return backoff(attempt, p)
}
