// Package users holds what platform admins see of the people who use
// Conveyor, and the record of when each was last seen.
package users

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Store is what the service needs from the database.
type Store interface {
	Users(ctx context.Context, page domain.PageRequest) (domain.Page[domain.UserAccount], error)
	User(ctx context.Context, id uuid.UUID) (domain.UserAccount, error)
	SetUserDisabled(ctx context.Context, id uuid.UUID, disabled bool, check func(current domain.UserAccount) error) (domain.UserAccount, error)
	UserNotifications(ctx context.Context, id uuid.UUID) (domain.NotificationSettings, error)
	UpdateUserNotifications(ctx context.Context, id uuid.UUID, u domain.NotificationUpdate) (domain.NotificationSettings, error)
}

// Announcer tells every API process that a user was disabled or enabled
// (events.Control), and returns once those it reaches have applied it.
type Announcer interface {
	UserDisabled(ctx context.Context, id uuid.UUID, disabled bool) error
}

// Service implements the rules about users: only platform admins (the
// role listUsers and getUser declare) see them. It asks Policy rather than
// trust that the HTTP layer did; without a Policy everything is refused.
type Service struct {
	Store  Store
	Policy domain.Policy
	// Gate is this process's view of who is disabled, updated at once by
	// SetDisabled; Announcer updates every process's. Either may be nil.
	Gate      *Gate
	Announcer Announcer
}

func (s *Service) allow(ctx context.Context, op string) error {
	return domain.Allow(ctx, s.Policy, op, nil)
}

// List returns a page of everyone who has called the API, newest first,
// with their teams.
func (s *Service) List(ctx context.Context, page domain.PageRequest) (domain.Page[domain.UserAccount], error) {
	if err := s.allow(ctx, "listUsers"); err != nil {
		return domain.Page[domain.UserAccount]{}, err
	}
	return s.Store.Users(ctx, page)
}

// Get returns a user with their teams.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (domain.UserAccount, error) {
	if err := s.allow(ctx, "getUser"); err != nil {
		return domain.UserAccount{}, err
	}
	return s.Store.User(ctx, id)
}

// SetDisabled disables (disabled) or enables a user, for platform admins
// (the role updateUser declares), if the user is still at version ifMatch
// (required; only the disabled state counts). A platform admin cannot
// disable themself. When it returns, this process refuses a disabled
// user's requests and has ended their event streams, and so has every
// other API process the announcement reached (all of them while Redis is
// up; the rest within the Gate's refresh interval). Errors: forbidden,
// not found, precondition required or failed, unprocessable (oneself).
func (s *Service) SetDisabled(ctx context.Context, id uuid.UUID, disabled bool, ifMatch *string) (domain.UserAccount, error) {
	if err := s.allow(ctx, "updateUser"); err != nil {
		return domain.UserAccount{}, err
	}
	if p := domain.PrincipalFrom(ctx); disabled && p != nil && p.APIKey == nil && p.UserID == id {
		return domain.UserAccount{}, domain.Errorf(domain.CodeUnprocessable, "You cannot disable yourself: ask another platform admin.")
	}
	if ifMatch == nil {
		return domain.UserAccount{}, domain.UserAccount{}.CheckIfMatch(nil)
	}
	u, err := s.Store.SetUserDisabled(ctx, id, disabled, func(cur domain.UserAccount) error { return cur.CheckIfMatch(ifMatch) })
	if err != nil {
		return domain.UserAccount{}, err
	}
	s.Gate.Apply(id, disabled)
	if s.Announcer != nil {
		// A process not reached applies it on its next re-read (the
		// announcer logs it).
		_ = s.Announcer.UserDisabled(ctx, id, disabled)
	}
	return u, nil
}

// Notifications returns the caller's own notification settings (the
// role getMe declares). ok is false when the caller is an API key, which
// has none.
func (s *Service) Notifications(ctx context.Context) (n domain.NotificationSettings, ok bool, err error) {
	if err := s.allow(ctx, "getMe"); err != nil {
		return n, false, err
	}
	p := domain.PrincipalFrom(ctx)
	if p == nil || p.APIKey != nil || p.UserID == uuid.Nil {
		return n, false, nil
	}
	n, err = s.Store.UserNotifications(ctx, p.UserID)
	return n, err == nil, err
}

// UpdateNotifications changes the caller's own notification settings (the
// role updateMe declares) and returns them. Errors: forbidden (an API
// key has no settings), invalid (an empty change).
func (s *Service) UpdateNotifications(ctx context.Context, u domain.NotificationUpdate) (domain.NotificationSettings, error) {
	if err := s.allow(ctx, "updateMe"); err != nil {
		return domain.NotificationSettings{}, err
	}
	p := domain.PrincipalFrom(ctx)
	if p == nil || p.APIKey != nil || p.UserID == uuid.Nil {
		return domain.NotificationSettings{}, domain.Errorf(domain.CodeForbidden, "API keys have no notification settings: sign in as a person.")
	}
	if u.JobFailedEmail == nil {
		return domain.NotificationSettings{}, &domain.Error{Code: domain.CodeInvalid, Message: "Name a setting to change.",
			Fields: []domain.FieldError{{Pointer: "/notifications", Detail: "no setting given"}}}
	}
	return s.Store.UpdateUserNotifications(ctx, p.UserID, u)
}

// Toucher records that a user was seen (store.Store.TouchUser).
type Toucher interface {
	TouchUser(ctx context.Context, id uuid.UUID)
}

// Authenticator turns a bearer token into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*domain.Principal, error)
}

// SeenInterval is how often, at most, a user's last-seen time is written
// by one process.
const SeenInterval = time.Minute

// maxRemembered bounds the throttle's memory: past it, entries older than
// the interval are dropped (they would not throttle anything anyway), so
// it holds at most the users seen within one interval.
const maxRemembered = 10_000

// Seen records when users call the API, cheaply: at most one write per
// user per Interval from each process, decided in memory, and written in
// the background so no request waits for it (the statement's own
// condition keeps several processes to about one write a minute too).
type Seen struct {
	Store    Toucher
	Interval time.Duration    // 0: SeenInterval
	Now      func() time.Time // nil: time.Now

	mu   sync.Mutex
	last map[uuid.UUID]time.Time
	wg   sync.WaitGroup
}

// Saw notes a call by userID, recording it unless this process recorded
// one less than Interval ago.
func (s *Seen) Saw(ctx context.Context, userID uuid.UUID) {
	if userID == uuid.Nil || s.Store == nil {
		return
	}
	now, every := time.Now, s.Interval
	if s.Now != nil {
		now = s.Now
	}
	if every <= 0 {
		every = SeenInterval
	}
	t := now()
	s.mu.Lock()
	if s.last == nil {
		s.last = map[uuid.UUID]time.Time{}
	}
	if prev, ok := s.last[userID]; ok && t.Sub(prev) < every {
		s.mu.Unlock()
		return
	}
	if len(s.last) >= maxRemembered {
		for id, at := range s.last {
			if t.Sub(at) >= every {
				delete(s.last, id)
			}
		}
	}
	s.last[userID] = t
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Store.TouchUser(context.WithoutCancel(ctx), userID)
	}()
}

// Wait waits for the writes in flight (tests, shutdown).
func (s *Seen) Wait() { s.wg.Wait() }

// Wrap returns a that notes every user it authenticates.
func (s *Seen) Wrap(a Authenticator) Authenticator {
	return seenAuthenticator{next: a, seen: s}
}

type seenAuthenticator struct {
	next Authenticator
	seen *Seen
}

func (a seenAuthenticator) Authenticate(ctx context.Context, token string) (*domain.Principal, error) {
	p, err := a.next.Authenticate(ctx, token)
	if err == nil && p != nil && p.APIKey == nil {
		a.seen.Saw(ctx, p.UserID)
	}
	return p, err
}
