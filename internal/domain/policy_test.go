package domain_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

type recordingPolicy struct {
	op   string
	team *uuid.UUID
	err  error
}

func (p *recordingPolicy) Check(_ context.Context, op string, team *uuid.UUID) error {
	p.op, p.team = op, team
	return p.err
}

func TestAllowFailsClosedWithoutPolicy(t *testing.T) {
	err := domain.Allow(context.Background(), nil, "getTeam", nil)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeForbidden {
		t.Fatalf("nil policy: got %v, want a forbidden domain error", err)
	}
}

func TestAllowAsksThePolicy(t *testing.T) {
	team := uuid.New()
	refused := domain.Errorf(domain.CodeForbidden, "no")
	p := &recordingPolicy{err: refused}
	if err := domain.Allow(context.Background(), p, "deleteTeam", &team); err != refused {
		t.Fatalf("got %v, want the policy's refusal", err)
	}
	if p.op != "deleteTeam" || p.team == nil || *p.team != team {
		t.Fatalf("policy asked about %q %v, want deleteTeam %v", p.op, p.team, team)
	}
	p.err = nil
	if err := domain.Allow(context.Background(), p, "listUsers", nil); err != nil || p.team != nil {
		t.Fatalf("allowed call: err %v team %v", err, p.team)
	}
}
