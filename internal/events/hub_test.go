package events_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
)

// fakeRedis holds the teams' streams in memory: what a Hub reads of
// Redis outside Run.
type fakeRedis struct {
	mu      sync.Mutex
	streams map[string][]redis.XMessage
	err     error
	reads   int
	// during, when set, runs inside each backlog read: events that arrive
	// while a subscriber catches up.
	during func()
	acks   chan string
}

func newFakeRedis() *fakeRedis {
	return &fakeRedis{streams: map[string][]redis.XMessage{}, acks: make(chan string, 16)}
}

func key(team uuid.UUID) string { return "conveyor:events:" + team.String() }

func (f *fakeRedis) Subscribe(context.Context, ...string) *redis.PubSub {
	panic("the unit tests hand messages to Handle")
}

func (f *fakeRedis) XRevRangeN(_ context.Context, stream, _, _ string, _ int64) *redis.XMessageSliceCmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return redis.NewXMessageSliceCmdResult(nil, f.err)
	}
	s := f.streams[stream]
	if len(s) == 0 {
		return redis.NewXMessageSliceCmdResult(nil, nil)
	}
	return redis.NewXMessageSliceCmdResult([]redis.XMessage{s[len(s)-1]}, nil)
}

// XRangeN reads from start ("-", or "(id" for after id) to the end.
func (f *fakeRedis) XRangeN(_ context.Context, stream, start, _ string, count int64) *redis.XMessageSliceCmd {
	f.mu.Lock()
	f.reads++
	during := f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return redis.NewXMessageSliceCmdResult(nil, f.err)
	}
	var after events.ID
	exclusive := strings.HasPrefix(start, "(")
	if exclusive {
		after, _ = events.ParseID(strings.TrimPrefix(start, "("))
	}
	var out []redis.XMessage
	for _, m := range f.streams[stream] {
		id, _ := events.ParseID(m.ID)
		if exclusive && !after.Less(id) {
			continue
		}
		if int64(len(out)) == count {
			break
		}
		out = append(out, m)
	}
	return redis.NewXMessageSliceCmdResult(out, nil)
}

func (f *fakeRedis) TxPipeline() redis.Pipeliner { return &fakePipe{acks: f.acks} }

// fakePipe takes the acknowledgement of a control message.
type fakePipe struct {
	redis.Pipeliner
	acks   chan string
	pushed string
}

func (p *fakePipe) RPush(ctx context.Context, key string, _ ...interface{}) *redis.IntCmd {
	p.pushed = key
	return redis.NewIntResult(1, nil)
}

func (p *fakePipe) Expire(context.Context, string, time.Duration) *redis.BoolCmd {
	return redis.NewBoolResult(true, nil)
}

func (p *fakePipe) Exec(context.Context) ([]redis.Cmder, error) {
	p.acks <- p.pushed
	return nil, nil
}

type allow struct{}

func (allow) Check(context.Context, string, *uuid.UUID) error { return nil }

type refuse struct{}

func (refuse) Check(context.Context, string, *uuid.UUID) error {
	return domain.Errorf(domain.CodeNotFound, "Team not found.")
}

type hubFixture struct {
	redis *fakeRedis
	hub   *events.Hub
	logs  *bytes.Buffer
	team  uuid.UUID
}

func newHub() *hubFixture {
	f := &hubFixture{redis: newFakeRedis(), logs: &bytes.Buffer{}, team: uuid.New()}
	f.hub = &events.Hub{Redis: f.redis, Policy: allow{}, Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	return f
}

func fileCreated(team uuid.UUID, name string) domain.Event {
	return domain.Event{Type: domain.EventFileCreated, TeamID: team, OccurredAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		File: &domain.File{ID: uuid.New(), TeamID: team, Name: name}}
}

// add appends an event to the team's stream under id; it returns the
// payload as published.
func (f *hubFixture) add(t *testing.T, team uuid.UUID, id string) string {
	t.Helper()
	b, err := events.Encode(fileCreated(team, id))
	if err != nil {
		t.Fatal(err)
	}
	f.redis.mu.Lock()
	defer f.redis.mu.Unlock()
	f.redis.streams[key(team)] = append(f.redis.streams[key(team)], redis.XMessage{ID: id, Values: map[string]any{"e": string(b)}})
	return string(b)
}

// live announces an event on the channel, as a publish does after adding it.
func (f *hubFixture) live(t *testing.T, team uuid.UUID, id string) {
	t.Helper()
	b, err := events.Encode(fileCreated(team, id))
	if err != nil {
		t.Fatal(err)
	}
	f.hub.Handle(context.Background(), events.Channel, team.String()+" "+id+" "+string(b))
}

func (f *hubFixture) subscribe(t *testing.T, lastID string) *events.Subscription {
	t.Helper()
	ctx := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New()})
	s, err := f.hub.Subscribe(ctx, f.team, lastID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// queued drains what the subscription has queued: ids, and "reset@id" for
// a reset. Delivery is synchronous, so what was handed in is queued.
func queued(s *events.Subscription) []string {
	var out []string
	for {
		select {
		case e := <-s.Events():
			if e.Type == domain.EventReset {
				out = append(out, "reset@"+e.ID)
				continue
			}
			out = append(out, e.ID)
		default:
			return out
		}
	}
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestSubscribeStartsAtTheNewest: a new subscriber gets what comes after
// the newest event, each event once, in id order: a late or repeated
// announcement is dropped.
func TestSubscribeStartsAtTheNewest(t *testing.T) {
	f := newHub()
	f.add(t, f.team, "1-0")
	f.add(t, f.team, "2-0")
	s := f.subscribe(t, "")
	for _, id := range []string{"2-0", "3-0", "3-0", "2-5", "4-0", "4-1"} {
		f.live(t, f.team, id)
	}
	if got := queued(s); !equal(got, []string{"3-0", "4-0", "4-1"}) {
		t.Fatalf("got %v; want 3-0 4-0 4-1", got)
	}
}

// TestResumeBacklogThenLive: with Last-Event-ID the backlog after it comes
// first, then the events announced while it was read, each once.
func TestResumeBacklogThenLive(t *testing.T) {
	f := newHub()
	for _, id := range []string{"1-0", "2-0", "3-0", "4-0", "5-0"} {
		f.add(t, f.team, id)
	}
	f.redis.during = func() {
		f.redis.during = nil
		f.live(t, f.team, "5-0") // announced, and already in the backlog
		f.live(t, f.team, "6-0")
	}
	s := f.subscribe(t, "2-0")
	if got := queued(s); !equal(got, []string{"3-0", "4-0", "5-0", "6-0"}) {
		t.Fatalf("got %v; want 3-0 4-0 5-0 6-0", got)
	}
}

// TestResumeResets: when events after Last-Event-ID may be gone from the
// backlog (trimmed, or expired), the first event is a reset; when the
// next one is still there, there is none.
func TestResumeResets(t *testing.T) {
	for name, tc := range map[string]struct {
		stream []string
		last   string
		want   []string
	}{
		"trimmed":          {[]string{"10-0", "11-0"}, "5-0", []string{"reset@5-0", "10-0", "11-0"}},
		"expired":          {nil, "5-0", []string{"reset@5-0"}},
		"the next is kept": {[]string{"5-1", "6-0"}, "5-0", []string{"5-1", "6-0"}},
		"caught up":        {[]string{"4-0", "5-0"}, "5-0", nil},
	} {
		t.Run(name, func(t *testing.T) {
			f := newHub()
			for _, id := range tc.stream {
				f.add(t, f.team, id)
			}
			if got := queued(f.subscribe(t, tc.last)); !equal(got, tc.want) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}

func TestSubscribeRefuses(t *testing.T) {
	future := time.Now().Add(2 * time.Hour).UnixMilli()
	for _, last := range []string{"abc", "1-x", "-1", "1", strings.Repeat("9", 30) + "-0", uuid.NewString(), itoa(future) + "-0"} {
		f := newHub()
		_, err := f.hub.Subscribe(context.Background(), f.team, last)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeInvalid || de.Fields[0].Pointer != "Last-Event-ID" {
			t.Errorf("Last-Event-ID %q: %v; want invalid", last, err)
		}
	}
	f := newHub()
	f.redis.err = errors.New("connection refused")
	_, err := f.hub.Subscribe(context.Background(), f.team, "")
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeUnavailable || de.RetryAfter <= 0 {
		t.Fatalf("Redis down: %v; want unavailable with Retry-After", err)
	}
	f = newHub()
	f.hub.Policy = refuse{}
	if _, err := f.hub.Subscribe(context.Background(), f.team, "1-0"); domain.ErrorCode(err) != domain.CodeNotFound || f.redis.reads != 0 {
		t.Fatalf("a caller the policy refuses: %v (%d reads); want its refusal before any read", err, f.redis.reads)
	}
}

func itoa(n int64) string {
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestTeamsAreApart: a subscriber gets its own team's events only.
func TestTeamsAreApart(t *testing.T) {
	f := newHub()
	s := f.subscribe(t, "")
	f.live(t, uuid.New(), "1-0")
	f.live(t, f.team, "2-0")
	if got := queued(s); !equal(got, []string{"2-0"}) {
		t.Fatalf("got %v", got)
	}
}

// TestSlowSubscriberIsDropped: one that falls more than the buffer behind
// is ended with ErrSlow (it reconnects with Last-Event-ID).
func TestSlowSubscriberIsDropped(t *testing.T) {
	f := newHub()
	s := f.subscribe(t, "")
	for i := 1; i <= events.SubscriptionBuffer+2; i++ {
		f.live(t, f.team, itoa(int64(i))+"-0")
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("not ended")
	}
	if !errors.Is(s.Err(), events.ErrSlow) {
		t.Fatalf("ended with %v", s.Err())
	}
}

// TestCloseEndsEverySubscription: closing the hub (shutdown) ends every
// subscription with ErrClosed and refuses new ones.
func TestCloseEndsEverySubscription(t *testing.T) {
	f := newHub()
	a, b := f.subscribe(t, ""), f.subscribe(t, "")
	f.hub.Close()
	for _, s := range []*events.Subscription{a, b} {
		if !errors.Is(s.Err(), events.ErrClosed) {
			t.Fatalf("ended with %v", s.Err())
		}
	}
	if _, err := f.hub.Subscribe(context.Background(), f.team, ""); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("subscribing after close: %v", err)
	}
}

// TestUnreadableMessagesAreSkipped: malformed messages and events of a
// newer wire version are skipped (the latter logged), and the stream
// goes on.
func TestUnreadableMessagesAreSkipped(t *testing.T) {
	f := newHub()
	s := f.subscribe(t, "")
	ctx := context.Background()
	for _, msg := range []string{"", "garbage", "not-a-uuid 1-0 {}", f.team.String() + " 1-0", f.team.String() + " 1-0 {oops",
		f.team.String() + " 2-0 " + `{"v":2,"type":"file.created"}`, f.team.String() + " bad-id " + f.add(t, f.team, "0-1")} {
		f.hub.Handle(ctx, events.Channel, msg)
	}
	f.live(t, f.team, "3-0")
	if got := queued(s); !equal(got, []string{"3-0"}) {
		t.Fatalf("got %v; want only 3-0", got)
	}
	if !strings.Contains(f.logs.String(), "newer wire version") {
		t.Fatalf("logs %q; want the newer version noted", f.logs.String())
	}
}

// TestControlMessages: a disabled user's streams end (ErrEnded), a
// deleted team's too and new ones are refused, and each message is
// acknowledged to its sender.
func TestControlMessages(t *testing.T) {
	f := newHub()
	var changed []string
	f.hub.Hooks.UserChanged = func(id uuid.UUID, disabled bool) {
		changed = append(changed, id.String()+map[bool]string{true: " disabled", false: " enabled"}[disabled])
	}
	ann, bob := uuid.New(), uuid.New()
	sub := func(user uuid.UUID, team uuid.UUID) *events.Subscription {
		s, err := f.hub.Subscribe(domain.WithPrincipal(context.Background(), &domain.Principal{UserID: user}), team, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	other := uuid.New()
	annS, bobS, bobOther := sub(ann, f.team), sub(bob, f.team), sub(bob, other)
	ctx := context.Background()
	f.hub.Handle(ctx, events.ControlChannel, events.ControlUserDisabled+" "+ann.String()+" ack:1")
	if !errors.Is(annS.Err(), events.ErrEnded) {
		t.Fatalf("ann's stream ended with %v", annS.Err())
	}
	f.hub.Handle(ctx, events.ControlChannel, events.ControlUserEnabled+" "+ann.String()+" ack:2")
	f.hub.Handle(ctx, events.ControlChannel, events.ControlTeamDeleted+" "+f.team.String()+" ack:3")
	if !errors.Is(bobS.Err(), events.ErrEnded) {
		t.Fatalf("bob's stream of the deleted team ended with %v", bobS.Err())
	}
	select {
	case <-bobOther.Done():
		t.Fatal("bob's stream of another team ended")
	default:
	}
	if _, err := f.hub.Subscribe(domain.WithPrincipal(ctx, &domain.Principal{UserID: bob}), f.team, ""); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("subscribing to the deleted team: %v; want not found", err)
	}
	f.hub.Handle(ctx, events.ControlChannel, "user-renamed "+ann.String()+" ack:4")
	f.hub.Handle(ctx, events.ControlChannel, events.ControlUserDisabled+" not-a-uuid ack:5")
	var acks []string
	for len(acks) < 3 {
		select {
		case a := <-f.redis.acks:
			acks = append(acks, a)
		case <-time.After(5 * time.Second):
			t.Fatalf("acknowledged %v; want ack:1 to ack:3", acks)
		}
	}
	sort.Strings(acks)
	if !equal(acks, []string{"ack:1", "ack:2", "ack:3"}) {
		t.Fatalf("acknowledged %v", acks)
	}
	if !equal(changed, []string{ann.String() + " disabled", ann.String() + " enabled"}) {
		t.Fatalf("user changes %v", changed)
	}
}
