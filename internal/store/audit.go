package store

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// audit records a in the transaction of q, with the context's principal
// as the actor and its request id; a platform event of no team has
// teamID uuid.Nil (NULL in the table).
func (s *Store) audit(ctx context.Context, q *db.Queries, teamID uuid.UUID, a domain.Audit) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	details := a.Details
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	typ, actorID, name := domain.PrincipalFrom(ctx).Actor()
	var team *uuid.UUID
	if teamID != uuid.Nil {
		team = &teamID
	}
	return q.InsertAuditEvent(ctx, db.InsertAuditEventParams{ID: id, TeamID: team, ActorType: typ, ActorID: actorID,
		ActorName: name, Action: a.Action, TargetType: a.TargetType, TargetID: a.TargetID, Details: b,
		RequestID: domain.RequestIDFrom(ctx)})
}

func auditFromRow(r db.AuditEvent) domain.AuditEvent {
	var team uuid.UUID // uuid.Nil: a platform event
	if r.TeamID != nil {
		team = *r.TeamID
	}
	return domain.AuditEvent{ID: r.ID, TeamID: team, ActorType: r.ActorType, ActorID: r.ActorID, ActorName: r.ActorName,
		Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, Details: r.Details, RequestID: r.RequestID, CreatedAt: r.CreatedAt}
}

// AuditEvents lists a team's audit events, newest first, narrowed by f.
func (s *Store) AuditEvents(ctx context.Context, teamID uuid.UUID, f domain.AuditFilter, page domain.PageRequest) (domain.Page[domain.AuditEvent], error) {
	var rows []db.AuditEvent
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListAuditEvents(ctx, db.ListAuditEventsParams{TeamID: teamID, Before: page.After,
			Action: nonEmpty(f.Action), ActorID: nonEmpty(f.ActorID), Since: f.Since, Until: f.Until, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, auditFromRow), page.Limit, func(e domain.AuditEvent) uuid.UUID { return e.ID }), err
}

// AllAuditEvents lists the audit events of every team, or of teamID when
// not nil, deleted teams included, newest first, narrowed by f.
func (s *Store) AllAuditEvents(ctx context.Context, teamID *uuid.UUID, f domain.AuditFilter, page domain.PageRequest) (domain.Page[domain.AuditEvent], error) {
	var rows []db.AuditEvent
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListAllAuditEvents(ctx, db.ListAllAuditEventsParams{TeamID: teamID, Before: page.After,
			Action: nonEmpty(f.Action), ActorID: nonEmpty(f.ActorID), Since: f.Since, Until: f.Until, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, auditFromRow), page.Limit, func(e domain.AuditEvent) uuid.UUID { return e.ID }), err
}
