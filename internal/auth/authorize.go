package auth

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Memberships looks up a user's role in a team.
type Memberships interface {
	MembershipRole(ctx context.Context, teamID, userID uuid.UUID) (domain.TeamRole, error)
}

// Teams says whether a team exists (a deleted team does not).
type Teams interface {
	Team(ctx context.Context, id uuid.UUID) (domain.Team, error)
}

// Authorizer decides whether a principal meets an operation's declared
// requirement. It is the one place where roles are enforced.
//
// It remembers nothing between requests: a deleted team must answer 404
// at once on every API process, so a platform admin's request asks the
// database whether the team is live each time (one read, as a member's
// request asks for the membership).
type Authorizer struct {
	Memberships Memberships
	Teams       Teams
}

// Authorize returns nil when p meets need. teamID is the operation's team,
// nil for operations outside a team. A principal outside the team gets a
// not-found error (existence is not revealed); a member whose role is too
// low gets a forbidden error.
func (a *Authorizer) Authorize(ctx context.Context, p *domain.Principal, need domain.Requirement, teamID *uuid.UUID) error {
	if p == nil {
		return domain.Errorf(domain.CodeUnauthenticated, "Authentication is required.")
	}
	switch need {
	case domain.NeedAuthenticated:
		return nil
	case domain.NeedPlatformAdmin:
		if p.PlatformAdmin && p.APIKey == nil {
			return nil
		}
		return domain.Errorf(domain.CodeForbidden, "Only platform admins may do this.")
	}
	role, ok := need.TeamRole()
	if !ok {
		return domain.Errorf(domain.CodeInternal, "The operation declares no known role.")
	}
	if teamID == nil {
		return domain.Errorf(domain.CodeInternal, "A team operation without a team id.")
	}
	if p.PlatformAdmin {
		// Admins may act in every team, but only in live ones.
		_, err := a.Teams.Team(ctx, *teamID)
		return err
	}
	if p.APIKey != nil {
		if p.APIKey.TeamID != *teamID {
			return domain.Errorf(domain.CodeNotFound, "Team not found.")
		}
		if !p.APIKey.Role.Allows(role) {
			return domain.Errorf(domain.CodeForbidden, "This API key's role (%s) does not allow this; it needs %s.", p.APIKey.Role, role)
		}
		return nil
	}
	have, err := a.Memberships.MembershipRole(ctx, *teamID, p.UserID)
	if domain.IsNotFound(err) {
		return domain.Errorf(domain.CodeNotFound, "Team not found.")
	}
	if err != nil {
		return err
	}
	if !have.Allows(role) {
		return domain.Errorf(domain.CodeForbidden, "Your role in this team (%s) does not allow this; it needs %s.", have, role)
	}
	return nil
}

// IsAuthError reports whether err is an authentication failure.
func IsAuthError(err error) bool {
	var e *domain.Error
	return errors.As(err, &e) && e.Code == domain.CodeUnauthenticated
}
