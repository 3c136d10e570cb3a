package domain

import (
	"context"

	"github.com/google/uuid"
)

// Policy checks the caller in ctx against the role table entry of an
// operation (authz.Policy); teamID is the team the call acts in, nil
// outside a team. Every domain service asks it itself, whether or not the
// HTTP layer did.
type Policy interface {
	Check(ctx context.Context, op string, teamID *uuid.UUID) error
}

// Allow refuses the caller unless p lets it call op (in teamID, nil
// outside a team). A nil p refuses everyone: a service wired without its
// access rules fails closed.
func Allow(ctx context.Context, p Policy, op string, teamID *uuid.UUID) error {
	if p == nil {
		return Errorf(CodeForbidden, "Access rules are not configured.")
	}
	return p.Check(ctx, op, teamID)
}
