package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/notify"
	"github.com/conveyorhq/conveyor/internal/store"
	"github.com/conveyorhq/conveyor/internal/webhooks"
)

// waitDeliveries polls the endpoint's deliveries until there are n,
// failing after limit.
func waitDeliveries(t *testing.T, st *store.Store, team, ep uuid.UUID, n int, limit time.Duration) []webhooks.Delivery {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		page, err := st.WebhookDeliveries(context.Background(), team, ep, domain.PageRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) >= n {
			return page.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries within %s", len(page.Items), n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhookFanoutWithRedisDown: the notify consumer of the event log
// needs PostgreSQL alone. A change committed while Redis is stopped
// becomes a webhook delivery while Redis is still down; once Redis is
// back the stream relay, which waited, still appends every event to the
// team's stream, and the log is emptied once both consumers passed it.
// (When the only consumer was the stream relay, deliveries would have
// waited for Redis.)
func TestWebhookFanoutWithRedisDown(t *testing.T) {
	e := apptest.Start(t, apptest.Options{})
	jc := newJobsClient(t, e, "webhooks-redis", "Webhooks Redis")
	team := uuid.MustParse(jc.team)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{PrimaryURL: e.Stack.PrimaryURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ep, err := st.CreateWebhookEndpoint(ctx, webhooks.Endpoint{ID: uuid.Must(uuid.NewV7()), TeamID: team,
		URL: "https://hooks.example.com/in", EventTypes: []string{webhooks.TypeFileCreated, webhooks.TypeFileDeleted},
		Keys: notify.Keys{Current: notify.NewSecret()}})
	if err != nil {
		t.Fatal(err)
	}
	a := jc.upload("a.txt", []byte("first"))
	waitDeliveries(t, st, team, ep.ID, 1, 10*time.Second)

	if err := e.Stack.StopRedis(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = e.Stack.StartRedis(context.Background())
		}
	}()
	jc.upload("b.txt", []byte("second"))
	if r, body := jc.send("DELETE", "/teams/"+jc.team+"/files/"+a, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete with Redis down: %d %s", r.StatusCode, body)
	}
	got := waitDeliveries(t, st, team, ep.ID, 3, 10*time.Second)
	rdb := redis.NewClient(&redis.Options{Addr: e.Stack.RedisAddr, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("Redis answered: the deliveries did not come while it was down")
	}
	// Newest first: the delete, then b's upload.
	if got[0].EventType != webhooks.TypeFileDeleted || got[1].EventType != webhooks.TypeFileCreated {
		t.Fatalf("deliveries %s, %s; want file.deleted, file.created", got[0].EventType, got[1].EventType)
	}
	// The stream gets the two events committed while Redis was down (it
	// restarts empty: the first one was in its memory only).
	var ids []string
	for i := 1; i >= 0; i-- {
		ids = append(ids, got[i].MessageID[strings.LastIndex(got[i].MessageID, "_")+1:])
	}

	if err := e.Stack.StartRedis(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, err := rdb.XRange(ctx, "conveyor:events:"+jc.team, "-", "+").Result()
		var streamIDs []string
		for _, m := range entries {
			streamIDs = append(streamIDs, m.ID)
		}
		if err == nil && strings.Join(streamIDs, " ") == strings.Join(ids, " ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream holds %v (%v); want every event once, in order: %v", streamIDs, err, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for workerMetric(t, e, "conveyor_event_outbox_depth") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the log is not emptied once both consumers passed its events")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
