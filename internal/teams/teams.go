// Package teams holds the rules about teams (tenants) and the caller's view
// of them.
package teams

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Store is what the service needs from the database.
type Store interface {
	CreateTeam(ctx context.Context, t domain.Team, creator *uuid.UUID) (domain.Team, error)
	Team(ctx context.Context, id uuid.UUID) (domain.Team, error)
	Teams(ctx context.Context, page domain.PageRequest) (domain.Page[domain.Team], error)
	TeamsOf(ctx context.Context, userID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Team], error)
	Memberships(ctx context.Context, userID uuid.UUID) ([]domain.Membership, error)
}

// Service implements the team rules. Who may call each method is declared
// in the API description and enforced by auth.Authorizer before it runs.
type Service struct {
	Store Store
}

// Create creates a team named name; the caller becomes its manager.
func (s *Service) Create(ctx context.Context, name string) (domain.Team, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return domain.Team{}, &domain.Error{Code: domain.CodeInvalid, Message: "A team name has 1 to 100 characters.",
			Fields: []domain.FieldError{{Pointer: "/name", Detail: "must have 1 to 100 characters, not only spaces"}}}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.Team{}, err
	}
	var creator *uuid.UUID
	if p := domain.PrincipalFrom(ctx); p != nil {
		creator = &p.UserID
	}
	return s.Store.CreateTeam(ctx, domain.Team{ID: id, Name: name}, creator)
}

// Get returns a team.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (domain.Team, error) {
	return s.Store.Team(ctx, id)
}

// List returns the teams the caller may see: every team for platform
// admins, their own teams for everyone else.
func (s *Service) List(ctx context.Context, page domain.PageRequest) (domain.Page[domain.Team], error) {
	p := domain.PrincipalFrom(ctx)
	if p == nil {
		return domain.Page[domain.Team]{}, domain.Errorf(domain.CodeUnauthenticated, "Authentication is required.")
	}
	if p.PlatformAdmin {
		return s.Store.Teams(ctx, page)
	}
	return s.Store.TeamsOf(ctx, p.UserID, page)
}

// Me returns the caller and their memberships.
func (s *Service) Me(ctx context.Context) (*domain.Principal, []domain.Membership, error) {
	p := domain.PrincipalFrom(ctx)
	if p == nil {
		return nil, nil, domain.Errorf(domain.CodeUnauthenticated, "Authentication is required.")
	}
	ms, err := s.Store.Memberships(ctx, p.UserID)
	return p, ms, err
}
