package jobs

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// Policy checks the caller in ctx against the role table entry of an
// operation (authz.Policy); teamID is the team the call acts in.
type Policy interface {
	Check(ctx context.Context, op string, teamID *uuid.UUID) error
}

// allow refuses the caller unless the role table lets it call op in
// teamID; without a Policy everything is refused.
func (s *Service) allow(ctx context.Context, op string, teamID uuid.UUID) error {
	if s.Policy == nil {
		return domain.Errorf(domain.CodeForbidden, "Access rules are not configured.")
	}
	return s.Policy.Check(ctx, op, &teamID)
}

// ListProcessors returns the processors jobs may run.
func (s *Service) ListProcessors(ctx context.Context) ([]processors.Processor, error) {
	if s.Policy == nil {
		return nil, domain.Errorf(domain.CodeForbidden, "Access rules are not configured.")
	}
	if err := s.Policy.Check(ctx, "listProcessors", nil); err != nil {
		return nil, err
	}
	return s.Processors.All(), nil
}
