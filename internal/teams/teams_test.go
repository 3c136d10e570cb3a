package teams_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/teams"
	"github.com/conveyorhq/conveyor/openapi"
)

// fakeStore keeps teams and memberships in memory: the methods the rules
// under test use. Anything else panics (the embedded nil interface).
type fakeStore struct {
	teams.Store
	teams        map[uuid.UUID]domain.Team
	roles        map[[2]uuid.UUID]domain.TeamRole // team, user -> role
	renames      int
	quotaChanges int
}

func newFakeStore() *fakeStore {
	return &fakeStore{teams: map[uuid.UUID]domain.Team{}, roles: map[[2]uuid.UUID]domain.TeamRole{}}
}

func (f *fakeStore) Team(_ context.Context, id uuid.UUID) (domain.Team, error) {
	t, ok := f.teams[id]
	if !ok {
		return domain.Team{}, domain.Errorf(domain.CodeNotFound, "Team not found.")
	}
	return t, nil
}

func (f *fakeStore) MembershipRole(_ context.Context, teamID, userID uuid.UUID) (domain.TeamRole, error) {
	r, ok := f.roles[[2]uuid.UUID{teamID, userID}]
	if !ok {
		return "", domain.Errorf(domain.CodeNotFound, "Team not found.")
	}
	return r, nil
}

func (f *fakeStore) UpdateTeam(ctx context.Context, id uuid.UUID, decide func(domain.Team) (domain.TeamSettings, error)) (domain.Team, error) {
	cur, err := f.Team(ctx, id)
	if err != nil {
		return domain.Team{}, err
	}
	next, err := decide(cur)
	if err != nil {
		return domain.Team{}, err
	}
	if next.Name != cur.Name {
		f.renames++
	}
	if !next.Quota.Equal(cur.Quota) {
		f.quotaChanges++
	}
	cur.Name, cur.Quota = next.Name, next.Quota
	f.teams[id] = cur
	return cur, nil
}

var (
	rolesOnce sync.Once
	roles     authz.Table
	rolesErr  error
)

// roleTable is the role table of the API description the server serves.
func roleTable(tb testing.TB) authz.Table {
	tb.Helper()
	rolesOnce.Do(func() {
		roles, rolesErr = authz.FromYAML(openapi.V1YAML)
	})
	if rolesErr != nil {
		tb.Fatal(rolesErr)
	}
	return roles
}

// allowAll lets every caller through: for tests of rules behind the role
// check.
type allowAll struct{}

func (allowAll) Check(context.Context, string, *uuid.UUID) error { return nil }

// world is a team with a user of each role, an outsider, keys, and an admin.
type world struct {
	store   *fakeStore
	svc     *teams.Service
	team    domain.Team
	callers map[string]*domain.Principal
}

func newWorld(t *testing.T) *world {
	t.Helper()
	f := newFakeStore()
	team := domain.Team{ID: uuid.New(), Name: "Imaging", CreatedAt: time.Now().UTC(),
		Usage: domain.TeamUsage{StoredBytes: 10, FileCount: 1}}
	f.teams[team.ID] = team
	user := func(role domain.TeamRole) *domain.Principal {
		p := &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC}
		if role != "" {
			f.roles[[2]uuid.UUID{team.ID, p.UserID}] = role
		}
		return p
	}
	key := func(teamID uuid.UUID, role domain.TeamRole) *domain.Principal {
		return &domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{ID: uuid.New(), TeamID: teamID, Role: role, Prefix: "cvk_x"}}
	}
	return &world{store: f, team: team,
		svc: &teams.Service{Store: f, Policy: authz.New(roleTable(t), &auth.Authorizer{Memberships: f, Teams: f})},
		callers: map[string]*domain.Principal{
			"admin":              {UserID: uuid.New(), Method: domain.AuthOIDC, PlatformAdmin: true},
			"manager":            user(domain.RoleManager),
			"member":             user(domain.RoleMember),
			"viewer":             user(domain.RoleViewer),
			"outsider":           user(""),
			"member key":         key(team.ID, domain.RoleMember),
			"other team's key":   key(uuid.New(), domain.RoleMember),
			"anonymous (no one)": nil,
		}}
}

func (w *world) as(name string) context.Context {
	return domain.WithPrincipal(context.Background(), w.callers[name])
}

func strp(s string) *string { return &s }

func TestUpdateWhoMay(t *testing.T) {
	want := map[string]domain.Code{
		"admin": "", "manager": "",
		"member": domain.CodeForbidden, "viewer": domain.CodeForbidden, "member key": domain.CodeForbidden,
		"outsider": domain.CodeNotFound, "other team's key": domain.CodeNotFound,
		"anonymous (no one)": domain.CodeUnauthenticated,
	}
	for who, code := range want {
		t.Run(who, func(t *testing.T) {
			w := newWorld(t)
			etag := w.team.ETag()
			_, err := w.svc.Update(w.as(who), w.team.ID, teams.TeamChange{Name: strp("Renamed")}, &etag)
			if got := domain.ErrorCode(err); got != code {
				t.Fatalf("%s renaming: %q (%v), want %q", who, got, err, code)
			}
			if renamed := w.store.renames == 1; renamed != (code == "") {
				t.Fatalf("%s: renamed = %v", who, renamed)
			}
		})
	}
	t.Run("no access rules", func(t *testing.T) {
		w := newWorld(t)
		etag := w.team.ETag()
		svc := &teams.Service{Store: w.store}
		if _, err := svc.Update(w.as("admin"), w.team.ID, teams.TeamChange{Name: strp("X")}, &etag); domain.ErrorCode(err) != domain.CodeForbidden {
			t.Fatalf("without a Policy: %v; want refused", err)
		}
	})
}

func TestUpdateName(t *testing.T) {
	for _, bad := range []string{"", "   ", strings.Repeat("é", 101), "a\x00b", "tab\there", "c1\u0085control"} {
		w := newWorld(t)
		etag := w.team.ETag()
		_, err := w.svc.Update(w.as("manager"), w.team.ID, teams.TeamChange{Name: &bad}, &etag)
		var de *domain.Error
		if domain.ErrorCode(err) != domain.CodeInvalid || !asError(err, &de) || len(de.Fields) != 1 || de.Fields[0].Pointer != "/name" {
			t.Errorf("name %q: %v; want invalid /name", bad, err)
		}
		if w.store.renames != 0 {
			t.Errorf("name %q was stored", bad)
		}
	}
	w := newWorld(t)
	etag := w.team.ETag()
	got, err := w.svc.Update(w.as("manager"), w.team.ID, teams.TeamChange{Name: strp("  Imaging (EU) ")}, &etag)
	if err != nil || got.Name != "Imaging (EU)" {
		t.Fatalf("rename: %+v %v", got, err)
	}
	if _, err := w.svc.Update(w.as("manager"), w.team.ID, teams.TeamChange{Name: strp(strings.Repeat("é", 100))}, strp("*")); err != nil {
		t.Fatalf("100 characters: %v", err)
	}
}

func TestUpdateIfMatch(t *testing.T) {
	w := newWorld(t)
	ctx := w.as("manager")
	read := w.team.ETag()
	if _, err := w.svc.Update(ctx, w.team.ID, teams.TeamChange{Name: strp("A")}, nil); domain.ErrorCode(err) != domain.CodePreconditionRequired {
		t.Fatalf("without If-Match: %v; want precondition required", err)
	}
	if _, err := w.svc.Update(ctx, w.team.ID, teams.TeamChange{Name: strp("A")}, strp(`"AAAAAAAAAAAAAAAAAAAAAA"`)); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("a foreign ETag: %v; want precondition failed", err)
	}
	// Usage moves between the read and the rename: the rename still passes.
	busy := w.store.teams[w.team.ID]
	busy.Usage = domain.TeamUsage{StoredBytes: 999, FileCount: 7, Jobs: domain.JobCounts{Running: 2}}
	w.store.teams[w.team.ID] = busy
	if busy.ETag() == read {
		t.Fatal("the ETag does not change with usage: a 304 would keep stale usage")
	}
	renamed, err := w.svc.Update(ctx, w.team.ID, teams.TeamChange{Name: strp("A")}, strp(`"other-tag-it-is-not-it1", `+read))
	if err != nil || renamed.Name != "A" {
		t.Fatalf("rename with the ETag read before usage moved: %+v %v", renamed, err)
	}
	if renamed.ETag() == busy.ETag() {
		t.Fatal("the ETag did not change with the name")
	}
	// The version read before the rename is now stale.
	if _, err := w.svc.Update(ctx, w.team.ID, teams.TeamChange{Name: strp("B")}, &read); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("stale ETag after a rename: %v; want precondition failed", err)
	}
	next := renamed.ETag()
	if _, err := w.svc.Update(ctx, w.team.ID, teams.TeamChange{}, &next); err != nil || w.store.renames != 1 {
		t.Fatalf("a change of nothing: %v (renames %d)", err, w.store.renames)
	}
}

func asError(err error, target **domain.Error) bool {
	de, ok := err.(*domain.Error)
	if ok {
		*target = de
	}
	return ok
}

func (f *fakeStore) DeleteTeam(ctx context.Context, id uuid.UUID, check func(domain.Team) error) ([]domain.Job, error) {
	cur, err := f.Team(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := check(cur); err != nil {
		return nil, err
	}
	delete(f.teams, id)
	started := time.Now()
	return []domain.Job{{ID: uuid.New(), TeamID: id, Status: domain.JobCancelled, StartedAt: &started}}, nil
}

type fakeJobs struct{ cancelled []domain.Job }

func (f *fakeJobs) Cancelled(_ context.Context, js []domain.Job) {
	f.cancelled = append(f.cancelled, js...)
}

func TestDeleteWhoMay(t *testing.T) {
	for who := range newWorld(t).callers {
		t.Run(who, func(t *testing.T) {
			w := newWorld(t)
			jobs := &fakeJobs{}
			w.svc.Jobs = jobs
			err := w.svc.Delete(w.as(who), w.team.ID, nil)
			want := domain.CodeForbidden
			switch who {
			case "admin":
				want = ""
			case "anonymous (no one)":
				want = domain.CodeUnauthenticated
			}
			if got := domain.ErrorCode(err); got != want {
				t.Fatalf("%s deleting: %q (%v), want %q", who, got, err, want)
			}
			_, stillThere := w.store.teams[w.team.ID]
			if stillThere != (want != "") {
				t.Fatalf("%s: team still there = %v", who, stillThere)
			}
			if (len(jobs.cancelled) == 1) != (want == "") {
				t.Fatalf("%s: the cancelled jobs were followed up %d times", who, len(jobs.cancelled))
			}
		})
	}
}

func TestDeleteIfMatch(t *testing.T) {
	w := newWorld(t)
	ctx := w.as("admin")
	if err := w.svc.Delete(ctx, w.team.ID, strp(`"AAAAAAAAAAAAAAAAAAAAAA"`)); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("a stale If-Match: %v", err)
	}
	etag := w.team.ETag()
	if err := w.svc.Delete(ctx, w.team.ID, &etag); err != nil {
		t.Fatalf("the current ETag: %v", err)
	}
	if err := w.svc.Delete(ctx, w.team.ID, nil); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("deleting twice: %v; want not found", err)
	}
}

func i64(v int64) *int64 { return &v }

// TestQuotaChangeWhoMay: only platform admins change a quota; a team
// manager, who may rename, is refused the whole change (the name too).
func TestQuotaChangeWhoMay(t *testing.T) {
	want := map[string]domain.Code{
		"admin": "", "manager": domain.CodeForbidden, "member": domain.CodeForbidden,
		"outsider": domain.CodeNotFound, "member key": domain.CodeForbidden,
	}
	for who, code := range want {
		t.Run(who, func(t *testing.T) {
			w := newWorld(t)
			etag := w.team.ETag()
			ch := teams.TeamChange{Name: strp("Renamed"), Quota: &domain.QuotaChange{MaxStoredBytes: domain.Set[int64]{Present: true, Value: i64(1000)}}}
			got, err := w.svc.Update(w.as(who), w.team.ID, ch, &etag)
			if c := domain.ErrorCode(err); c != code {
				t.Fatalf("%s changing the quota: %q (%v), want %q", who, c, err, code)
			}
			if code != "" {
				if w.store.quotaChanges != 0 || w.store.renames != 0 {
					t.Fatalf("a refused change was applied: %d quota changes, %d renames", w.store.quotaChanges, w.store.renames)
				}
				return
			}
			if got.Quota.MaxStoredBytes == nil || *got.Quota.MaxStoredBytes != 1000 || got.Name != "Renamed" {
				t.Fatalf("after the change: %+v", got)
			}
		})
	}
}

// TestQuotaChangeAppliesAndResets: a limit left out stays, null resets it
// to the default, and the limits in force say which are defaults.
func TestQuotaChangeAppliesAndResets(t *testing.T) {
	w := newWorld(t)
	w.svc.Defaults = domain.QuotaDefaults{MaxStoredBytes: 100, MaxFileBytes: 10, MaxRunningJobs: 2}
	ctx := w.as("admin")
	set := teams.TeamChange{Quota: &domain.QuotaChange{MaxStoredBytes: domain.Set[int64]{Present: true, Value: i64(50)},
		MaxFileBytes: domain.Set[int64]{Present: true, Value: i64(5)}}}
	got, err := w.svc.Update(ctx, w.team.ID, set, strp("*"))
	if err != nil {
		t.Fatal(err)
	}
	if l := got.Limits; l.MaxStoredBytes != 50 || l.MaxFileBytes != 5 || l.MaxRunningJobs != 2 ||
		l.StoredIsDefault || l.FileIsDefault || !l.RunningIsDefault {
		t.Fatalf("limits after setting two: %+v", l)
	}
	reset := teams.TeamChange{Quota: &domain.QuotaChange{MaxFileBytes: domain.Set[int64]{Present: true}}}
	if got, err = w.svc.Update(ctx, w.team.ID, reset, strp("*")); err != nil {
		t.Fatal(err)
	}
	if l := got.Limits; l.MaxStoredBytes != 50 || l.MaxFileBytes != 10 || !l.FileIsDefault || l.StoredIsDefault {
		t.Fatalf("limits after resetting the file limit: %+v", l)
	}
	bad := teams.TeamChange{Quota: &domain.QuotaChange{MaxRunningJobs: domain.Set[int32]{Present: true, Value: new(int32)}}}
	if _, err := w.svc.Update(ctx, w.team.ID, bad, strp("*")); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("a zero limit: %v", err)
	}
	if _, err := w.svc.Update(ctx, w.team.ID, teams.TeamChange{Quota: &domain.QuotaChange{}}, strp("*")); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("an empty quota change: %v", err)
	}
}
