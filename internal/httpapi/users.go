package httpapi

import (
	"context"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func userAccountOut(u domain.UserAccount) api.UserAccount {
	out := api.UserAccount{Id: u.ID, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name,
		CreatedAt: u.CreatedAt, LastSeenAt: u.LastSeenAt, Memberships: make([]api.Membership, len(u.Memberships)),
		Disabled: u.Disabled(), DisabledAt: u.DisabledAt, DisabledBy: u.DisabledBy}
	for i, m := range u.Memberships {
		out.Memberships[i] = api.Membership{TeamId: m.TeamID, TeamName: m.TeamName, Role: api.TeamRole(m.Role)}
	}
	return out
}

// ListUsers implements api.StrictServerInterface.
func (s *Server) ListUsers(ctx context.Context, req api.ListUsersRequestObject) (api.ListUsersResponseObject, error) {
	scope := "ListUsers"
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Users.List(ctx, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, userAccountOut)
	return api.ListUsers200JSONResponse{Body: api.UserAccountList{Items: items, NextCursor: next}}, nil
}

// GetUser implements api.StrictServerInterface.
func (s *Server) GetUser(ctx context.Context, req api.GetUserRequestObject) (api.GetUserResponseObject, error) {
	u, err := s.deps.Users.Get(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	etag := u.ETag()
	if domain.NoneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetUser304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetUser200JSONResponse{Body: userAccountOut(u), Headers: api.GetUser200ResponseHeaders{ETag: &etag}}, nil
}

// UpdateUser implements api.StrictServerInterface.
func (s *Server) UpdateUser(ctx context.Context, req api.UpdateUserRequestObject) (api.UpdateUserResponseObject, error) {
	u, err := s.deps.Users.SetDisabled(ctx, req.UserId, req.Body.Disabled, req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	etag := u.ETag()
	return api.UpdateUser200JSONResponse{Body: userAccountOut(u), Headers: api.UpdateUser200ResponseHeaders{ETag: &etag}}, nil
}
