package events

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/breaker"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// SubscriptionBuffer is how many events a slow subscriber may fall behind
// before it is dropped (it reconnects with Last-Event-ID and catches up
// from the backlog).
const SubscriptionBuffer = 256

// ErrClosed ends subscriptions when the hub stops (the server shuts down).
var ErrClosed = errors.New("events: hub closed")

// ErrSlow ends the subscription of a subscriber that fell too far behind.
var ErrSlow = errors.New("events: subscriber too slow")

// Hub fans a process's share of the event channel out to its subscribers.
type Hub struct {
	Redis  Redis
	Logger *slog.Logger
	Hooks  ControlHooks
	// Policy decides who may subscribe (streamTeamEvents); nil: no one.
	Policy domain.Policy

	mu     sync.Mutex
	teams  map[uuid.UUID]map[*Subscription]struct{}
	closed bool
	// deletedTeams are the teams deleted in the last DeletedTeamMemory,
	// refused by Subscribe.
	deletedTeams map[uuid.UUID]time.Time
}

// Redis is what a Hub needs of Redis (a *redis.Client): the channels,
// the teams' streams, and a pipeline to acknowledge control messages.
type Redis interface {
	Subscribe(ctx context.Context, channels ...string) *redis.PubSub
	XRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
	XRevRangeN(ctx context.Context, stream, start, stop string, count int64) *redis.XMessageSliceCmd
	TxPipeline() redis.Pipeliner
}

// Subscription receives a team's events in id order, each once.
type Subscription struct {
	hub  *Hub
	team uuid.UUID
	user uuid.UUID // the subscribing user (uuid.Nil for an API key)
	ch   chan domain.Event
	done chan struct{}
	err  error // why it ended; set before done is closed

	// guarded by hub.mu
	last       ID
	catchingUp bool
	pending    []domain.Event
	ended      bool
}

// Events delivers the events.
func (s *Subscription) Events() <-chan domain.Event { return s.ch }

// Done is closed when the subscription ends; Err then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err says why the subscription ended.
func (s *Subscription) Err() error {
	<-s.done
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.endLocked(s, nil)
}

// Subscribe subscribes to team's events. With lastID (a client's
// Last-Event-ID), the events after it still in the backlog come first; when
// some may be gone, the first event is a reset. It fails when Redis cannot
// be reached. The subscriber is the context's principal: the subscription
// ends (ErrEnded) when that user is disabled, or the team deleted.
// It refuses a caller the role table does not let stream the team's
// events.
func (h *Hub) Subscribe(ctx context.Context, team uuid.UUID, lastID string) (*Subscription, error) {
	if err := domain.Allow(ctx, h.Policy, "streamTeamEvents", &team); err != nil {
		return nil, err
	}
	s := &Subscription{hub: h, team: team, done: make(chan struct{})}
	if p := domain.PrincipalFrom(ctx); p != nil && p.APIKey == nil {
		s.user = p.UserID
	}
	var from ID
	resume := false
	if lastID != "" {
		id, ok := ParseID(lastID)
		if !ok || id.MS > uint64(time.Now().Add(time.Hour).UnixMilli()) {
			return nil, &domain.Error{Code: domain.CodeInvalid, Message: "Last-Event-ID is not an event id.",
				Fields: []domain.FieldError{{Pointer: "Last-Event-ID", Detail: "expected an id such as 1763800000000-0"}}}
		}
		from, resume = id, true
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, &domain.Error{Code: domain.CodeUnavailable, Message: "The server is shutting down; reconnect.", RetryAfter: time.Second}
	}
	if h.teams == nil {
		h.teams = map[uuid.UUID]map[*Subscription]struct{}{}
	}
	if h.teams[team] == nil {
		h.teams[team] = map[*Subscription]struct{}{}
	}
	s.last, s.catchingUp = from, true
	h.teams[team][s] = struct{}{}
	// A deletion or disabling announced between the caller's authorization
	// and now would otherwise leave this subscription open.
	_, gone := h.deletedTeams[team]
	h.mu.Unlock()
	if gone {
		s.Close()
		return nil, domain.Errorf(domain.CodeNotFound, "Team not found.")
	}
	if s.user != uuid.Nil && h.Hooks.Disabled != nil && h.Hooks.Disabled(s.user) {
		s.Close()
		return nil, domain.Errorf(domain.CodeUserDisabled, "Your account is disabled: a platform admin must enable it again.")
	}

	backlog, reset, start, err := h.read(ctx, team, from, resume)
	if err != nil {
		s.Close()
		return nil, &domain.Error{Code: domain.CodeUnavailable, Message: "The event stream is unavailable; try again shortly.",
			RetryAfter: 2 * time.Second, Err: err}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Room for the whole backlog, so a long resume is not taken for a slow
	// subscriber; live events waited in pending meanwhile.
	s.ch = make(chan domain.Event, len(backlog)+SubscriptionBuffer+1)
	if s.ended { // ended while catching up (the hub closed, say)
		close(s.ch)
		return nil, &domain.Error{Code: domain.CodeUnavailable, Message: "The server is shutting down; reconnect.", RetryAfter: time.Second}
	}
	if !resume {
		s.last = start
	}
	if reset {
		h.sendLocked(s, domain.Event{ID: from.String(), Type: domain.EventReset, TeamID: team, OccurredAt: time.Now().UTC()})
	}
	for _, e := range backlog {
		h.deliverLocked(s, e)
	}
	for _, e := range s.pending {
		h.deliverLocked(s, e)
	}
	s.pending, s.catchingUp = nil, false
	return s, nil
}

// read returns the backlog after from (when resuming) and whether events
// after from may be gone from it; when not resuming, the id of the newest
// event, after which the subscriber starts. It also checks that Redis
// answers.
func (h *Hub) read(ctx context.Context, team uuid.UUID, from ID, resume bool) ([]domain.Event, bool, ID, error) {
	key := streamKey(team)
	if !resume {
		newest, err := h.Redis.XRevRangeN(ctx, key, "+", "-", 1).Result()
		if err != nil {
			return nil, false, ID{}, err
		}
		var start ID
		if len(newest) == 1 {
			start, _ = ParseID(newest[0].ID)
		}
		return nil, false, start, nil
	}
	oldest, err := h.Redis.XRangeN(ctx, key, "-", "+", 1).Result()
	if err != nil {
		return nil, false, ID{}, err
	}
	reset := len(oldest) == 0
	if len(oldest) == 1 {
		if o, ok := ParseID(oldest[0].ID); ok && from.Less(o) {
			// The entry right after from may have been trimmed.
			reset = !(o.MS == from.MS && o.Seq == from.Seq+1)
		}
	}
	msgs, err := h.Redis.XRangeN(ctx, key, "("+from.String(), "+", Backlog*2).Result()
	if err != nil {
		return nil, false, ID{}, err
	}
	out := make([]domain.Event, 0, len(msgs))
	for _, m := range msgs {
		if e, ok := h.decodeEntry(m); ok {
			out = append(out, e)
		}
	}
	return out, reset, from, nil
}

func (h *Hub) decodeEntry(m redis.XMessage) (domain.Event, bool) {
	p, _ := m.Values["e"].(string)
	e, err := decode(m.ID, p)
	if err != nil {
		h.logSkip("backlog entry", err)
		return domain.Event{}, false
	}
	return e, true
}

// logSkip logs an event that is not delivered because it cannot be read:
// one from a newer release (an unknown wire version), or a malformed one.
func (h *Hub) logSkip(what string, err error) {
	if errors.Is(err, ErrUnknownVersion) {
		h.Logger.Warn("events: skipping an event of a newer wire version", "source", what, "err", err)
		return
	}
	h.Logger.Warn("events: bad "+what, "err", err)
}

// deliverLocked sends e to s unless s has it already.
func (h *Hub) deliverLocked(s *Subscription, e domain.Event) {
	id, ok := ParseID(e.ID)
	if !ok || !s.last.Less(id) {
		return
	}
	if h.sendLocked(s, e) {
		s.last = id
	}
}

// sendLocked queues e for s, ending s when it is too far behind.
func (h *Hub) sendLocked(s *Subscription, e domain.Event) bool {
	if s.ended {
		return false
	}
	select {
	case s.ch <- e:
		return true
	default:
		h.endLocked(s, ErrSlow)
		return false
	}
}

func (h *Hub) endLocked(s *Subscription, err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	delete(h.teams[s.team], s)
	if len(h.teams[s.team]) == 0 {
		delete(h.teams, s.team)
	}
	close(s.done)
}

// publishLive hands a live event to the team's subscribers.
func (h *Hub) publishLive(team uuid.UUID, e domain.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.teams[team] {
		h.queueLocked(s, e)
	}
}

// queueLocked delivers e to s, or keeps it for after s's own backlog read
// while s is still subscribing (its starting point is not known yet).
func (h *Hub) queueLocked(s *Subscription, e domain.Event) {
	if !s.catchingUp {
		h.deliverLocked(s, e)
		return
	}
	s.pending = append(s.pending, e)
	if len(s.pending) > Backlog*2 {
		h.endLocked(s, ErrSlow)
	}
}

// Run listens on the channel until ctx is done, then ends every
// subscription. After a reconnect it fills each subscriber's gap from the
// backlog.
func (h *Hub) Run(ctx context.Context) {
	defer h.Close()
	// breaker.Listen, not go-redis' Channel: a lost connection is retried
	// with a backoff, and not at all while the breaker knows Redis down.
	breaker.Listen(ctx, func(ctx context.Context) *redis.PubSub {
		return h.Redis.Subscribe(ctx, Channel, ControlChannel)
	}, func(m any) {
		switch m := m.(type) {
		case *redis.Subscription:
			// On every (re)subscription: events published while the
			// channel was not yet, or no longer, subscribed are only in
			// the backlog.
			// Control messages may have been missed too.
			if m.Kind == "subscribe" && m.Channel == Channel {
				h.catchUp(ctx)
			}
			if m.Kind == "subscribe" && m.Channel == ControlChannel {
				go h.resync(ctx) // database reads: do not hold up the events
			}
		case *redis.Message:
			h.handle(ctx, m.Channel, m.Payload)
		}
	})
}

// handle applies one message of the channels: a control message, or an
// event ("team id payload") for the team's subscribers. A message it
// cannot read is skipped.
func (h *Hub) handle(ctx context.Context, channel, msg string) {
	if channel == ControlChannel {
		h.control(ctx, msg)
		return
	}
	team, rest, ok1 := strings.Cut(msg, " ")
	id, payload, ok2 := strings.Cut(rest, " ")
	tid, err := uuid.Parse(team)
	if !ok1 || !ok2 || err != nil {
		return
	}
	e, err := decode(id, payload)
	if err != nil {
		h.logSkip("message", err)
		return
	}
	h.publishLive(tid, e)
}

// catchUp delivers what every subscriber missed while the channel was down.
func (h *Hub) catchUp(ctx context.Context) {
	h.mu.Lock()
	type gap struct {
		s    *Subscription
		from ID
	}
	var gaps []gap
	for _, subs := range h.teams {
		for s := range subs {
			gaps = append(gaps, gap{s, s.last})
		}
	}
	h.mu.Unlock()
	for _, g := range gaps {
		msgs, err := h.Redis.XRangeN(ctx, streamKey(g.s.team), "("+g.from.String(), "+", Backlog*2).Result()
		if err != nil {
			h.mu.Lock()
			h.endLocked(g.s, err) // the client reconnects with Last-Event-ID
			h.mu.Unlock()
			continue
		}
		h.mu.Lock()
		for _, m := range msgs {
			if e, ok := h.decodeEntry(m); ok {
				h.queueLocked(g.s, e)
			}
		}
		h.mu.Unlock()
	}
}

// Close ends every subscription (the server is shutting down); clients
// reconnect elsewhere with Last-Event-ID.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.teams {
		for s := range subs {
			h.endLocked(s, ErrClosed)
		}
	}
}
