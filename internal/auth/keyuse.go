package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// KeyUseStore writes API keys' last-used times (store.Store.TouchAPIKeys).
type KeyUseStore interface {
	TouchAPIKeys(ctx context.Context, ids []uuid.UUID) (int64, error)
}

// KeyUseInterval is how often, at most, one process records a key's use.
const KeyUseInterval = time.Minute

// keyUseFlush is how often noted uses are written.
const keyUseFlush = time.Second

// maxKeysNoted bounds KeyUse's memory: the keys noted within one interval.
// Past it, a key not yet noted goes unrecorded until older entries age out
// (last_used_at is telemetry; losing some is better than unbounded memory
// or a write per request).
const maxKeysNoted = 10_000

// KeyUse records when API keys are used, cheaply: a request only notes the
// key in memory; each key is noted at most once per KeyUseInterval, and
// one goroutine writes what was noted every second, as one statement for
// all keys. So a busy key costs about one write a minute per process (the
// statement's own condition keeps several processes to about one in all),
// and no request spawns a goroutine or waits on the primary.
type KeyUse struct {
	store  KeyUseStore
	log    *slog.Logger
	now    func() time.Time
	every  time.Duration
	flush  time.Duration
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	mu      sync.Mutex
	last    map[uuid.UUID]time.Time // when each key was last noted
	pending []uuid.UUID             // noted, not yet written
}

// KeyUseOptions configures NewKeyUse.
type KeyUseOptions struct {
	Interval time.Duration    // 0: KeyUseInterval
	Flush    time.Duration    // 0: a second
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
}

// NewKeyUse starts the writer; Close stops it.
func NewKeyUse(store KeyUseStore, o KeyUseOptions) *KeyUse {
	u := &KeyUse{store: store, log: o.Logger, now: o.Now, every: o.Interval, flush: o.Flush,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), last: map[uuid.UUID]time.Time{}}
	if u.log == nil {
		u.log = slog.Default()
	}
	if u.now == nil {
		u.now = time.Now
	}
	if u.every <= 0 {
		u.every = KeyUseInterval
	}
	if u.flush <= 0 {
		u.flush = keyUseFlush
	}
	go u.run()
	return u
}

// Note records a use of key id, unless it was noted less than the
// interval ago. It never blocks on I/O. A nil KeyUse notes nothing.
func (u *KeyUse) Note(id uuid.UUID) {
	if u == nil {
		return
	}
	t := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if prev, ok := u.last[id]; ok && t.Sub(prev) < u.every {
		return
	}
	if len(u.last) >= maxKeysNoted {
		for k, at := range u.last {
			if t.Sub(at) >= u.every {
				delete(u.last, k)
			}
		}
		if len(u.last) >= maxKeysNoted {
			return
		}
	}
	u.last[id] = t
	u.pending = append(u.pending, id)
}

// Flush asks the writer to write what is noted now rather than at its next
// tick (tests).
func (u *KeyUse) Flush() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Close writes what is noted and stops the writer; call it before the
// store closes.
func (u *KeyUse) Close() {
	u.closed.Do(func() { close(u.stop) })
	<-u.done
}

func (u *KeyUse) run() {
	defer close(u.done)
	tick := time.NewTicker(u.flush)
	defer tick.Stop()
	for {
		select {
		case <-u.stop:
			u.write()
			return
		case <-tick.C:
		case <-u.wake:
		}
		u.write()
	}
}

// write writes the noted uses in one statement. A failure is logged and
// the keys forgotten, so their next use is noted again.
func (u *KeyUse) write() {
	u.mu.Lock()
	ids := u.pending
	u.pending = nil
	u.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := u.store.TouchAPIKeys(ctx, ids); err != nil {
		u.log.Debug("auth: record api key use", "keys", len(ids), "err", err)
		u.mu.Lock()
		for _, id := range ids {
			delete(u.last, id)
		}
		u.mu.Unlock()
	}
}
