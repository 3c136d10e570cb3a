package httpapi

import (
	"context"

	"github.com/conveyorhq/conveyor/gen/api"
)

// GetMe implements api.StrictServerInterface.
func (s *Server) GetMe(ctx context.Context, _ api.GetMeRequestObject) (api.GetMeResponseObject, error) {
	p, ms, err := s.deps.Teams.Me(ctx)
	if err != nil {
		return nil, err
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
	return api.GetMe200JSONResponse{Body: out}, nil
}
