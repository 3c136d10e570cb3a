package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/idempotency"
)

// downStore is a memStore whose releases fail while down is set (the
// database went away under the request).
type downStore struct {
	mu   sync.Mutex
	mem  *memStore
	down bool
}

func (d *downStore) ClaimIdempotencyKey(ctx context.Context, principal, key, method, path string, ttl, lease time.Duration) (bool, *idempotency.Record, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mem.ClaimIdempotencyKey(ctx, principal, key, method, path, ttl, lease)
}

func (d *downStore) CompleteIdempotencyKey(ctx context.Context, principal, key string, fp []byte, r idempotency.Response) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mem.CompleteIdempotencyKey(ctx, principal, key, fp, r)
}

func (d *downStore) ReleaseIdempotencyKey(ctx context.Context, principal, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return domain.Errorf(domain.CodeUnavailable, "down")
	}
	return d.mem.ReleaseIdempotencyKey(ctx, principal, key)
}

// TestFailedReleaseIsRetried: a request answered 503 because the database
// went down could not release its key; once the database is back the key
// is released, so the client's retry runs instead of being told for the
// whole lease that the request is still in progress (409).
func TestFailedReleaseIsRetried(t *testing.T) {
	st := &downStore{mem: newMemStore()}
	s := &idempotency.Service{Store: st}
	s.SetReleaseWait(time.Millisecond)
	if rec, err := s.Begin(ctx, alice, "k", http.MethodPost, path); rec != nil || err != nil {
		t.Fatal(rec, err)
	}
	st.mu.Lock()
	st.down = true
	st.mu.Unlock()
	if err := s.Finish(ctx, alice, "k", nil, idempotency.Response{Status: http.StatusServiceUnavailable}); err == nil {
		t.Fatal("the release succeeded with the database down")
	}
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := s.Begin(ctx, alice, "k", http.MethodPost, path)
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			return // the retry runs
		}
		if _, err := s.Replay(rec, http.MethodPost, path, nil); domain.ErrorCode(err) != domain.CodeConflict || time.Now().After(deadline) {
			t.Fatalf("the key is still held 10 s after the database came back: %v", errors.Unwrap(err))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
