package teams_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/teams"
)

// listStore answers the team lists and records which one was asked.
type listStore struct {
	teams.Store
	all, mine, keyTeam domain.Team
	asked              string
	created            *uuid.UUID
}

func (l *listStore) Teams(context.Context, domain.PageRequest) (domain.Page[domain.Team], error) {
	l.asked = "all"
	return domain.Page[domain.Team]{Items: []domain.Team{l.all, l.mine, l.keyTeam}}, nil
}

func (l *listStore) TeamsOf(_ context.Context, userID uuid.UUID, _ domain.PageRequest) (domain.Page[domain.Team], error) {
	l.asked = "of " + userID.String()
	return domain.Page[domain.Team]{Items: []domain.Team{l.mine}}, nil
}

func (l *listStore) TeamWithUsage(_ context.Context, id uuid.UUID) (domain.Team, error) {
	l.asked = "one " + id.String()
	for _, t := range []domain.Team{l.all, l.mine, l.keyTeam} {
		if t.ID == id {
			return t, nil
		}
	}
	return domain.Team{}, domain.Errorf(domain.CodeNotFound, "Team not found.")
}

func (l *listStore) Team(ctx context.Context, id uuid.UUID) (domain.Team, error) {
	return l.TeamWithUsage(ctx, id)
}

func (l *listStore) WithUsage(context.Context, []domain.Team) error { return nil }

func (l *listStore) MembershipRole(context.Context, uuid.UUID, uuid.UUID) (domain.TeamRole, error) {
	return "", domain.Errorf(domain.CodeNotFound, "Team not found.")
}

func (l *listStore) CreateTeam(_ context.Context, t domain.Team, creator *uuid.UUID) (domain.Team, error) {
	l.created = creator
	return t, nil
}

func newListStore() *listStore {
	return &listStore{all: domain.Team{ID: uuid.New(), Name: "Other"}, mine: domain.Team{ID: uuid.New(), Name: "Mine"},
		keyTeam: domain.Team{ID: uuid.New(), Name: "Key's"}}
}

// TestListShowsWhatTheCallerMaySee: platform admins see every team, users
// their own, an API key its one team (and nothing past the first page).
func TestListShowsWhatTheCallerMaySee(t *testing.T) {
	st := newListStore()
	svc := &teams.Service{Store: st, Policy: authz.New(roleTable(t), &auth.Authorizer{Memberships: st, Teams: st})}
	user := &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC}
	key := &domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{ID: uuid.New(), TeamID: st.keyTeam.ID, Role: domain.RoleViewer}}
	admin := &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC, PlatformAdmin: true}
	as := func(p *domain.Principal) context.Context { return domain.WithPrincipal(context.Background(), p) }
	page := domain.PageRequest{Limit: 10}

	if got, err := svc.List(as(admin), page); err != nil || st.asked != "all" || len(got.Items) != 3 {
		t.Fatalf("admin: %d teams, asked %q, %v", len(got.Items), st.asked, err)
	}
	if got, err := svc.List(as(user), page); err != nil || st.asked != "of "+user.UserID.String() || len(got.Items) != 1 {
		t.Fatalf("user: %d teams, asked %q, %v", len(got.Items), st.asked, err)
	}
	got, err := svc.List(as(key), page)
	if err != nil || len(got.Items) != 1 || got.Items[0].ID != st.keyTeam.ID {
		t.Fatalf("key: %+v %v; want its team only", got.Items, err)
	}
	after := st.keyTeam.ID
	if got, err := svc.List(as(key), domain.PageRequest{Limit: 10, After: &after}); err != nil || len(got.Items) != 0 {
		t.Fatalf("key, second page: %+v %v; want none", got.Items, err)
	}
	if _, err := svc.List(as(nil), page); domain.ErrorCode(err) != domain.CodeUnauthenticated {
		t.Fatalf("anonymous: %v", err)
	}
	_, ms, err := svc.Me(as(key))
	if err != nil || len(ms) != 1 || ms[0].TeamID != st.keyTeam.ID || ms[0].Role != domain.RoleViewer || ms[0].TeamName != "Key's" {
		t.Fatalf("a key's /me: %+v %v; want its team with its role", ms, err)
	}
}

// TestCreateTeam: only platform admins create teams (the role createTeam
// declares, checked in the service); the name is cleaned and the creator
// recorded.
func TestCreateTeam(t *testing.T) {
	st := newListStore()
	svc := &teams.Service{Store: st, Policy: authz.New(roleTable(t), &auth.Authorizer{Memberships: st, Teams: st})}
	user := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC})
	if _, err := svc.Create(user, "Imaging"); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("a user creating a team: %v; want forbidden", err)
	}
	admin := &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC, PlatformAdmin: true}
	actx := domain.WithPrincipal(context.Background(), admin)
	if _, err := svc.Create(actx, " \x00 "); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("a bad name: %v", err)
	}
	got, err := svc.Create(actx, "  Imaging ")
	if err != nil || got.Name != "Imaging" || got.ID == uuid.Nil || st.created == nil || *st.created != admin.UserID {
		t.Fatalf("created %+v by %v: %v", got, st.created, err)
	}
}
