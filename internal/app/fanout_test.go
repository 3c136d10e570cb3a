package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/notify"
	"github.com/conveyorhq/conveyor/internal/store"
	"github.com/conveyorhq/conveyor/internal/webhooks"
)

// TestFanoutRegistry: a registered Fanout runs in the notify consumer's
// transaction, after the webhook fan-out (it sees the delivery row that
// transaction inserted); its error rolls the whole batch back (no
// delivery, the cursor stays) and the batch comes again; once consumed,
// the events are not handed over again, and stay logged for the stream
// relay, which has not passed them.
func TestFanoutRegistry(t *testing.T) {
	c := newEventLogCase(t)
	ctx := context.Background()
	ep, err := c.store.CreateWebhookEndpoint(ctx, webhooks.Endpoint{ID: uuid.Must(uuid.NewV7()), TeamID: c.team,
		URL: "https://hooks.example.com/in", EventTypes: []string{webhooks.TypeFileCreated},
		Keys: notify.Keys{Current: notify.NewSecret()}})
	if err != nil {
		t.Fatal(err)
	}
	c.jc.upload("a.txt", []byte("a"))
	c.jc.upload("b.txt", []byte("b"))

	fail := true
	var seen []events.Record
	var inTx int
	errFanout := errors.New("fan-out refused")
	if err := c.store.RegisterFanout("test", store.FanoutFunc(func(ctx context.Context, q *db.Queries, recs []events.Record) error {
		rows, err := q.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{EndpointID: ep.ID, Limit: 10})
		if err != nil {
			return err
		}
		inTx = len(rows)
		if fail {
			return errFanout
		}
		seen = append(seen, recs...)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if err := c.store.RegisterFanout("test", store.FanoutFunc(nil)); err == nil {
		t.Fatal("a second fan-out under one name was registered")
	}

	if _, _, err := c.store.FanoutTeamEvents(ctx, c.team, 100); !errors.Is(err, errFanout) {
		t.Fatalf("fan-out step: %v; want the fan-out's error", err)
	}
	if inTx != 2 {
		t.Fatalf("the registered fan-out saw %d deliveries in its transaction; want the 2 the webhook fan-out inserted", inTx)
	}
	if got := waitDeliveries(t, c.store, c.team, ep.ID, 0, 0); len(got) != 0 {
		t.Fatalf("a failed fan-out step left %d deliveries", len(got))
	}

	fail = false
	n, _, err := c.store.FanoutTeamEvents(ctx, c.team, 100)
	if err != nil || n != 2 || len(seen) != 2 {
		t.Fatalf("fan-out step: n=%d err=%v, the fan-out saw %d events; want 2", n, err, len(seen))
	}
	if got := waitDeliveries(t, c.store, c.team, ep.ID, 2, 0); len(got) != 2 {
		t.Fatalf("%d deliveries; want 2", len(got))
	}
	if n, _, err := c.store.FanoutTeamEvents(ctx, c.team, 100); err != nil || n != 0 || len(seen) != 2 {
		t.Fatalf("a second step passed %d events (err %v); want none again", n, err)
	}
	if left := c.logged(t); len(left) != 2 {
		t.Fatalf("%d events logged for the stream relay; want both still", len(left))
	}
	c.relay(c.store).Round(ctx)
	if left := c.logged(t); len(left) != 0 {
		t.Fatalf("still logged after both consumers: %v", left)
	}
}
