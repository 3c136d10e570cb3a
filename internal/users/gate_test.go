package users_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/users"
)

// listing is a DisabledLister whose answer is held until release, so a
// test can apply changes while a read is in flight.
type listing struct {
	ids     []uuid.UUID
	err     error
	started chan struct{}
	release chan struct{}
}

func (l *listing) DisabledUsers(context.Context) ([]uuid.UUID, error) {
	if l.started != nil {
		close(l.started)
		<-l.release
	}
	return l.ids, l.err
}

type fixedAuth struct{ p *domain.Principal }

func (a fixedAuth) Authenticate(context.Context, string) (*domain.Principal, error) { return a.p, nil }

// TestGateRefusesDisabledUsers: the wrapped authenticator refuses a
// disabled user with the user-disabled code and lets them in once
// enabled; an API key passes whoever created it.
func TestGateRefusesDisabledUsers(t *testing.T) {
	ann := uuid.New()
	g := &users.Gate{Store: &listing{ids: []uuid.UUID{ann}}}
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := g.Wrap(fixedAuth{&domain.Principal{UserID: ann}})
	if _, err := a.Authenticate(context.Background(), "t"); domain.ErrorCode(err) != domain.CodeUserDisabled {
		t.Fatalf("disabled user: %v, want %s", err, domain.CodeUserDisabled)
	}
	g.Apply(ann, false)
	if p, err := a.Authenticate(context.Background(), "t"); err != nil || p.UserID != ann {
		t.Fatalf("enabled user: %v %v", p, err)
	}
	g.Apply(ann, true)
	key := g.Wrap(fixedAuth{&domain.Principal{APIKey: &domain.APIKeyScope{ID: uuid.New()}}})
	if _, err := key.Authenticate(context.Background(), "k"); err != nil {
		t.Fatalf("an API key: %v", err)
	}
}

// TestGateReloadKeepsChangesMadeMeanwhile: a read of the disabled users
// that started before a change cannot undo it, whichever way it went; a
// failed read keeps the set as it was.
func TestGateReloadKeepsChangesMadeMeanwhile(t *testing.T) {
	ann, bob := uuid.New(), uuid.New()
	l := &listing{ids: []uuid.UUID{bob}}
	g := &users.Gate{Store: l}
	if err := g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The read sees bob disabled and ann not; meanwhile ann is disabled
	// and bob enabled.
	l.started, l.release = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { done <- g.Reload(context.Background()) }()
	<-l.started
	g.Apply(ann, true)
	g.Apply(bob, false)
	close(l.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !g.Disabled(ann) || g.Disabled(bob) {
		t.Fatalf("after the read: ann disabled %v (want true), bob disabled %v (want false)", g.Disabled(ann), g.Disabled(bob))
	}
	// A later read is the truth again.
	l.started, l.ids = nil, []uuid.UUID{bob}
	if err := g.Reload(context.Background()); err != nil || g.Disabled(ann) || !g.Disabled(bob) {
		t.Fatalf("a fresh read: %v, ann %v, bob %v", err, g.Disabled(ann), g.Disabled(bob))
	}
	l.err = errors.New("primary down")
	if err := g.Reload(context.Background()); err == nil || !g.Disabled(bob) {
		t.Fatalf("a failed read: %v, bob disabled %v (want kept)", err, g.Disabled(bob))
	}
}
