package jobs

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
)

// allow refuses the caller unless the role table lets it call op in
// teamID; without a Policy everything is refused.
func (s *Service) allow(ctx context.Context, op string, teamID uuid.UUID) error {
	return domain.Allow(ctx, s.Policy, op, &teamID)
}

// ListProcessors returns the processors jobs may run.
func (s *Service) ListProcessors(ctx context.Context) ([]processors.Processor, error) {
	if err := domain.Allow(ctx, s.Policy, "listProcessors", nil); err != nil {
		return nil, err
	}
	return s.Processors.All(), nil
}
