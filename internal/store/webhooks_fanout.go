package store

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/webhooks"
)

// fanoutWebhooks is the built-in Fanout: one pending delivery, due now,
// per event and enabled endpoint of the team that subscribes to its type.
// An event this release cannot read is skipped (logged).
func (s *Store) fanoutWebhooks(ctx context.Context, q *db.Queries, recs []events.Record) error {
	if len(recs) == 0 {
		return nil
	}
	team := recs[0].TeamID
	eps, err := q.ListFanoutEndpoints(ctx, team)
	if err != nil || len(eps) == 0 {
		return err
	}
	var p db.InsertWebhookDeliveriesParams
	p.TeamID = team
	for _, rec := range recs {
		m, ok, err := webhooks.FromRecord(rec)
		if err != nil {
			s.opts.Logger.Warn("webhooks: an event this release cannot read is not delivered", "team", team, "event", rec.ID.String(), "err", err)
			continue
		}
		if !ok {
			continue
		}
		for _, ep := range eps {
			if !slices.Contains(ep.EventTypes, m.Type) {
				continue
			}
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			p.Ids = append(p.Ids, id)
			p.EndpointIds = append(p.EndpointIds, ep.ID)
			p.MsgIds = append(p.MsgIds, m.ID)
			p.EventTypes = append(p.EventTypes, m.Type)
			p.Bodies = append(p.Bodies, string(m.Body))
		}
	}
	if len(p.Ids) == 0 {
		return nil
	}
	return q.InsertWebhookDeliveries(ctx, p)
}
