package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/notify"
	"github.com/conveyorhq/conveyor/internal/webhooks"
)

// keysFromRow reads an endpoint's signing secrets; a stored secret that
// does not parse is a bug (they are written by CreateWebhookEndpoint and
// RotateWebhookSecret only).
func keysFromRow(secret string, previous *string, rotatedAt *time.Time) (notify.Keys, error) {
	cur, err := notify.ParseSecret(secret)
	if err != nil {
		return notify.Keys{}, fmt.Errorf("store: webhook secret: %w", err)
	}
	k := notify.Keys{Current: cur}
	if previous != nil && rotatedAt != nil {
		if k.Previous, err = notify.ParseSecret(*previous); err != nil {
			return notify.Keys{}, fmt.Errorf("store: previous webhook secret: %w", err)
		}
		k.RotatedAt = *rotatedAt
	}
	return k, nil
}

func endpointFromRow(r db.WebhookEndpoint) (webhooks.Endpoint, error) {
	keys, err := keysFromRow(r.Secret, r.PreviousSecret, r.RotatedAt)
	e := webhooks.Endpoint{ID: r.ID, TeamID: r.TeamID, URL: r.Url, Description: r.Description, EventTypes: r.EventTypes,
		Keys: keys, Enabled: r.Enabled, DisabledAt: r.DisabledAt, FailingSince: r.FailingSince,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.DisabledReason != nil {
		e.DisabledReason = *r.DisabledReason
	}
	return e, err
}

// CreateWebhookEndpoint stores a team's endpoint and audits it.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e webhooks.Endpoint) (webhooks.Endpoint, error) {
	var out webhooks.Endpoint
	err := s.write(ctx, func(q *db.Queries) error {
		// A deletion either waits for this, then purges the endpoint, or
		// has happened (not found).
		if _, err := q.LockLiveTeam(ctx, e.TeamID); err != nil {
			return notFound(mapErr(err), "Team")
		}
		row, err := q.CreateWebhookEndpoint(ctx, db.CreateWebhookEndpointParams{ID: e.ID, TeamID: e.TeamID, Url: e.URL,
			Description: e.Description, EventTypes: e.EventTypes, Secret: e.Keys.Current.String()})
		if err != nil {
			return err
		}
		if out, err = endpointFromRow(row); err != nil {
			return err
		}
		return s.audit(ctx, q, e.TeamID, domain.Audit{Action: "webhook.created", TargetType: "webhook", TargetID: e.ID.String(),
			Details: map[string]any{"url": e.URL, "event_types": e.EventTypes}})
	})
	return out, err
}

// WebhookEndpoints lists a team's endpoints, newest first.
func (s *Store) WebhookEndpoints(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[webhooks.Endpoint], error) {
	var rows []db.WebhookEndpoint
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListWebhookEndpoints(ctx, db.ListWebhookEndpointsParams{TeamID: teamID, Before: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	if err != nil {
		return domain.Page[webhooks.Endpoint]{}, err
	}
	items := make([]webhooks.Endpoint, len(rows))
	for i, r := range rows {
		if items[i], err = endpointFromRow(r); err != nil {
			return domain.Page[webhooks.Endpoint]{}, err
		}
	}
	return domain.NewPage(items, page.Limit, func(e webhooks.Endpoint) uuid.UUID { return e.ID }), nil
}

// WebhookEndpoint returns a team's endpoint, or a not-found error.
func (s *Store) WebhookEndpoint(ctx context.Context, teamID, id uuid.UUID) (webhooks.Endpoint, error) {
	var row db.WebhookEndpoint
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetWebhookEndpoint(ctx, db.GetWebhookEndpointParams{TeamID: teamID, ID: id})
		return err
	})
	if err != nil {
		return webhooks.Endpoint{}, notFound(err, "Webhook endpoint")
	}
	return endpointFromRow(row)
}

// ChangeWebhookEndpoint changes a team's endpoint in one transaction:
// decide sees it as it is (locked) and returns it as it should be, or an
// error that changes nothing. What decide may change: URL, description,
// event types, enabled (with DisabledReason), and the current secret (a
// rotation at Keys.RotatedAt: the old one becomes Keys.Previous). action
// names the change in the audit log.
func (s *Store) ChangeWebhookEndpoint(ctx context.Context, teamID, id uuid.UUID, action string,
	decide func(cur webhooks.Endpoint) (webhooks.Endpoint, error)) (webhooks.Endpoint, error) {
	var out webhooks.Endpoint
	err := s.write(ctx, func(q *db.Queries) error {
		row, err := q.LockWebhookEndpoint(ctx, db.LockWebhookEndpointParams{TeamID: teamID, ID: id})
		if err != nil {
			return notFound(mapErr(err), "Webhook endpoint")
		}
		cur, err := endpointFromRow(row)
		if err != nil {
			return err
		}
		next, err := decide(cur)
		if err != nil {
			return err
		}
		if next.URL != cur.URL || next.Description != cur.Description || !equalStrings(next.EventTypes, cur.EventTypes) {
			if row, err = q.UpdateWebhookEndpoint(ctx, db.UpdateWebhookEndpointParams{TeamID: teamID, ID: id, Url: next.URL,
				Description: next.Description, EventTypes: next.EventTypes}); err != nil {
				return err
			}
		}
		if next.Enabled != cur.Enabled {
			var reason *string
			if !next.Enabled {
				reason = &next.DisabledReason
			}
			if row, err = q.SetWebhookEndpointEnabled(ctx, db.SetWebhookEndpointEnabledParams{TeamID: teamID, ID: id,
				Enabled: next.Enabled, Reason: reason}); err != nil {
				return err
			}
		}
		if next.Keys.Current.String() != cur.Keys.Current.String() {
			if row, err = q.RotateWebhookSecret(ctx, db.RotateWebhookSecretParams{TeamID: teamID, ID: id,
				Secret: next.Keys.Current.String(), RotatedAt: &next.Keys.RotatedAt}); err != nil {
				return err
			}
		}
		if out, err = endpointFromRow(row); err != nil {
			return err
		}
		return s.audit(ctx, q, teamID, domain.Audit{Action: action, TargetType: "webhook", TargetID: id.String(),
			Details: map[string]any{"url": out.URL, "event_types": out.EventTypes, "enabled": out.Enabled}})
	})
	return out, err
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// DeleteWebhookEndpoint deletes a team's endpoint with its deliveries;
// check, when not nil, sees it as it is (locked) and may refuse.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, teamID, id uuid.UUID, check func(webhooks.Endpoint) error) error {
	return s.write(ctx, func(q *db.Queries) error {
		row, err := q.LockWebhookEndpoint(ctx, db.LockWebhookEndpointParams{TeamID: teamID, ID: id})
		if err != nil {
			return notFound(mapErr(err), "Webhook endpoint")
		}
		cur, err := endpointFromRow(row)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		if _, err := q.DeleteWebhookEndpoint(ctx, db.DeleteWebhookEndpointParams{TeamID: teamID, ID: id}); err != nil {
			return err
		}
		return s.audit(ctx, q, teamID, domain.Audit{Action: "webhook.deleted", TargetType: "webhook", TargetID: id.String(),
			Details: map[string]any{"url": cur.URL}})
	})
}
