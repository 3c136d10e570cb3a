package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
)

// touches counts the statements and the keys KeyUse writes.
type touches struct {
	mu         sync.Mutex
	statements int
	keys       map[uuid.UUID]int
}

func (f *touches) TouchAPIKeys(_ context.Context, ids []uuid.UUID) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statements++
	if f.keys == nil {
		f.keys = map[uuid.UUID]int{}
	}
	for _, id := range ids {
		f.keys[id]++
	}
	return int64(len(ids)), nil
}

func (f *touches) counts() (int, map[uuid.UUID]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[uuid.UUID]int{}
	for k, v := range f.keys {
		m[k] = v
	}
	return f.statements, m
}

// TestKeyUseThrottles: many uses of a key within the interval are one
// write; several keys share a statement; the next interval writes again;
// Close writes what is pending.
func TestKeyUseThrottles(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	store := &touches{}
	u := auth.NewKeyUse(store, auth.KeyUseOptions{Interval: time.Minute, Flush: time.Hour, Now: clock})
	a, b := uuid.New(), uuid.New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				u.Note(a)
			}
		}()
	}
	wg.Wait()
	u.Note(b)
	u.Close()
	stmts, keys := store.counts()
	if stmts != 1 || keys[a] != 1 || keys[b] != 1 {
		t.Fatalf("4001 uses of two keys: %d statements, %v; want one statement touching each once", stmts, keys)
	}

	store = &touches{}
	u = auth.NewKeyUse(store, auth.KeyUseOptions{Interval: time.Minute, Flush: time.Hour, Now: clock})
	defer u.Close()
	u.Note(a)
	u.Flush()
	waitFor(t, func() bool { s, _ := store.counts(); return s == 1 })
	mu.Lock()
	now = now.Add(59 * time.Second)
	mu.Unlock()
	u.Note(a)
	u.Flush()
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	u.Note(a)
	u.Flush()
	waitFor(t, func() bool { _, k := store.counts(); return k[a] == 2 })
	time.Sleep(20 * time.Millisecond)
	if _, k := store.counts(); k[a] != 2 {
		t.Fatalf("uses at 0s, 59s and 61s: %d touches, want 2", k[a])
	}
}

// TestKeyUseNil: an authenticator without a KeyUse records nothing and
// does not panic.
func TestKeyUseNil(t *testing.T) {
	var u *auth.KeyUse
	u.Note(uuid.New())
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 200 {
		if ok() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("timed out")
}

// TestKeyUseBounded: memory holds at most the keys of one interval; a
// key past the bound goes unrecorded until older entries age out.
func TestKeyUseBounded(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	store := &touches{}
	u := auth.NewKeyUse(store, auth.KeyUseOptions{Interval: time.Minute, Flush: time.Hour, Now: clock})
	for range 10_001 {
		u.Note(uuid.New())
	}
	late := uuid.New()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	u.Note(late) // the old entries have aged out: room again
	u.Close()
	_, keys := store.counts()
	if len(keys) != 10_001 || keys[late] != 1 {
		t.Fatalf("%d keys written (late one: %d); want the first 10,000 and the one after they aged out", len(keys), keys[late])
	}
}
