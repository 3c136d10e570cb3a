package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// ListPlatformAuditEvents implements api.StrictServerInterface.
func (s *Server) ListPlatformAuditEvents(ctx context.Context, req api.ListPlatformAuditEventsRequestObject) (api.ListPlatformAuditEventsResponseObject, error) {
	p := req.Params
	f := auditFilter(p.Action, p.Actor, p.Since, p.Until)
	scope := "ListPlatformAuditEvents"
	if p.TeamId != nil {
		scope += ":" + p.TeamId.String()
	}
	scope = auditScope(scope, f)
	pr, err := s.page(scope, p.Limit, p.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Teams.AllAuditEvents(ctx, p.TeamId, f, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, auditOut)
	return api.ListPlatformAuditEvents200JSONResponse{Body: api.AuditEventList{Items: items, NextCursor: next}}, nil
}

// auditFilter maps the generated filter parameters of the audit lists to
// a domain filter.
func auditFilter(action *api.AuditActionFilter, actor *api.AuditActorFilter, since *api.AuditSinceFilter, until *api.AuditUntilFilter) domain.AuditFilter {
	f := domain.AuditFilter{Since: since, Until: until}
	if action != nil {
		f.Action = *action
	}
	if actor != nil {
		f.ActorID = *actor
	}
	return f
}

// auditScope binds the filters into the cursor scope of an audit list, so
// a cursor continues only the list of the same filters. The action and
// actor patterns exclude the separator. Without filters the scope is the
// list's own, so cursors issued before the filters existed stay valid.
func auditScope(base string, f domain.AuditFilter) string {
	if f == (domain.AuditFilter{}) {
		return base
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("|action=" + f.Action)
	b.WriteString("|actor=" + f.ActorID)
	for _, t := range []*time.Time{f.Since, f.Until} {
		b.WriteString("|")
		if t != nil {
			b.WriteString(t.UTC().Format(time.RFC3339Nano))
		}
	}
	return b.String()
}
