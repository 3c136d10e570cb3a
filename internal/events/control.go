package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// ControlChannel carries what every API process must act on at once: a
// user disabled or enabled, a team deleted. Each message is
// "kind id ackkey"; every Hub applies it, then pushes to ackkey, so the
// sender knows when all the processes it reached have.
const ControlChannel = "conveyor:control"

// The kinds of control message.
const (
	ControlUserDisabled = "user-disabled"
	ControlUserEnabled  = "user-enabled"
	ControlTeamDeleted  = "team-deleted"
)

// ControlWait bounds how long Control waits for the processes' acks.
const ControlWait = 2 * time.Second

// ErrEnded ends the subscriptions of a deleted team and of a disabled
// user; a reconnect is refused (404, 401).
var ErrEnded = errors.New("events: the team was deleted or the user disabled")

// Control announces changes on ControlChannel and waits until every API
// process that received one has applied it (refusing the user's requests,
// ending the streams). PUBLISH answers how many subscribers got the
// message, each Hub's one subscription, so Control waits for that many
// acks, at most Wait. A process Redis could not reach gets no message: it
// reads the disabled users again on its next refresh.
type Control struct {
	Redis  *redis.Client
	Wait   time.Duration // 0: ControlWait
	Logger *slog.Logger  // nil: slog.Default()
}

// UserDisabled announces that a user was disabled (or enabled).
func (c *Control) UserDisabled(ctx context.Context, id uuid.UUID, disabled bool) error {
	kind := ControlUserEnabled
	if disabled {
		kind = ControlUserDisabled
	}
	return c.announce(ctx, kind, id)
}

// TeamDeleted announces that a team was deleted: its streams end.
func (c *Control) TeamDeleted(ctx context.Context, id uuid.UUID) error {
	return c.announce(ctx, ControlTeamDeleted, id)
}

// announce announces and waits; a failure is also logged, as the change
// it announces is made whatever it returns.
func (c *Control) announce(ctx context.Context, kind string, id uuid.UUID) error {
	err := c.send(ctx, kind, id)
	if err != nil {
		log := c.Logger
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(ctx, "events: not every API process confirmed a change; the others apply it when they re-read (disabled users) or resubscribe (deleted teams)",
			"kind", kind, "id", id, "err", err)
	}
	return err
}

func (c *Control) send(ctx context.Context, kind string, id uuid.UUID) error {
	wait := c.Wait
	if wait <= 0 {
		wait = ControlWait
	}
	// The change is made: announce it even if the caller hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	ack := "conveyor:control:ack:" + uuid.NewString()
	n, err := c.Redis.Publish(ctx, ControlChannel, kind+" "+id.String()+" "+ack).Result()
	if err != nil {
		return fmt.Errorf("events: announce %s: %w", kind, err)
	}
	defer c.Redis.Del(context.WithoutCancel(ctx), ack)
	for got := int64(0); got < n; got++ {
		left := time.Until(deadline(ctx))
		if left <= 0 {
			return fmt.Errorf("events: %s: %d of %d processes confirmed", kind, got, n)
		}
		if err := c.Redis.BLPop(ctx, left, ack).Err(); err != nil {
			return fmt.Errorf("events: %s: %d of %d processes confirmed: %w", kind, got, n, err)
		}
	}
	return nil
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// ControlHooks are what a Hub does with control messages besides ending
// streams; each may be nil.
type ControlHooks struct {
	// UserChanged applies a user's disabling or enabling (users.Gate.Apply).
	UserChanged func(id uuid.UUID, disabled bool)
	// Resync reads the state again after the channel was (re)subscribed,
	// as messages may have been missed meanwhile (users.Gate.Reload).
	Resync func(ctx context.Context) error
	// Disabled reports whether a user is disabled, to end their streams
	// after a resync.
	Disabled func(id uuid.UUID) bool
	// TeamLive reports whether a team still exists, asked after a
	// (re)subscription for each team with subscribers here, to end the
	// streams of teams deleted while this process could not hear of it.
	TeamLive func(ctx context.Context, id uuid.UUID) (bool, error)
}

// control applies one control message and acknowledges it.
func (h *Hub) control(ctx context.Context, payload string) {
	parts := strings.Fields(payload)
	if len(parts) != 3 {
		return
	}
	id, err := uuid.Parse(parts[1])
	if err != nil {
		return
	}
	switch parts[0] {
	case ControlUserDisabled:
		if h.Hooks.UserChanged != nil {
			h.Hooks.UserChanged(id, true)
		}
		h.endWhere(func(s *Subscription) bool { return s.user == id })
	case ControlUserEnabled:
		if h.Hooks.UserChanged != nil {
			h.Hooks.UserChanged(id, false)
		}
	case ControlTeamDeleted:
		h.rememberDeleted(id)
		h.endWhere(func(s *Subscription) bool { return s.team == id })
	default:
		return
	}
	ack := parts[2]
	go func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		pipe := h.Redis.TxPipeline()
		pipe.RPush(actx, ack, "1")
		pipe.Expire(actx, ack, time.Minute)
		if _, err := pipe.Exec(actx); err != nil {
			h.Logger.Warn("events: could not acknowledge a control message", "message", payload, "err", err)
		}
	}()
}

// resync reads the state again after (re)subscribing and ends the streams
// of users disabled meanwhile.
func (h *Hub) resync(ctx context.Context) {
	if h.Hooks.Resync != nil {
		if err := h.Hooks.Resync(ctx); err != nil {
			h.Logger.Warn("events: resync after subscribing failed; the next refresh retries", "err", err)
		} else if h.Hooks.Disabled != nil {
			h.endWhere(func(s *Subscription) bool { return s.user != uuid.Nil && h.Hooks.Disabled(s.user) })
		}
	}
	if h.Hooks.TeamLive == nil {
		return
	}
	h.mu.Lock()
	teams := make([]uuid.UUID, 0, len(h.teams))
	for t := range h.teams {
		teams = append(teams, t)
	}
	h.mu.Unlock()
	for _, t := range teams {
		live, err := h.Hooks.TeamLive(ctx, t)
		if err != nil {
			h.Logger.Warn("events: could not check a team after subscribing", "team", t, "err", err)
			continue
		}
		if !live {
			h.rememberDeleted(t)
			h.endWhere(func(s *Subscription) bool { return s.team == t })
		}
	}
}

// endWhere ends, with ErrEnded, every subscription match selects.
func (h *Hub) endWhere(match func(*Subscription) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.teams {
		for s := range subs {
			if match(s) {
				h.endLocked(s, ErrEnded)
			}
		}
	}
}

// DeletedTeamMemory is how long a Hub refuses new subscriptions to a
// deleted team on its own, covering a request authorized just before the
// deletion (later ones are refused by the authorization).
const DeletedTeamMemory = time.Minute

func (h *Hub) rememberDeleted(team uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.deletedTeams == nil {
		h.deletedTeams = map[uuid.UUID]time.Time{}
	}
	for id, at := range h.deletedTeams {
		if now.Sub(at) > DeletedTeamMemory {
			delete(h.deletedTeams, id)
		}
	}
	h.deletedTeams[team] = now
}
