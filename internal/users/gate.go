package users

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// DisabledLister reads every disabled user's id (store.Store.DisabledUsers).
type DisabledLister interface {
	DisabledUsers(ctx context.Context) ([]uuid.UUID, error)
}

// DefaultGateRefresh is how often a Gate reads the disabled users again:
// the bound on how long a process misses a change it was not told of
// (Redis was down when it was announced).
const DefaultGateRefresh = 10 * time.Second

// Gate is one API process's set of disabled users, so that checking a
// request costs a map lookup and no database round trip. It is read
// whole from the database at start and every Refresh, and changed at
// once by Apply: by the service that made the change, and by every
// process when it is announced (events.Control). A change applied while a
// read is in flight is applied again on top of what the read returns, so
// a read that started before a change cannot undo it.
type Gate struct {
	Store   DisabledLister
	Refresh time.Duration // 0: DefaultGateRefresh
	Logger  *slog.Logger  // nil: slog.Default()

	loadMu sync.Mutex // one read at a time

	// disabled is read without a lock; it is replaced, never changed
	// (a copy on every change: they are rare, the set small).
	disabled atomic.Pointer[map[uuid.UUID]struct{}]

	mu      sync.Mutex // serializes changes
	loaded  bool
	loading bool
	pending []change // applied while loading
}

type change struct {
	id       uuid.UUID
	disabled bool
}

// Disabled reports whether id is disabled, as far as this process knows.
// Until the first read succeeds it knows nothing and says no (refusing
// everyone while the database is unreachable at start would make reads
// fail too); Run keeps retrying that read.
func (g *Gate) Disabled(id uuid.UUID) bool {
	if g == nil {
		return false
	}
	set := g.disabled.Load()
	if set == nil {
		return false
	}
	_, ok := (*set)[id]
	return ok
}

// Loaded reports whether the disabled users have been read at least once.
func (g *Gate) Loaded() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.loaded
}

// Apply records that id was disabled or enabled.
func (g *Gate) Apply(id uuid.UUID, disabled bool) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	next := map[uuid.UUID]struct{}{}
	if cur := g.disabled.Load(); cur != nil {
		next = maps.Clone(*cur)
	}
	applyTo(next, change{id, disabled})
	g.disabled.Store(&next)
	if g.loading {
		g.pending = append(g.pending, change{id, disabled})
	}
}

func applyTo(set map[uuid.UUID]struct{}, c change) {
	if c.disabled {
		set[c.id] = struct{}{}
	} else {
		delete(set, c.id)
	}
}

// Reload reads the disabled users again and replaces the set, keeping
// the changes applied meanwhile.
func (g *Gate) Reload(ctx context.Context) error {
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	g.mu.Lock()
	g.loading, g.pending = true, nil
	g.mu.Unlock()
	ids, err := g.Store.DisabledUsers(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	pending := g.pending
	g.loading, g.pending = false, nil
	if err != nil {
		return err
	}
	set := make(map[uuid.UUID]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	for _, c := range pending {
		applyTo(set, c)
	}
	g.disabled.Store(&set)
	g.loaded = true
	return nil
}

// Run reads the disabled users at once and then every Refresh (every
// second while reads fail), until ctx is done.
func (g *Gate) Run(ctx context.Context) {
	every := g.Refresh
	if every <= 0 {
		every = DefaultGateRefresh
	}
	log := g.Logger
	if log == nil {
		log = slog.Default()
	}
	for {
		wait := every
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := g.Reload(rctx); err != nil && ctx.Err() == nil {
			log.Warn("users: could not read the disabled users; trying again", "err", err)
			wait = min(every, time.Second)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

var errDisabled = domain.Errorf(domain.CodeUserDisabled, "Your account is disabled: a platform admin must enable it again.")

// Wrap returns a that refuses the users g says are disabled. API keys
// are the team's principals, not a user's, and pass.
func (g *Gate) Wrap(a Authenticator) Authenticator {
	return gatedAuthenticator{next: a, gate: g}
}

type gatedAuthenticator struct {
	next Authenticator
	gate *Gate
}

func (a gatedAuthenticator) Authenticate(ctx context.Context, token string) (*domain.Principal, error) {
	p, err := a.next.Authenticate(ctx, token)
	if err == nil && p != nil && p.APIKey == nil && a.gate.Disabled(p.UserID) {
		return nil, errDisabled
	}
	return p, err
}
