package httpapi

import (
	"context"

	"github.com/conveyorhq/conveyor/gen/api"
)

// ListPlatformAuditEvents implements api.StrictServerInterface.
func (s *Server) ListPlatformAuditEvents(ctx context.Context, req api.ListPlatformAuditEventsRequestObject) (api.ListPlatformAuditEventsResponseObject, error) {
	scope := "ListPlatformAuditEvents"
	if req.Params.TeamId != nil {
		scope += ":" + req.Params.TeamId.String()
	}
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Teams.AllAuditEvents(ctx, req.Params.TeamId, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, auditOut)
	return api.ListPlatformAuditEvents200JSONResponse{Body: api.AuditEventList{Items: items, NextCursor: next}}, nil
}
