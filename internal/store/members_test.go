package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/store"
)

// TestInvitationIsClaimedOnFirstLogin: a member invited by email is a
// pending user whose row the first token with that email takes over, so
// the member's id and memberships stay.
func TestInvitationIsClaimedOnFirstLogin(t *testing.T) {
	env := shared.Env(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: env.Stack.RedisAddr})
	defer rdb.Close()
	s, err := store.Open(ctx, store.Options{PrimaryURL: env.Stack.PrimaryURL, ReplicaURLs: env.Stack.ReplicaURLs, Marks: store.RedisMarks{Client: rdb}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	team := domain.Team{ID: uuid.Must(uuid.NewV7()), Name: "claims"}
	if _, err := s.CreateTeam(ctx, team, nil); err != nil {
		t.Fatal(err)
	}
	invited, err := s.ChangeMembership(ctx, team.ID, nil, "ivy@example.test", func(*domain.Member, int) (domain.MembershipDecision, error) {
		return domain.MembershipDecision{Role: domain.RoleViewer}, nil
	})
	if err != nil || !invited.Pending {
		t.Fatalf("invite: %+v %v", invited, err)
	}
	u, err := s.ProvisionUser(ctx, domain.User{Issuer: "https://idp.example", Subject: "ivy-sub", Email: "Ivy@Example.test", Name: "Ivy"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != invited.UserID {
		t.Fatalf("first login made user %s; want the invited %s", u.ID, invited.UserID)
	}
	// The claim moved the new user's read position: their first read, on
	// any replica, sees the membership.
	role, err := s.MembershipRole(domain.WithPrincipal(ctx, &domain.Principal{UserID: u.ID}), team.ID, u.ID)
	if err != nil || role != domain.RoleViewer {
		t.Fatalf("role after claim = %s, %v", role, err)
	}
}
