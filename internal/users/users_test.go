package users_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/users"
)

type touches struct {
	mu sync.Mutex
	n  map[uuid.UUID]int
}

func (t *touches) TouchUser(_ context.Context, id uuid.UUID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[uuid.UUID]int{}
	}
	t.n[id]++
}

func (t *touches) count(id uuid.UUID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n[id]
}

// TestSeenThrottles: a thousand calls by one user within a minute make one
// write; the next minute makes another; each user is throttled apart.
func TestSeenThrottles(t *testing.T) {
	store := &touches{}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	seen := &users.Seen{Store: store, Now: func() time.Time { return now }}
	ann, bob := uuid.New(), uuid.New()
	for i := range 1000 {
		seen.Saw(context.Background(), ann)
		if i%100 == 0 {
			seen.Saw(context.Background(), bob)
		}
		now = now.Add(50 * time.Millisecond) // 50 s in all
	}
	seen.Wait()
	if store.count(ann) != 1 || store.count(bob) != 1 {
		t.Fatalf("writes within a minute: ann %d, bob %d; want 1 each", store.count(ann), store.count(bob))
	}
	now = now.Add(10 * time.Second)
	seen.Saw(context.Background(), ann)
	seen.Saw(context.Background(), ann)
	seen.Wait()
	if store.count(ann) != 2 {
		t.Fatalf("writes after a minute: %d; want 2", store.count(ann))
	}
	seen.Saw(context.Background(), uuid.Nil) // an API key's principal has no user
	seen.Wait()
	if store.count(uuid.Nil) != 0 {
		t.Fatal("a nil user was recorded")
	}
}

// TestSeenMemoryIsBounded: past its bound, the throttle forgets users not
// seen within the interval.
func TestSeenMemoryIsBounded(t *testing.T) {
	store := &touches{}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	seen := &users.Seen{Store: store, Now: func() time.Time { return now }}
	first := uuid.New()
	seen.Saw(context.Background(), first)
	for range 20_000 {
		seen.Saw(context.Background(), uuid.New())
		now = now.Add(10 * time.Millisecond)
	}
	seen.Wait()
	// 200 s later: the first user was forgotten and is recorded again.
	seen.Saw(context.Background(), first)
	seen.Wait()
	if store.count(first) != 2 {
		t.Fatalf("first user written %d times", store.count(first))
	}
}

type fakeAuthn struct{ p *domain.Principal }

func (f fakeAuthn) Authenticate(context.Context, string) (*domain.Principal, error) { return f.p, nil }

func TestWrapNotesUsersNotKeys(t *testing.T) {
	store := &touches{}
	seen := &users.Seen{Store: store}
	user := &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC}
	if _, err := seen.Wrap(fakeAuthn{user}).Authenticate(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	key := &domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{ID: uuid.New()}}
	if _, err := seen.Wrap(fakeAuthn{key}).Authenticate(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	seen.Wait()
	if store.count(user.UserID) != 1 || len(store.n) != 1 {
		t.Fatalf("touches: %v", store.n)
	}
}

type fakeStore struct{ users.Store }

func (fakeStore) User(_ context.Context, id uuid.UUID) (domain.UserAccount, error) {
	return domain.UserAccount{User: domain.User{ID: id}}, nil
}

type noTeams struct{}

func (noTeams) MembershipRole(context.Context, uuid.UUID, uuid.UUID) (domain.TeamRole, error) {
	return "", domain.Errorf(domain.CodeNotFound, "Team not found.")
}

func (noTeams) Team(context.Context, uuid.UUID) (domain.Team, error) {
	return domain.Team{}, domain.Errorf(domain.CodeNotFound, "Team not found.")
}

// TestOnlyPlatformAdmins: users are shown to platform admins only.
func TestOnlyPlatformAdmins(t *testing.T) {
	svc := &users.Service{Store: fakeStore{}, Access: &auth.Authorizer{Memberships: noTeams{}, Teams: noTeams{}}}
	for name, tc := range map[string]struct {
		p    *domain.Principal
		want domain.Code
	}{
		"admin":     {&domain.Principal{UserID: uuid.New(), PlatformAdmin: true}, ""},
		"user":      {&domain.Principal{UserID: uuid.New()}, domain.CodeForbidden},
		"API key":   {&domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{ID: uuid.New(), Role: domain.RoleMember}}, domain.CodeForbidden},
		"anonymous": {nil, domain.CodeUnauthenticated},
	} {
		_, err := svc.Get(domain.WithPrincipal(context.Background(), tc.p), uuid.New())
		if got := domain.ErrorCode(err); got != tc.want {
			t.Errorf("%s: %q (%v), want %q", name, got, err, tc.want)
		}
	}
	if _, err := (&users.Service{Store: fakeStore{}}).Get(domain.WithPrincipal(context.Background(), &domain.Principal{PlatformAdmin: true}), uuid.New()); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Errorf("without Access: %v", err)
	}
}
