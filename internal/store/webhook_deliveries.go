package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/webhooks"
)

func deliveryFromRow(r db.WebhookDelivery) webhooks.Delivery {
	d := webhooks.Delivery{ID: r.ID, EndpointID: r.EndpointID, MessageID: r.MsgID, EventType: r.EventType,
		Status: r.Status, CreatedAt: r.CreatedAt}
	if r.Status == webhooks.StatusPending {
		d.NextAttemptAt = r.NextAttemptAt
	}
	return d
}

func attemptFromRow(r db.WebhookAttempt) webhooks.Attempt {
	a := webhooks.Attempt{At: r.At, Duration: time.Duration(r.DurationMs) * time.Millisecond, Response: r.Response, Error: r.Error}
	if r.StatusCode != nil {
		a.StatusCode = int(*r.StatusCode)
	}
	return a
}

// WebhookDeliveries lists an endpoint's deliveries, newest first, each
// with its attempts (oldest first); not-found when the team has no such
// endpoint.
func (s *Store) WebhookDeliveries(ctx context.Context, teamID, endpointID uuid.UUID, page domain.PageRequest) (domain.Page[webhooks.Delivery], error) {
	var rows []db.WebhookDelivery
	var attempts []db.WebhookAttempt
	err := s.read(ctx, func(q *db.Queries) (err error) {
		if _, err = q.GetWebhookEndpoint(ctx, db.GetWebhookEndpointParams{TeamID: teamID, ID: endpointID}); err != nil {
			return err
		}
		rows, err = q.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{EndpointID: endpointID, Before: page.After, Limit: int32(page.Limit + 1)})
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		attempts, err = q.ListWebhookAttempts(ctx, ids)
		return err
	})
	if err != nil {
		return domain.Page[webhooks.Delivery]{}, notFound(err, "Webhook endpoint")
	}
	byID := map[uuid.UUID][]webhooks.Attempt{}
	for _, a := range attempts {
		byID[a.DeliveryID] = append(byID[a.DeliveryID], attemptFromRow(a))
	}
	items := make([]webhooks.Delivery, len(rows))
	for i, r := range rows {
		items[i] = deliveryFromRow(r)
		items[i].Attempts = byID[r.ID]
	}
	return domain.NewPage(items, page.Limit, func(d webhooks.Delivery) uuid.UUID { return d.ID }), nil
}
