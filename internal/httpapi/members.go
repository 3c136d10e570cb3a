package httpapi

import (
	"context"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func memberOut(m domain.Member) api.Member {
	status := api.MemberStatusActive
	if m.Pending {
		status = api.MemberStatusInvited
	}
	return api.Member{UserId: m.UserID, Email: m.Email, Name: m.Name, Role: api.TeamRole(m.Role), Status: status, CreatedAt: m.CreatedAt}
}

// ListMembers implements api.StrictServerInterface.
func (s *Server) ListMembers(ctx context.Context, req api.ListMembersRequestObject) (api.ListMembersResponseObject, error) {
	scope := "ListMembers:" + req.TeamId.String()
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Teams.Members(ctx, req.TeamId, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, memberOut)
	return api.ListMembers200JSONResponse{Body: api.MemberList{Items: items, NextCursor: next}}, nil
}

// AddMember implements api.StrictServerInterface.
func (s *Server) AddMember(ctx context.Context, req api.AddMemberRequestObject) (api.AddMemberResponseObject, error) {
	m, err := s.deps.Teams.AddMember(ctx, req.TeamId, string(req.Body.Email), domain.TeamRole(req.Body.Role))
	if err != nil {
		return nil, err
	}
	return api.AddMember201JSONResponse{Body: memberOut(m)}, nil
}

// GetMember implements api.StrictServerInterface.
func (s *Server) GetMember(ctx context.Context, req api.GetMemberRequestObject) (api.GetMemberResponseObject, error) {
	m, err := s.deps.Teams.Member(ctx, req.TeamId, req.UserId)
	if err != nil {
		return nil, err
	}
	etag := m.ETag()
	if domain.NoneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetMember304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetMember200JSONResponse{Body: memberOut(m), Headers: api.GetMember200ResponseHeaders{ETag: &etag}}, nil
}

// UpdateMember implements api.StrictServerInterface.
func (s *Server) UpdateMember(ctx context.Context, req api.UpdateMemberRequestObject) (api.UpdateMemberResponseObject, error) {
	m, err := s.deps.Teams.UpdateMember(ctx, req.TeamId, req.UserId, domain.TeamRole(req.Body.Role), req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	etag := m.ETag()
	return api.UpdateMember200JSONResponse{Body: memberOut(m), Headers: api.UpdateMember200ResponseHeaders{ETag: &etag}}, nil
}

// RemoveMember implements api.StrictServerInterface.
func (s *Server) RemoveMember(ctx context.Context, req api.RemoveMemberRequestObject) (api.RemoveMemberResponseObject, error) {
	if err := s.deps.Teams.RemoveMember(ctx, req.TeamId, req.UserId, req.Params.IfMatch); err != nil {
		return nil, err
	}
	return api.RemoveMember204Response{}, nil
}
