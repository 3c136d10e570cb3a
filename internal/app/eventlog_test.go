package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/store"
)

// nextEvents reads n events from s, failing after limit, and checks that
// their ids increase; a leading reset (Redis restarted empty) is skipped.
func nextEvents(t *testing.T, s *apptest.Stream, after events.ID, n int, limit time.Duration) []apptest.Frame {
	t.Helper()
	var got []apptest.Frame
	deadline := time.Now().Add(limit)
	for len(got) < n {
		f, ok := s.NextEvent(time.Until(deadline))
		if !ok {
			t.Fatalf("%d of %d events within %s: %+v", len(got), n, limit, got)
		}
		if f.Event == "reset" && len(got) == 0 {
			continue
		}
		id, okID := events.ParseID(f.ID)
		if !okID || !after.Less(id) {
			t.Fatalf("event id %q does not follow %v (so far %+v)", f.ID, after, got)
		}
		after = id
		got = append(got, f)
	}
	return got
}

func wantEvent(t *testing.T, f apptest.Frame, typ, contains string) {
	t.Helper()
	if f.Event != typ || !strings.Contains(f.Data, contains) {
		t.Fatalf("event %s %s; want %s of %s", f.Event, f.Data, typ, contains)
	}
}

// TestEventsSurviveRedisDown: changes committed while Redis is stopped
// succeed, their events wait in the log, and once Redis is back they reach
// a stream that stayed open and one that reconnects with Last-Event-ID, in
// commit order, each once. (When events were published to Redis after the
// commit, these were lost.)
func TestEventsSurviveRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own topology")
	}
	e := apptest.Start(t, apptest.Options{})
	jc := newJobsClient(t, e, "eventlog-redis", "Event log")
	auth := http.Header{"Authorization": {"Bearer " + jc.token}}
	streamURL := e.URL + "/api/v1/teams/" + jc.team + "/events"
	s := e.OpenStream(t, streamURL, auth)
	if s.Resp.StatusCode != 200 {
		t.Fatalf("stream: %d", s.Resp.StatusCode)
	}
	a := jc.upload("a.txt", []byte("first"))
	first := nextEvents(t, s, events.ID{}, 1, 30*time.Second)
	wantEvent(t, first[0], "file.created", a)
	firstID, _ := events.ParseID(first[0].ID)

	if err := e.Stack.StopRedis(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = e.Stack.StartRedis(context.Background())
		}
	}()
	b := jc.upload("b.txt", []byte("second"))
	if r, body := jc.send("DELETE", "/teams/"+jc.team+"/files/"+a, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete with Redis down: %d %s", r.StatusCode, body)
	}
	// The two events wait in the log while Redis is down.
	deadline := time.Now().Add(10 * time.Second)
	for workerMetric(t, e, "conveyor_event_outbox_depth") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox depth %v with Redis down; want 2", workerMetric(t, e, "conveyor_event_outbox_depth"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := e.Stack.StartRedis(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	got := nextEvents(t, s, firstID, 2, 30*time.Second)
	wantEvent(t, got[0], "file.created", b)
	wantEvent(t, got[1], "file.deleted", a)

	// A client that reconnects after its last event gets the same two,
	// under the same ids.
	again := e.OpenStream(t, streamURL, http.Header{"Authorization": {"Bearer " + jc.token}, "Last-Event-ID": {first[0].ID}})
	replayed := nextEvents(t, again, firstID, 2, 10*time.Second)
	for i := range got {
		if replayed[i].ID != got[i].ID || replayed[i].Event != got[i].Event {
			t.Fatalf("replayed %s %s; the open stream got %s %s", replayed[i].ID, replayed[i].Event, got[i].ID, got[i].Event)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for workerMetric(t, e, "conveyor_event_outbox_depth") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the log is not emptied once its events are relayed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventLogCase is a topology with an API and no worker: nothing relays
// the log but the test's own relays.
type eventLogCase struct {
	e     *apptest.Env
	jc    jobsClient
	store *store.Store
	redis *redis.Client
	team  uuid.UUID
}

func newEventLogCase(t *testing.T) *eventLogCase {
	t.Helper()
	if testing.Short() {
		t.Skip("starts its own topology")
	}
	e := apptest.Start(t, apptest.Options{NoWorker: true})
	st, err := store.Open(context.Background(), store.Options{PrimaryURL: e.Stack.PrimaryURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	rdb := redis.NewClient(&redis.Options{Addr: e.Stack.RedisAddr})
	t.Cleanup(func() { _ = rdb.Close() })
	jc := newJobsClient(t, e, "eventlog-relay", "Event relay")
	return &eventLogCase{e: e, jc: jc, store: st, redis: rdb, team: uuid.MustParse(jc.team)}
}

func (c *eventLogCase) relay(st events.RelayStore) *events.Relay {
	return &events.Relay{Store: st, Redis: c.redis, Batch: 3, Logger: slog.Default()}
}

// logged returns the ids of the team's events waiting in the log.
func (c *eventLogCase) logged(t *testing.T) []string {
	t.Helper()
	var ids []string
	_, _, err := c.store.RelayTeamEvents(context.Background(), c.team, 1000, func(_ context.Context, recs []events.Record) error {
		for _, r := range recs {
			ids = append(ids, r.ID.String())
		}
		return errPeek
	})
	if err != nil && !errors.Is(err, errPeek) {
		t.Fatal(err)
	}
	return ids
}

var errPeek = errors.New("peek only")

// dying is a relay store whose relay dies in the middle of a batch: the
// first deliver hands only part of the batch to Redis (or, whole, all of
// it), then the process is gone before it records anything.
type dying struct {
	events.RelayStore
	whole bool
	died  bool
}

var errDied = errors.New("relay killed")

func (d *dying) RelayTeamEvents(ctx context.Context, team uuid.UUID, limit int, deliver func(context.Context, []events.Record) error) (int, bool, error) {
	if d.died {
		return d.RelayStore.RelayTeamEvents(ctx, team, limit, deliver)
	}
	return d.RelayStore.RelayTeamEvents(ctx, team, limit, func(ctx context.Context, recs []events.Record) error {
		part := recs[:len(recs)/2+1]
		if d.whole {
			part = recs
		}
		if err := deliver(ctx, part); err != nil {
			return err
		}
		d.died = true
		return errDied
	})
}

// TestEventRelayKilledMidBatch: a relay that dies after handing part of a
// batch, or all of it, to Redis but before removing it from the log leaves
// the batch logged; the next relay delivers it again, and the stream (and
// a subscriber) has every event once, in commit order, under its logged
// id.
func TestEventRelayKilledMidBatch(t *testing.T) {
	c := newEventLogCase(t)
	s := c.e.OpenStream(t, c.e.URL+"/api/v1/teams/"+c.jc.team+"/events", http.Header{"Authorization": {"Bearer " + c.jc.token}})
	if s.Resp.StatusCode != 200 {
		t.Fatalf("stream: %d", s.Resp.StatusCode)
	}
	var files []string
	for _, name := range []string{"1.txt", "2.txt", "3.txt", "4.txt", "5.txt", "6.txt", "7.txt"} {
		files = append(files, c.jc.upload(name, []byte(name)))
	}
	ids := c.logged(t)
	if len(ids) != len(files) {
		t.Fatalf("%d events logged for %d uploads: %v", len(ids), len(files), ids)
	}
	ctx := context.Background()
	for _, whole := range []bool{false, true} {
		d := &dying{RelayStore: c.store, whole: whole}
		c.relay(d).Round(ctx)
		if !d.died {
			t.Fatal("the relay did not reach its batch")
		}
	}
	if left := c.logged(t); len(left) != len(ids) {
		t.Fatalf("after two dead relays %d events logged; want all %d still", len(left), len(ids))
	}
	r := c.relay(c.store)
	for range 10 {
		if !r.Round(ctx) && len(c.logged(t)) == 0 {
			break
		}
	}
	if left := c.logged(t); len(left) != 0 {
		t.Fatalf("still logged after relaying: %v", left)
	}
	entries, err := c.redis.XRange(ctx, "conveyor:events:"+c.jc.team, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var streamIDs []string
	for _, m := range entries {
		streamIDs = append(streamIDs, m.ID)
	}
	if strings.Join(streamIDs, " ") != strings.Join(ids, " ") {
		t.Fatalf("stream holds %v; want each logged id once, in order: %v", streamIDs, ids)
	}
	got := nextEvents(t, s, events.ID{}, len(files), 10*time.Second)
	for i, f := range got {
		wantEvent(t, f, "file.created", files[i])
		if f.ID != ids[i] {
			t.Fatalf("event %d has id %s; logged as %s", i, f.ID, ids[i])
		}
	}
	if f, ok := s.NextEvent(500 * time.Millisecond); ok {
		t.Fatalf("an event more than the log held: %+v", f)
	}
}

// TestRolledBackChangeLogsNoEvent: a change whose transaction fails at its
// commit, after its event row was written, leaves no event in the log and
// none reaches the stream; the same change committed logs its event, which
// the relay delivers.
func TestRolledBackChangeLogsNoEvent(t *testing.T) {
	c := newEventLogCase(t)
	ctx := context.Background()
	file := c.jc.upload("kept.txt", []byte("kept"))
	r := c.relay(c.store)
	r.Round(ctx) // the upload's event
	if left := c.logged(t); len(left) != 0 {
		t.Fatalf("the upload's event was not relayed: %v", left)
	}
	s := c.e.OpenStream(t, c.e.URL+"/api/v1/teams/"+c.jc.team+"/events", http.Header{"Authorization": {"Bearer " + c.jc.token}})
	if s.Resp.StatusCode != 200 {
		t.Fatalf("stream: %d", s.Resp.StatusCode)
	}

	// A trigger that refuses, at the commit (after the event row is
	// written), any transaction that deletes a file of this team.
	conn, err := pgx.Connect(ctx, c.e.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE FUNCTION test_refuse_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN RAISE EXCEPTION 'test: the commit is refused'; END $$`,
		`CREATE CONSTRAINT TRIGGER test_refuse_deleted AFTER UPDATE ON files
		 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
		 WHEN (NEW.deleted_at IS NOT NULL AND NEW.team_id = '` + c.jc.team + `')
		 EXECUTE FUNCTION test_refuse_deleted()`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if resp, body := c.jc.send("DELETE", "/teams/"+c.jc.team+"/files/"+file, "", nil, nil); resp.StatusCode < 500 {
		t.Fatalf("delete whose commit is refused: %d %s", resp.StatusCode, body)
	}
	if resp, _ := c.jc.send("GET", "/teams/"+c.jc.team+"/files/"+file, "", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("the file after a rolled-back delete: %d", resp.StatusCode)
	}
	if left := c.logged(t); len(left) != 0 {
		t.Fatalf("a rolled-back change left events in the log: %v", left)
	}
	r.Round(ctx)
	if f, ok := s.NextEvent(time.Second); ok {
		t.Fatalf("an event of a rolled-back change: %+v", f)
	}

	if _, err := conn.Exec(ctx, `DROP TRIGGER test_refuse_deleted ON files`); err != nil {
		t.Fatal(err)
	}
	if resp, body := c.jc.send("DELETE", "/teams/"+c.jc.team+"/files/"+file, "", nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if left := c.logged(t); len(left) != 1 {
		t.Fatalf("the committed delete logged %v; want one event", left)
	}
	r.Round(ctx)
	got := nextEvents(t, s, events.ID{}, 1, 10*time.Second)
	wantEvent(t, got[0], "file.deleted", file)
}
