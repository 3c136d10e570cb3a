package teams_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/teams"
)

// auditStore records the filter the service passed on.
type auditStore struct {
	teams.Store
	got *domain.AuditFilter
}

func (a *auditStore) AuditEvents(_ context.Context, _ uuid.UUID, f domain.AuditFilter, _ domain.PageRequest) (domain.Page[domain.AuditEvent], error) {
	a.got = &f
	return domain.Page[domain.AuditEvent]{}, nil
}

// TestAuditFilterRange: since after until is refused on since, before the
// store is asked; an equal or open range is passed on as it is.
func TestAuditFilterRange(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Second)
	for _, c := range []struct {
		name         string
		since, until *time.Time
		refused      bool
	}{
		{"reversed", &t1, &t0, true},
		{"equal", &t0, &t0, false},
		{"ordered", &t0, &t1, false},
		{"since only", &t1, nil, false},
		{"until only", nil, &t0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &auditStore{}
			s := &teams.Service{Store: st, Policy: allowAll{}}
			f := domain.AuditFilter{Action: "member.added", Since: c.since, Until: c.until}
			_, err := s.AuditEvents(context.Background(), uuid.New(), f, domain.PageRequest{Limit: 20})
			if c.refused {
				var de *domain.Error
				if !asError(err, &de) || de.Code != domain.CodeInvalid || len(de.Fields) != 1 || de.Fields[0].Pointer != "since" {
					t.Fatalf("err = %v, want an invalid problem on since", err)
				}
				if st.got != nil {
					t.Fatal("the store was asked anyway")
				}
				return
			}
			if err != nil || st.got == nil || *st.got != f {
				t.Fatalf("err %v, store got %+v, want %+v", err, st.got, f)
			}
		})
	}
}
