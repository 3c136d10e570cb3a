package platform_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/platform"
)

type allowAdmins struct{}

func (allowAdmins) Authorize(_ context.Context, p *domain.Principal, need domain.Requirement, _ *uuid.UUID) error {
	if need != domain.NeedPlatformAdmin || p == nil || !p.PlatformAdmin {
		return domain.Errorf(domain.CodeForbidden, "no")
	}
	return nil
}

type fakeDB struct{ st domain.DatabaseStatus }

func (f fakeDB) DatabaseStatus(context.Context) domain.DatabaseStatus { return f.st }

type fakeQueues struct {
	delay   time.Duration
	err     error
	workers int
}

func (f fakeQueues) Queues() ([]domain.QueueStatus, error) {
	time.Sleep(f.delay)
	return []domain.QueueStatus{{Name: "default", Pending: 2}}, f.err
}

func (f fakeQueues) Workers() ([]domain.WorkerStatus, error) {
	out := make([]domain.WorkerStatus, f.workers)
	return out, f.err
}

func healthy() *platform.Service {
	lag := int64(0)
	return &platform.Service{Policy: authz.New(authz.Table{"getPlatformStatus": domain.NeedPlatformAdmin}, allowAdmins{}),
		Database: fakeDB{domain.DatabaseStatus{Primary: domain.ComponentStatus{Reachable: true},
			Replicas: []domain.ReplicaStatus{{Name: "replica1", Reachable: true, TakingReads: true, LagBytes: &lag}}}},
		Redis:  func(context.Context) error { return nil },
		S3:     func(context.Context) error { return nil },
		Queues: fakeQueues{workers: 1}, Timeout: 200 * time.Millisecond}
}

var admin = domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), PlatformAdmin: true})

func TestStatusSummary(t *testing.T) {
	down := errors.New("down")
	for name, tc := range map[string]struct {
		change   func(*platform.Service)
		degraded bool
	}{
		"all well":          {func(*platform.Service) {}, false},
		"redis down":        {func(s *platform.Service) { s.Redis = func(context.Context) error { return down } }, true},
		"s3 down":           {func(s *platform.Service) { s.S3 = func(context.Context) error { return down } }, true},
		"no worker":         {func(s *platform.Service) { s.Queues = fakeQueues{} }, true},
		"queues unreadable": {func(s *platform.Service) { s.Queues = fakeQueues{err: down, workers: 1} }, true},
		"primary down":      {func(s *platform.Service) { s.Database = fakeDB{domain.DatabaseStatus{}} }, true},
		"replica down": {func(s *platform.Service) {
			s.Database = fakeDB{domain.DatabaseStatus{Primary: domain.ComponentStatus{Reachable: true}, Replicas: []domain.ReplicaStatus{{Name: "replica1"}}}}
		}, true},
		"replica lagging": {func(s *platform.Service) {
			s.Database = fakeDB{domain.DatabaseStatus{Primary: domain.ComponentStatus{Reachable: true}, Replicas: []domain.ReplicaStatus{{Name: "replica1", Reachable: true}}}}
		}, true},
		"no replicas at all": {func(s *platform.Service) {
			s.Database = fakeDB{domain.DatabaseStatus{Primary: domain.ComponentStatus{Reachable: true}}}
		}, false},
	} {
		s := healthy()
		tc.change(s)
		st, err := s.Status(admin)
		if err != nil || st.Degraded != tc.degraded {
			t.Errorf("%s: degraded %v (%v), want %v", name, st.Degraded, err, tc.degraded)
		}
	}
}

// TestStatusDoesNotHang: a queue read that outlives the timeout is
// reported empty, and the answer comes by the timeout.
func TestStatusDoesNotHang(t *testing.T) {
	s := healthy()
	s.Queues = fakeQueues{delay: 2 * time.Second, workers: 1}
	start := time.Now()
	st, err := s.Status(admin)
	if took := time.Since(start); err != nil || took > time.Second {
		t.Fatalf("took %s (%v)", took, err)
	}
	if !st.Degraded || st.Queues != nil || st.Workers != nil || !st.Redis.Reachable {
		t.Fatalf("status with queues too slow to read: %+v", st)
	}
}

func TestStatusOnlyForPlatformAdmins(t *testing.T) {
	s := healthy()
	user := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New()})
	if _, err := s.Status(user); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("a user: %v", err)
	}
	s.Policy = nil
	if _, err := s.Status(admin); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("without a Policy: %v", err)
	}
}

// The backlog fair dispatch keeps in the database is reported beside the
// queues; when it cannot be read it is left out, and the database's own
// check says why.
func TestStatusDispatchBacklog(t *testing.T) {
	s := healthy()
	st, err := s.Status(admin)
	if err != nil || st.Dispatch != nil {
		t.Fatalf("no backlog reader: %+v %v", st.Dispatch, err)
	}
	s.Backlog = func(context.Context) (int64, time.Duration, error) { return 4980, 12 * time.Second, nil }
	if st, err = s.Status(admin); err != nil || st.Dispatch == nil || *st.Dispatch != (domain.DispatchStatus{Waiting: 4980, Oldest: 12 * time.Second}) || st.Degraded {
		t.Fatalf("backlog: %+v %v", st.Dispatch, err)
	}
	s.Backlog = func(context.Context) (int64, time.Duration, error) { return 0, 0, errors.New("primary down") }
	if st, err = s.Status(admin); err != nil || st.Dispatch != nil {
		t.Fatalf("unreadable backlog: %+v %v", st.Dispatch, err)
	}
}
