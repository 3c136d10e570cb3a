package users_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/authz"
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
	svc := &users.Service{Store: fakeStore{}, Policy: authz.New(authz.Table{"getUser": domain.NeedPlatformAdmin},
		&auth.Authorizer{Memberships: noTeams{}, Teams: noTeams{}})}
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
		t.Errorf("without a Policy: %v", err)
	}
}

// accounts is a Store of one user, recording the changes made.
type accounts struct {
	u       domain.UserAccount
	changes int
	optOut  map[uuid.UUID]bool // job_failed_email turned off
}

func (a *accounts) UserNotifications(_ context.Context, id uuid.UUID) (domain.NotificationSettings, error) {
	return domain.NotificationSettings{JobFailedEmail: !a.optOut[id]}, nil
}

func (a *accounts) UpdateUserNotifications(_ context.Context, id uuid.UUID, u domain.NotificationUpdate) (domain.NotificationSettings, error) {
	if a.optOut == nil {
		a.optOut = map[uuid.UUID]bool{}
	}
	if u.JobFailedEmail != nil {
		a.optOut[id] = !*u.JobFailedEmail
		a.changes++
	}
	return a.UserNotifications(context.Background(), id)
}

func (a *accounts) Users(context.Context, domain.PageRequest) (domain.Page[domain.UserAccount], error) {
	return domain.Page[domain.UserAccount]{}, nil
}

func (a *accounts) User(_ context.Context, id uuid.UUID) (domain.UserAccount, error) {
	if id != a.u.ID {
		return domain.UserAccount{}, domain.Errorf(domain.CodeNotFound, "User not found.")
	}
	return a.u, nil
}

func (a *accounts) SetUserDisabled(_ context.Context, id uuid.UUID, disabled bool, check func(domain.UserAccount) error) (domain.UserAccount, error) {
	if id != a.u.ID {
		return domain.UserAccount{}, domain.Errorf(domain.CodeNotFound, "User not found.")
	}
	if err := check(a.u); err != nil {
		return domain.UserAccount{}, err
	}
	a.changes++
	a.u.DisabledAt = nil
	if disabled {
		now := time.Now()
		a.u.DisabledAt = &now
	}
	return a.u, nil
}

type announced struct{ got []bool }

func (a *announced) UserDisabled(_ context.Context, _ uuid.UUID, disabled bool) error {
	a.got = append(a.got, disabled)
	return nil
}

// TestSetDisabledRules: only platform admins may disable, If-Match is
// required and checked against the disabled state only (a user seen
// meanwhile fails nothing), an admin cannot disable themself, and a
// change is applied to this process's gate and announced to the others.
func TestSetDisabledRules(t *testing.T) {
	admin := &domain.Principal{UserID: uuid.New(), PlatformAdmin: true}
	target := domain.UserAccount{User: domain.User{ID: uuid.New(), Email: "ann@example.test"}}
	store := &accounts{u: target}
	gate := &users.Gate{Store: &listing{}}
	ann := &announced{}
	svc := &users.Service{Store: store, Policy: authz.New(authz.Table{"updateUser": domain.NeedPlatformAdmin}, &auth.Authorizer{}), Gate: gate, Announcer: ann}
	as := func(p *domain.Principal) context.Context { return domain.WithPrincipal(context.Background(), p) }
	etag := target.ETag()

	member := &domain.Principal{UserID: uuid.New()}
	if _, err := svc.SetDisabled(as(member), target.ID, true, &etag); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("a non-admin: %v, want forbidden", err)
	}
	key := &domain.Principal{PlatformAdmin: true, APIKey: &domain.APIKeyScope{ID: uuid.New()}}
	if _, err := svc.SetDisabled(as(key), target.ID, true, &etag); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("an API key: %v, want forbidden", err)
	}
	self := admin.UserID
	if _, err := svc.SetDisabled(as(admin), self, true, &etag); domain.ErrorCode(err) != domain.CodeUnprocessable {
		t.Fatalf("disabling oneself: %v, want unprocessable", err)
	}
	if _, err := svc.SetDisabled(as(admin), target.ID, true, nil); domain.ErrorCode(err) != domain.CodePreconditionRequired {
		t.Fatalf("without If-Match: %v, want precondition required", err)
	}
	if store.changes != 0 || gate.Disabled(target.ID) {
		t.Fatalf("a refused change was made: %d changes", store.changes)
	}
	seen := time.Now()
	store.u.LastSeenAt = &seen // seen again since the read: the ETag moved, not the setting
	if store.u.ETag() == etag {
		t.Fatal("the ETag does not show the last-seen time")
	}
	u, err := svc.SetDisabled(as(admin), target.ID, true, &etag)
	if err != nil || !u.Disabled() {
		t.Fatalf("disable: %+v %v", u, err)
	}
	if !gate.Disabled(target.ID) || len(ann.got) != 1 || !ann.got[0] {
		t.Fatalf("gate %v, announced %v", gate.Disabled(target.ID), ann.got)
	}
	if _, err := svc.SetDisabled(as(admin), target.ID, false, &etag); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("enable with the ETag from before the disable: %v, want precondition failed", err)
	}
	now := u.ETag()
	if u, err := svc.SetDisabled(as(admin), target.ID, false, &now); err != nil || u.Disabled() || gate.Disabled(target.ID) {
		t.Fatalf("enable: %+v %v (gate %v)", u, err, gate.Disabled(target.ID))
	}
	if len(ann.got) != 2 || ann.got[1] {
		t.Fatalf("announced %v", ann.got)
	}
}

// TestNotificationSettings: a person reads and changes their own settings;
// an API key has none (absent, and 403 on a change); an empty change is
// refused before the store is touched.
func TestNotificationSettings(t *testing.T) {
	store := &accounts{}
	svc := &users.Service{Store: store, Policy: authz.New(authz.Table{"getMe": domain.NeedAuthenticated, "updateMe": domain.NeedAuthenticated},
		&auth.Authorizer{Memberships: noTeams{}, Teams: noTeams{}})}
	me := uuid.New()
	person := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: me, Method: domain.AuthOIDC})
	key := domain.WithPrincipal(context.Background(), &domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{ID: uuid.New(), TeamID: uuid.New(), Role: domain.RoleMember}})

	if n, ok, err := svc.Notifications(person); err != nil || !ok || !n.JobFailedEmail {
		t.Fatalf("default: %+v %v %v", n, ok, err)
	}
	off := false
	if n, err := svc.UpdateNotifications(person, domain.NotificationUpdate{JobFailedEmail: &off}); err != nil || n.JobFailedEmail {
		t.Fatalf("turn off: %+v %v", n, err)
	}
	if n, _, _ := svc.Notifications(person); n.JobFailedEmail {
		t.Fatal("still on after turning it off")
	}
	if _, err := svc.UpdateNotifications(person, domain.NotificationUpdate{}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("empty change: %v", err)
	}
	if _, ok, err := svc.Notifications(key); ok || err != nil {
		t.Fatalf("api key: ok %v err %v", ok, err)
	}
	if _, err := svc.UpdateNotifications(key, domain.NotificationUpdate{JobFailedEmail: &off}); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("api key change: %v", err)
	}
	if store.changes != 1 {
		t.Fatalf("%d changes reached the store, want 1", store.changes)
	}
}
