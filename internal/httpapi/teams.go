package httpapi

import (
	"context"

	"github.com/oapi-codegen/nullable"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/teams"
)

func teamOut(t domain.Team) api.Team {
	u, l := t.Usage, t.Limits
	return api.Team{Id: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, Usage: api.TeamUsage{StoredBytes: u.StoredBytes,
		FileCount: u.FileCount, Jobs: api.JobCounts{Queued: u.Jobs.Queued, Running: u.Jobs.Running,
			Succeeded: u.Jobs.Succeeded, Failed: u.Jobs.Failed, Cancelled: u.Jobs.Cancelled}},
		Quota: api.TeamQuota{MaxStoredBytes: l.MaxStoredBytes, MaxFileBytes: l.MaxFileBytes, MaxRunningJobs: l.MaxRunningJobs,
			IsDefault: api.TeamQuotaDefaults{MaxStoredBytes: l.StoredIsDefault, MaxFileBytes: l.FileIsDefault, MaxRunningJobs: l.RunningIsDefault}}}
}

// quotaChangeIn is the quota half of a team update; nil when it has none.
func quotaChangeIn(q *api.TeamQuotaUpdate) *domain.QuotaChange {
	if q == nil {
		return nil
	}
	return &domain.QuotaChange{MaxStoredBytes: setOf(q.MaxStoredBytes), MaxFileBytes: setOf(q.MaxFileBytes),
		MaxRunningJobs: setOf(q.MaxRunningJobs)}
}

// setOf reads a field that may be absent, null or a value.
func setOf[T any](n nullable.Nullable[T]) domain.Set[T] {
	if !n.IsSpecified() {
		return domain.Set[T]{}
	}
	if n.IsNull() {
		return domain.Set[T]{Present: true}
	}
	v := n.MustGet()
	return domain.Set[T]{Present: true, Value: &v}
}

// CreateTeam implements api.StrictServerInterface.
func (s *Server) CreateTeam(ctx context.Context, req api.CreateTeamRequestObject) (api.CreateTeamResponseObject, error) {
	t, err := s.deps.Teams.Create(ctx, req.Body.Name)
	if err != nil {
		return nil, err
	}
	loc := "/api/v1/teams/" + t.ID.String()
	return api.CreateTeam201JSONResponse{Body: teamOut(t), Headers: api.CreateTeam201ResponseHeaders{Location: &loc}}, nil
}

// ListTeams implements api.StrictServerInterface.
func (s *Server) ListTeams(ctx context.Context, req api.ListTeamsRequestObject) (api.ListTeamsResponseObject, error) {
	scope := "ListTeams"
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Teams.List(ctx, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, teamOut)
	return api.ListTeams200JSONResponse{Body: api.TeamList{Items: items, NextCursor: next}}, nil
}

// GetTeam implements api.StrictServerInterface.
func (s *Server) GetTeam(ctx context.Context, req api.GetTeamRequestObject) (api.GetTeamResponseObject, error) {
	t, err := s.deps.Teams.Get(ctx, req.TeamId)
	if err != nil {
		return nil, err
	}
	etag := t.ETag()
	if domain.NoneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetTeam304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetTeam200JSONResponse{Body: teamOut(t), Headers: api.GetTeam200ResponseHeaders{ETag: &etag}}, nil
}

// UpdateTeam implements api.StrictServerInterface.
func (s *Server) UpdateTeam(ctx context.Context, req api.UpdateTeamRequestObject) (api.UpdateTeamResponseObject, error) {
	t, err := s.deps.Teams.Update(ctx, req.TeamId, teams.TeamChange{Name: req.Body.Name, Quota: quotaChangeIn(req.Body.Quota)}, req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	etag := t.ETag()
	return api.UpdateTeam200JSONResponse{Body: teamOut(t), Headers: api.UpdateTeam200ResponseHeaders{ETag: &etag}}, nil
}

// DeleteTeam implements api.StrictServerInterface.
func (s *Server) DeleteTeam(ctx context.Context, req api.DeleteTeamRequestObject) (api.DeleteTeamResponseObject, error) {
	if err := s.deps.Teams.Delete(ctx, req.TeamId, req.Params.IfMatch); err != nil {
		return nil, err
	}
	return api.DeleteTeam204Response{}, nil
}
