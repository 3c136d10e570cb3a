package conveyor_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

func fastRetry() conveyor.Option {
	return conveyor.WithRetry(conveyor.RetryPolicy{MaxRetries: 3, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond})
}

// TestRetriesHonourRetryAfter: 429 and 503 are retried after Retry-After.
func TestRetriesHonourRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"type":"x","title":"Too many requests.","status":429}`))
		case 2:
			w.WriteHeader(503)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + uuid.NewString() + `","name":"t","created_at":"2026-01-01T00:00:00Z"}`))
		}
	}))
	defer srv.Close()
	c, err := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Team(context.Background(), uuid.New()); err != nil || calls.Load() != 3 {
		t.Fatalf("err %v after %d calls; want success on the third", err, calls.Load())
	}
}

// TestCreatesRetryWithTheSameIdempotencyKey: a creating POST carries an
// Idempotency-Key, so it is retried, with the same key.
func TestCreatesRetryWithTheSameIdempotencyKey(t *testing.T) {
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if len(keys) == 1 {
			w.WriteHeader(503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write([]byte(`{"id":"` + uuid.NewString() + `","name":"t","created_at":"2026-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	c, _ := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
	if _, err := c.CreateTeam(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("keys sent: %q; want the same non-empty key twice", keys)
	}
}

// TestProblemsAreTypedErrors: a non-2xx answer is a *Problem.
func TestProblemsAreTypedErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-ID", "rid-1")
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"type":"https://conveyor.dev/problems/not-found","title":"Not found.","status":404,"detail":"Team not found."}`))
	}))
	defer srv.Close()
	c, _ := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
	_, err := c.Team(context.Background(), uuid.New())
	var p *conveyor.Problem
	if !errors.As(err, &p) || p.Status != 404 || p.RequestId == nil || *p.RequestId != "rid-1" || *p.Detail != "Team not found." {
		t.Fatalf("err = %#v", err)
	}
}

// TestIteratorFollowsCursors walks three pages and stops on the caller's
// break.
func TestIteratorFollowsCursors(t *testing.T) {
	pages := map[string]string{
		"":   `{"items":[{"id":"` + uuid.NewString() + `","name":"a","created_at":"2026-01-01T00:00:00Z"}],"next_cursor":"c1"}`,
		"c1": `{"items":[{"id":"` + uuid.NewString() + `","name":"b","created_at":"2026-01-01T00:00:00Z"}],"next_cursor":"c2"}`,
		"c2": `{"items":[{"id":"` + uuid.NewString() + `","name":"c","created_at":"2026-01-01T00:00:00Z"}],"next_cursor":null}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(pages[r.URL.Query().Get("cursor")]))
	}))
	defer srv.Close()
	c, _ := conveyor.New(srv.URL, conveyor.WithToken("t"))
	var names string
	for team, err := range c.Teams(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		names += team.Name
	}
	if names != "abc" {
		t.Fatalf("walked %q", names)
	}
	n := 0
	for range c.Teams(context.Background()) {
		n++
		break
	}
	if n != 1 {
		t.Fatal("break did not stop the iteration")
	}
}
