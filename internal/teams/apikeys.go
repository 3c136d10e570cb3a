package teams

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// CreateAPIKey creates a key acting in the team with role (member or
// viewer: keys do not manage teams). The secret is returned once and only
// its hash is kept.
func (s *Service) CreateAPIKey(ctx context.Context, teamID uuid.UUID, name string, role domain.TeamRole) (domain.APIKey, string, error) {
	if err := s.allow(ctx, "createApiKey", &teamID); err != nil {
		return domain.APIKey{}, "", err
	}
	name, err := domain.CleanLabel(name, 100, "/name")
	if err != nil {
		return domain.APIKey{}, "", err
	}
	if role != domain.RoleMember && role != domain.RoleViewer {
		return domain.APIKey{}, "", &domain.Error{Code: domain.CodeInvalid, Message: "A key's role is member or viewer.",
			Fields: []domain.FieldError{{Pointer: "/role", Detail: "member or viewer"}}}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.APIKey{}, "", err
	}
	secret, prefix, hash, err := auth.NewAPIKeySecret()
	if err != nil {
		return domain.APIKey{}, "", err
	}
	k, err := s.Store.CreateAPIKey(ctx, domain.APIKey{ID: id, TeamID: teamID, Name: name, Role: role, Prefix: prefix,
		CreatedBy: domain.PrincipalFrom(ctx).CreatedBy()}, hash)
	if err != nil {
		return domain.APIKey{}, "", err
	}
	return k, secret, nil
}

// APIKeys lists a team's keys.
func (s *Service) APIKeys(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.APIKey], error) {
	if err := s.allow(ctx, "listApiKeys", &teamID); err != nil {
		return domain.Page[domain.APIKey]{}, err
	}
	return s.Store.APIKeys(ctx, teamID, page)
}

// APIKey returns a team's key.
func (s *Service) APIKey(ctx context.Context, teamID, id uuid.UUID) (domain.APIKey, error) {
	if err := s.allow(ctx, "getApiKey", &teamID); err != nil {
		return domain.APIKey{}, err
	}
	return s.Store.APIKey(ctx, teamID, id)
}

// RevokeAPIKey revokes a team's key, if it is still at version ifMatch
// (nil: any version).
func (s *Service) RevokeAPIKey(ctx context.Context, teamID, id uuid.UUID, ifMatch *string) error {
	if err := s.allow(ctx, "revokeApiKey", &teamID); err != nil {
		return err
	}
	return s.Store.RevokeAPIKey(ctx, teamID, id, func(k domain.APIKey) error { return domain.CheckIfMatch(ifMatch, k.ETag()) })
}

// AuditEvents lists what happened in a team, newest first, narrowed by f.
func (s *Service) AuditEvents(ctx context.Context, teamID uuid.UUID, f domain.AuditFilter, page domain.PageRequest) (domain.Page[domain.AuditEvent], error) {
	if err := s.allow(ctx, "listAuditEvents", &teamID); err != nil {
		return domain.Page[domain.AuditEvent]{}, err
	}
	if err := checkAuditFilter(f); err != nil {
		return domain.Page[domain.AuditEvent]{}, err
	}
	return s.Store.AuditEvents(ctx, teamID, f, page)
}

// checkAuditFilter refuses a filter whose time range is reversed: since
// after until.
func checkAuditFilter(f domain.AuditFilter) error {
	if f.Since != nil && f.Until != nil && f.Since.After(*f.Until) {
		return &domain.Error{Code: domain.CodeInvalid, Message: "since must not be after until.",
			Fields: []domain.FieldError{{Pointer: "since", Detail: "after until"}}}
	}
	return nil
}
