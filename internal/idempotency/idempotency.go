// Package idempotency holds the rules of Idempotency-Key (Stripe's
// semantics): the first response to a creating request is kept for a while
// per principal and key; a retry of the same request gets it again, the
// same key on a different request is refused, and a retry while the first
// still runs is told so.
package idempotency

import (
	"bytes"
	"context"
	"sync/atomic"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// TTL is how long a key's first response is kept.
const TTL = 24 * time.Hour

// Lease is how long a request may hold its key in flight; a key held longer
// belongs to a request that died, and the next retry takes it over.
const Lease = 5 * time.Minute

// Response is a kept response.
type Response struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// Record is a key's state.
type Record struct {
	Method, Path string
	Fingerprint  []byte
	Response     *Response // nil while the first request runs
}

// Store keeps records.
type Store interface {
	// ClaimIdempotencyKey takes the key for a new request (true), or
	// returns the record of the request that holds it (false).
	ClaimIdempotencyKey(ctx context.Context, principal, key, method, path string, ttl, lease time.Duration) (bool, *Record, error)
	CompleteIdempotencyKey(ctx context.Context, principal, key string, fingerprint []byte, r Response) error
	ReleaseIdempotencyKey(ctx context.Context, principal, key string) error
}

// Service applies the rules.
type Service struct {
	Store Store
	// Background bounds the releases retried after a failure (see
	// Finish): they stop when it ends. Nil: they run until done.
	Background context.Context

	// releaseWait is the first wait before a release is tried again (0:
	// 250 ms); tests shorten it.
	releaseWait time.Duration
	retrying    atomic.Int64
}

// maxRetrying bounds the keys whose release is retried at once; beyond
// it a key waits for its lease to run out.
const maxRetrying = 10000

// Begin claims key for a request. It returns (nil, nil) when the request
// is the first with this key and must run, or the record that holds the
// key: the caller then checks it with Replay.
func (s *Service) Begin(ctx context.Context, principal, key, method, path string) (*Record, error) {
	fresh, rec, err := s.Store.ClaimIdempotencyKey(ctx, principal, key, method, path, TTL, Lease)
	if err != nil || fresh {
		return nil, err
	}
	return rec, nil
}

// Replay decides what a retry gets: the kept response when it is the same
// request (method, path and fingerprint), else an error — conflict while
// the first runs, unprocessable for a different request.
func (s *Service) Replay(rec *Record, method, path string, fingerprint []byte) (*Response, error) {
	if rec.Response == nil {
		return nil, &domain.Error{Code: domain.CodeConflict, RetryAfter: time.Second,
			Message: "A request with this Idempotency-Key is still in progress; retry shortly."}
	}
	if rec.Method != method || rec.Path != path || !bytes.Equal(rec.Fingerprint, fingerprint) {
		return nil, &domain.Error{Code: domain.CodeUnprocessable,
			Message: "This Idempotency-Key was used for a different request; use a new key."}
	}
	return rec.Response, nil
}

// Keeps reports whether a response is kept for replay: not server errors
// (the retry should run again), nor refusals that a retry may not meet
// (conflicts, rate limits, unavailability).
func Keeps(status int) bool {
	return status < 500 && status != 409 && status != 429
}

// Finish keeps the response of the first request, or releases the key
// when the response is not one to replay.
// When the release fails (the database went down under the request, the
// usual reason it answered 503), it is tried again in the background, for
// up to Lease, so that the client's retry runs once the database is back
// instead of being refused as "in progress" until the lease runs out.
func (s *Service) Finish(ctx context.Context, principal, key string, fingerprint []byte, r Response) error {
	if !Keeps(r.Status) {
		err := s.Store.ReleaseIdempotencyKey(ctx, principal, key)
		if err != nil {
			s.releaseLater(ctx, principal, key)
		}
		return err
	}
	return s.Store.CompleteIdempotencyKey(ctx, principal, key, fingerprint, r)
}

// releaseLater retries a failed release, backing off up to 5 s, until it
// succeeds, Lease has passed or s.Background ends.
func (s *Service) releaseLater(ctx context.Context, principal, key string) {
	if s.retrying.Add(1) > maxRetrying {
		s.retrying.Add(-1)
		return
	}
	bg := s.Background
	if bg == nil {
		bg = context.WithoutCancel(ctx)
	}
	wait := s.releaseWait
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	go func() {
		defer s.retrying.Add(-1)
		deadline := time.Now().Add(Lease)
		for time.Now().Before(deadline) {
			t := time.NewTimer(wait)
			select {
			case <-bg.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if s.Store.ReleaseIdempotencyKey(bg, principal, key) == nil {
				return
			}
			wait = min(2*wait, 5*time.Second)
		}
	}()
}
