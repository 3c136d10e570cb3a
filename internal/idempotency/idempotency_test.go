package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/idempotency"
)

// memStore keeps records in memory, per principal and key, as the
// database does: a claim takes a free key, or returns its holder's record.
type memStore struct {
	recs     map[[2]string]*idempotency.Record
	ttl      time.Duration
	lease    time.Duration
	released int
	err      error
}

func newMemStore() *memStore { return &memStore{recs: map[[2]string]*idempotency.Record{}} }

func (m *memStore) ClaimIdempotencyKey(_ context.Context, principal, key, method, path string, ttl, lease time.Duration) (bool, *idempotency.Record, error) {
	if m.err != nil {
		return false, nil, m.err
	}
	m.ttl, m.lease = ttl, lease
	k := [2]string{principal, key}
	if rec, ok := m.recs[k]; ok {
		cp := *rec
		return false, &cp, nil
	}
	m.recs[k] = &idempotency.Record{Method: method, Path: path}
	return true, nil, nil
}

func (m *memStore) CompleteIdempotencyKey(_ context.Context, principal, key string, fingerprint []byte, r idempotency.Response) error {
	rec, ok := m.recs[[2]string{principal, key}]
	if !ok {
		return errors.New("complete of an unclaimed key")
	}
	rec.Fingerprint, rec.Response = fingerprint, &r
	return nil
}

func (m *memStore) ReleaseIdempotencyKey(_ context.Context, principal, key string) error {
	delete(m.recs, [2]string{principal, key})
	m.released++
	return nil
}

var ctx = context.Background()

const (
	alice = "user:alice"
	path  = "/api/v1/teams/t/jobs"
)

func created() idempotency.Response {
	return idempotency.Response{Status: http.StatusAccepted, Headers: map[string]string{"Location": path + "/j"}, Body: []byte(`{"id":"j"}`)}
}

// TestFirstRunsRetryReplays: the first request with a key runs; a retry
// while it runs is a conflict to retry shortly; once it finished, the same
// request gets the kept response back.
func TestFirstRunsRetryReplays(t *testing.T) {
	st := newMemStore()
	s := &idempotency.Service{Store: st}
	rec, err := s.Begin(ctx, alice, "k1", http.MethodPost, path)
	if err != nil || rec != nil {
		t.Fatalf("first: %+v %v; want to run", rec, err)
	}
	if st.ttl != idempotency.TTL || st.lease != idempotency.Lease {
		t.Fatalf("claimed for %v with a lease of %v; want %v and %v", st.ttl, st.lease, idempotency.TTL, idempotency.Lease)
	}
	inFlight, err := s.Begin(ctx, alice, "k1", http.MethodPost, path)
	if err != nil || inFlight == nil {
		t.Fatalf("retry in flight: %+v %v; want the holder's record", inFlight, err)
	}
	_, err = s.Replay(inFlight, http.MethodPost, path, []byte("fp"))
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeConflict || de.RetryAfter <= 0 {
		t.Fatalf("replay while running: %v; want a conflict with Retry-After", err)
	}
	if err := s.Finish(ctx, alice, "k1", []byte("fp"), created()); err != nil {
		t.Fatal(err)
	}
	done, err := s.Begin(ctx, alice, "k1", http.MethodPost, path)
	if err != nil || done == nil {
		t.Fatalf("retry after: %+v %v", done, err)
	}
	kept, err := s.Replay(done, http.MethodPost, path, []byte("fp"))
	if err != nil || kept.Status != http.StatusAccepted || string(kept.Body) != `{"id":"j"}` || kept.Headers["Location"] != path+"/j" {
		t.Fatalf("replay: %+v %v; want the first response", kept, err)
	}
}

// TestKeyOnAnotherRequest: a kept key used with another method, path or
// body (fingerprint) is unprocessable: use a new key.
func TestKeyOnAnotherRequest(t *testing.T) {
	rec := &idempotency.Record{Method: http.MethodPost, Path: path, Fingerprint: []byte("fp"), Response: &idempotency.Response{Status: 201}}
	s := &idempotency.Service{}
	for name, tc := range map[string]struct {
		method, path string
		fp           []byte
	}{
		"another body":   {http.MethodPost, path, []byte("fq")},
		"no body":        {http.MethodPost, path, nil},
		"a longer body":  {http.MethodPost, path, []byte("fp2")},
		"another path":   {http.MethodPost, path + "x", []byte("fp")},
		"another method": {http.MethodPut, path, []byte("fp")},
	} {
		if _, err := s.Replay(rec, tc.method, tc.path, tc.fp); domain.ErrorCode(err) != domain.CodeUnprocessable {
			t.Errorf("%s: %v; want unprocessable", name, err)
		}
	}
}

// TestKeeps: what a retry gets again, and what it runs again for.
func TestKeeps(t *testing.T) {
	for status, want := range map[int]bool{200: true, 201: true, 202: true, 204: true, 400: true, 403: true, 404: true,
		413: true, 422: true, 409: false, 429: false, 500: false, 502: false, 503: false} {
		if got := idempotency.Keeps(status); got != want {
			t.Errorf("Keeps(%d) = %v, want %v", status, got, want)
		}
	}
}

// TestFinishReleasesWhatIsNotKept: after a response not to replay the key
// is free again, and the retry runs.
func TestFinishReleasesWhatIsNotKept(t *testing.T) {
	for _, status := range []int{http.StatusConflict, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		st := newMemStore()
		s := &idempotency.Service{Store: st}
		if rec, err := s.Begin(ctx, alice, "k", http.MethodPost, path); rec != nil || err != nil {
			t.Fatal(rec, err)
		}
		if err := s.Finish(ctx, alice, "k", []byte("fp"), idempotency.Response{Status: status}); err != nil {
			t.Fatal(err)
		}
		if st.released != 1 {
			t.Fatalf("%d: released %d times", status, st.released)
		}
		if rec, err := s.Begin(ctx, alice, "k", http.MethodPost, path); rec != nil || err != nil {
			t.Fatalf("%d: the retry does not run again: %+v %v", status, rec, err)
		}
	}
}

// TestKeysArePerPrincipal: the same key from another principal is its own.
func TestKeysArePerPrincipal(t *testing.T) {
	s := &idempotency.Service{Store: newMemStore()}
	if rec, err := s.Begin(ctx, alice, "k", http.MethodPost, path); rec != nil || err != nil {
		t.Fatal(rec, err)
	}
	if rec, err := s.Begin(ctx, "apikey:cvk_bob", "k", http.MethodPost, path); rec != nil || err != nil {
		t.Fatalf("another principal's key: %+v %v; want to run", rec, err)
	}
}

func TestBeginPassesStoreErrors(t *testing.T) {
	st := newMemStore()
	st.err = domain.Errorf(domain.CodeUnavailable, "down")
	rec, err := (&idempotency.Service{Store: st}).Begin(ctx, alice, "k", http.MethodPost, path)
	if rec != nil || domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("%+v %v; want the store's error", rec, err)
	}
}
