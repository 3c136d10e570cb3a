package httpapi

import (
	"context"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// GetMe implements api.StrictServerInterface.
func (s *Server) GetMe(ctx context.Context, _ api.GetMeRequestObject) (api.GetMeResponseObject, error) {
	out, err := s.me(ctx)
	if err != nil {
		return nil, err
	}
	return api.GetMe200JSONResponse{Body: out}, nil
}

// UpdateMe implements api.StrictServerInterface.
func (s *Server) UpdateMe(ctx context.Context, req api.UpdateMeRequestObject) (api.UpdateMeResponseObject, error) {
	var u domain.NotificationUpdate
	if n := req.Body.Notifications; n != nil {
		u.JobFailedEmail = n.JobFailedEmail
	}
	if _, err := s.deps.Users.UpdateNotifications(ctx, u); err != nil {
		return nil, err
	}
	out, err := s.me(ctx)
	if err != nil {
		return nil, err
	}
	return api.UpdateMe200JSONResponse{Body: out}, nil
}

// me is the caller as GET /me shows them.
func (s *Server) me(ctx context.Context) (api.Me, error) {
	p, ms, err := s.deps.Teams.Me(ctx)
	if err != nil {
		return api.Me{}, err
	}
	user := api.User{Id: p.UserID, Issuer: p.Issuer, Subject: p.Subject, Email: p.Email, Name: p.Name}
	if p.APIKey != nil {
		user = api.User{Id: p.APIKey.ID, Issuer: "conveyor", Subject: "api-key:" + p.APIKey.Prefix, Name: p.APIKey.Name}
	}
	out := api.Me{
		User:         user,
		AuthMethod:   api.MeAuthMethod(p.Method),
		PlatformRole: api.MePlatformRoleUser,
		Memberships:  make([]api.Membership, len(ms)),
	}
	if p.PlatformAdmin {
		out.PlatformRole = api.MePlatformRoleAdmin
	}
	for i, m := range ms {
		out.Memberships[i] = api.Membership{TeamId: m.TeamID, TeamName: m.TeamName, Role: api.TeamRole(m.Role)}
	}
	n, ok, err := s.deps.Users.Notifications(ctx)
	if err != nil {
		return api.Me{}, err
	}
	if ok {
		out.Notifications = &api.NotificationSettings{JobFailedEmail: n.JobFailedEmail}
	}
	return out, nil
}
