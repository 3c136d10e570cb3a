package teams

import (
	"context"
	"net/mail"
	"strings"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

var errLastManager = domain.Errorf(domain.CodeConflict, "A team keeps at least one manager: make someone else manager first.")

// keepsAManager decides a change to current, refusing one that would leave
// the team without a manager.
func keepsAManager(next domain.MembershipDecision) func(current *domain.Member, managers int) (domain.MembershipDecision, error) {
	return func(current *domain.Member, managers int) (domain.MembershipDecision, error) {
		losesManager := current != nil && current.Role == domain.RoleManager && (next.Remove || next.Role != domain.RoleManager)
		if losesManager && managers <= 1 {
			return next, errLastManager
		}
		return next, nil
	}
}

func checkRole(role domain.TeamRole) error {
	if !role.Valid() {
		return &domain.Error{Code: domain.CodeInvalid, Message: "role is manager, member or viewer.",
			Fields: []domain.FieldError{{Pointer: "/role", Detail: "unknown role"}}}
	}
	return nil
}

// Members lists a team's members and pending invitations.
func (s *Service) Members(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Member], error) {
	if err := s.allow(ctx, "listMembers", &teamID); err != nil {
		return domain.Page[domain.Member]{}, err
	}
	return s.Store.Members(ctx, teamID, page)
}

// AddMember gives the person with email a role in the team; someone who
// has never called the API is invited (a pending member). Someone already
// in the team gets the new role.
func (s *Service) AddMember(ctx context.Context, teamID uuid.UUID, email string, role domain.TeamRole) (domain.Member, error) {
	if err := s.allow(ctx, "addMember", &teamID); err != nil {
		return domain.Member{}, err
	}
	if err := checkRole(role); err != nil {
		return domain.Member{}, err
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || addr.Address != strings.TrimSpace(email) {
		return domain.Member{}, &domain.Error{Code: domain.CodeInvalid, Message: "email is not an email address.",
			Fields: []domain.FieldError{{Pointer: "/email", Detail: "not an email address"}}}
	}
	return s.Store.ChangeMembership(ctx, teamID, nil, strings.ToLower(addr.Address), keepsAManager(domain.MembershipDecision{Role: role}))
}

// Member returns a team's member.
func (s *Service) Member(ctx context.Context, teamID, userID uuid.UUID) (domain.Member, error) {
	if err := s.allow(ctx, "getMember", &teamID); err != nil {
		return domain.Member{}, err
	}
	return s.Store.Member(ctx, teamID, userID)
}

// existing decides a change to an existing member at version ifMatch (nil:
// any): not found, precondition failed, or the last-manager rule.
func existing(next domain.MembershipDecision, ifMatch *string) func(current *domain.Member, managers int) (domain.MembershipDecision, error) {
	return func(current *domain.Member, managers int) (domain.MembershipDecision, error) {
		if current == nil {
			return next, domain.Errorf(domain.CodeNotFound, "Member not found.")
		}
		if err := domain.CheckIfMatch(ifMatch, current.ETag()); err != nil {
			return next, err
		}
		return keepsAManager(next)(current, managers)
	}
}

// UpdateMember changes a member's role, if the membership is still at
// version ifMatch (nil: any); a team keeps at least one manager.
func (s *Service) UpdateMember(ctx context.Context, teamID, userID uuid.UUID, role domain.TeamRole, ifMatch *string) (domain.Member, error) {
	if err := s.allow(ctx, "updateMember", &teamID); err != nil {
		return domain.Member{}, err
	}
	if err := checkRole(role); err != nil {
		return domain.Member{}, err
	}
	return s.Store.ChangeMembership(ctx, teamID, &userID, "", existing(domain.MembershipDecision{Role: role}, ifMatch))
}

// RemoveMember removes a member (or withdraws an invitation), if still at
// version ifMatch (nil: any); a team keeps at least one manager.
func (s *Service) RemoveMember(ctx context.Context, teamID, userID uuid.UUID, ifMatch *string) error {
	if err := s.allow(ctx, "removeMember", &teamID); err != nil {
		return err
	}
	_, err := s.Store.ChangeMembership(ctx, teamID, &userID, "", existing(domain.MembershipDecision{Remove: true}, ifMatch))
	return err
}
