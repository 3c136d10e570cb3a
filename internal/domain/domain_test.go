package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		have, need domain.TeamRole
		want       bool
	}{
		{domain.RoleManager, domain.RoleMember, true},
		{domain.RoleMember, domain.RoleMember, true},
		{domain.RoleViewer, domain.RoleMember, false},
		{domain.RoleViewer, domain.RoleViewer, true},
		{domain.RoleMember, domain.RoleManager, false},
		{domain.TeamRole("owner"), domain.RoleViewer, false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestParseRequirement(t *testing.T) {
	for _, s := range []string{"authenticated", "platform_admin", "team_viewer", "team_member", "team_manager"} {
		if _, err := domain.ParseRequirement(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := domain.ParseRequirement("team_owner"); err == nil {
		t.Error("team_owner parsed")
	}
	if r, ok := domain.NeedTeamMember.TeamRole(); !ok || r != domain.RoleMember {
		t.Errorf("team_member -> %s %v", r, ok)
	}
	if _, ok := domain.NeedPlatformAdmin.TeamRole(); ok {
		t.Error("platform_admin is not a team requirement")
	}
}

func TestErrorCode(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", domain.Errorf(domain.CodeNotFound, "Team not found."))
	if domain.ErrorCode(err) != domain.CodeNotFound || !domain.IsNotFound(err) {
		t.Fatalf("code = %s", domain.ErrorCode(err))
	}
	if domain.ErrorCode(errors.New("boom")) != domain.CodeInternal || domain.ErrorCode(nil) != "" {
		t.Fatal("plain errors are internal, nil has no code")
	}
	cause := errors.New("secret detail")
	w := domain.Wrap(cause, domain.CodeUnavailable, "try later")
	if !errors.Is(w, cause) || w.Message != "try later" {
		t.Fatal("Wrap keeps the cause for logs and the message for clients")
	}
}

func TestNewPage(t *testing.T) {
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	id := func(u uuid.UUID) uuid.UUID { return u }
	p := domain.NewPage(ids, 2, id)
	if len(p.Items) != 2 || p.Next == nil || *p.Next != ids[1] {
		t.Fatalf("limit+1 fetched: %+v", p)
	}
	p = domain.NewPage(ids[:2], 2, id)
	if len(p.Items) != 2 || p.Next != nil {
		t.Fatalf("last page: %+v", p)
	}
}
