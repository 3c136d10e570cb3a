package observe

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxThrottled bounds how many distinct messages a throttled logger
// remembers; past it, those quiet for an interval are forgotten.
const maxThrottled = 1024

// Throttle returns a logger that writes each warning or error message (by
// its text) at most once per interval; the first one written after the
// interval carries "suppressed": how many of it were dropped meanwhile.
// Lower levels pass. It is for code that warns once per request about a
// condition that lasts (a dependency down), which would otherwise log as
// often as requests come.
func Throttle(log *slog.Logger, every time.Duration) *slog.Logger {
	return slog.New(&throttled{next: log.Handler(), every: every, st: &throttleState{seen: map[string]*throttleEntry{}}})
}

type throttled struct {
	next  slog.Handler
	every time.Duration
	st    *throttleState // shared by the handlers WithAttrs and WithGroup derive
}

type throttleState struct {
	mu   sync.Mutex
	seen map[string]*throttleEntry
}

type throttleEntry struct {
	last       time.Time
	suppressed int
}

// admit reports whether a record of msg at t is written, and how many
// were suppressed since the last one that was.
func (s *throttleState) admit(msg string, t time.Time, every time.Duration) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.seen[msg]
	if e != nil && t.Sub(e.last) < every {
		e.suppressed++
		return 0, false
	}
	if e == nil {
		if len(s.seen) >= maxThrottled {
			for k, old := range s.seen {
				if t.Sub(old.last) >= every {
					delete(s.seen, k)
				}
			}
			if len(s.seen) >= maxThrottled {
				clear(s.seen)
			}
		}
		e = &throttleEntry{}
		s.seen[msg] = e
	}
	n := e.suppressed
	e.last, e.suppressed = t, 0
	return n, true
}

func (h *throttled) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *throttled) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	n, ok := h.st.admit(r.Message, t, h.every)
	if !ok {
		return nil
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", n))
	}
	return h.next.Handle(ctx, r)
}

func (h *throttled) WithAttrs(as []slog.Attr) slog.Handler {
	return &throttled{next: h.next.WithAttrs(as), every: h.every, st: h.st}
}

func (h *throttled) WithGroup(name string) slog.Handler {
	return &throttled{next: h.next.WithGroup(name), every: h.every, st: h.st}
}
