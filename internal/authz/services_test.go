package authz_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/platform"
	"github.com/conveyorhq/conveyor/internal/teams"
	"github.com/conveyorhq/conveyor/internal/users"
	"github.com/conveyorhq/conveyor/openapi"
)

// policy is what every service takes (each declares it as its own Policy).
type policy interface {
	Check(ctx context.Context, op string, teamID *uuid.UUID) error
}

// services are the domain services behind the API, with no stores and
// nothing else: a method that touches anything before its role check
// panics.
type services struct {
	teams    *teams.Service
	users    *users.Service
	platform *platform.Service
	files    *files.Service
	jobs     *jobs.Service
	hub      *events.Hub
}

func newServices(p policy) services {
	return services{teams: &teams.Service{Policy: p}, users: &users.Service{Policy: p}, platform: &platform.Service{Policy: p},
		files: &files.Service{Policy: p}, jobs: &jobs.Service{Policy: p}, hub: &events.Hub{Policy: p}}
}

// call is one service method serving an operation, called in team.
type call func(s services, ctx context.Context, team uuid.UUID) error

var (
	someID  = uuid.MustParse("0190c0de-0000-7000-8000-00000000beef")
	etag    = `"AAAAAAAAAAAAAAAAAAAAAA"`
	page    = domain.PageRequest{Limit: 20}
	newName = "Renamed"
)

func errOf[T any](_ T, err error) error { return err }

// serving lists, by operationId, the service methods that serve each
// operation of the API description.
var serving = map[string][]call{
	"getMe": {func(s services, ctx context.Context, _ uuid.UUID) error { _, _, err := s.teams.Me(ctx); return err },
		func(s services, ctx context.Context, _ uuid.UUID) error {
			_, _, err := s.users.Notifications(ctx)
			return err
		}},
	"updateMe": {func(s services, ctx context.Context, _ uuid.UUID) error {
		on := false
		return errOf(s.users.UpdateNotifications(ctx, domain.NotificationUpdate{JobFailedEmail: &on}))
	}},
	"createTeam": {func(s services, ctx context.Context, _ uuid.UUID) error {
		return errOf(s.teams.Create(ctx, "Imaging"))
	}},
	"listTeams": {func(s services, ctx context.Context, _ uuid.UUID) error { return errOf(s.teams.List(ctx, page)) }},
	"getTeam":   {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.teams.Get(ctx, t)) }},
	"updateTeam": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.teams.Update(ctx, t, teams.TeamChange{Name: &newName}, &etag))
	}},
	"deleteTeam":  {func(s services, ctx context.Context, t uuid.UUID) error { return s.teams.Delete(ctx, t, nil) }},
	"listMembers": {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.teams.Members(ctx, t, page)) }},
	"addMember": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.teams.AddMember(ctx, t, "ada@example.com", domain.RoleMember))
	}},
	"getMember": {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.teams.Member(ctx, t, someID)) }},
	"updateMember": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.teams.UpdateMember(ctx, t, someID, domain.RoleViewer, nil))
	}},
	"removeMember": {func(s services, ctx context.Context, t uuid.UUID) error {
		return s.teams.RemoveMember(ctx, t, someID, nil)
	}},
	"createApiKey": {func(s services, ctx context.Context, t uuid.UUID) error {
		_, _, err := s.teams.CreateAPIKey(ctx, t, "ci", domain.RoleMember)
		return err
	}},
	"listApiKeys": {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.teams.APIKeys(ctx, t, page)) }},
	"getApiKey":   {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.teams.APIKey(ctx, t, someID)) }},
	"revokeApiKey": {func(s services, ctx context.Context, t uuid.UUID) error {
		return s.teams.RevokeAPIKey(ctx, t, someID, nil)
	}},
	"listAuditEvents": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.teams.AuditEvents(ctx, t, domain.AuditFilter{}, page))
	}},
	"listPlatformAuditEvents": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.teams.AllAuditEvents(ctx, &t, domain.AuditFilter{}, page))
	}},
	"listUsers": {func(s services, ctx context.Context, _ uuid.UUID) error { return errOf(s.users.List(ctx, page)) }},
	"getUser":   {func(s services, ctx context.Context, _ uuid.UUID) error { return errOf(s.users.Get(ctx, someID)) }},
	"updateUser": {func(s services, ctx context.Context, _ uuid.UUID) error {
		return errOf(s.users.SetDisabled(ctx, someID, true, &etag))
	}},
	"getPlatformStatus": {func(s services, ctx context.Context, _ uuid.UUID) error { return errOf(s.platform.Status(ctx)) }},
	"uploadFile": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.files.Upload(ctx, t, "a.txt", strings.NewReader("hello"), -1))
	}},
	"listFiles": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.files.List(ctx, t, domain.FileFilter{}, page))
	}},
	"getFile":    {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.files.Get(ctx, t, someID)) }},
	"deleteFile": {func(s services, ctx context.Context, t uuid.UUID) error { return s.files.Delete(ctx, t, someID) }},
	"downloadFile": {
		func(s services, ctx context.Context, t uuid.UUID) error {
			return errOf(s.files.DownloadURL(ctx, t, someID))
		},
		func(s services, ctx context.Context, t uuid.UUID) error {
			return errOf(s.files.Open(ctx, t, someID, ""))
		},
	},
	"createUpload": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.files.CreateUpload(ctx, t, "big.bin", 1<<20, ""))
	}},
	"completeUpload": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.files.CompleteUpload(ctx, t, someID, nil))
	}},
	"listProcessors": {func(s services, ctx context.Context, _ uuid.UUID) error { return errOf(s.jobs.ListProcessors(ctx)) }},
	"createJob": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.jobs.Create(ctx, t, &someID, "inspect", nil))
	}},
	"listJobs":       {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.jobs.List(ctx, t, page)) }},
	"getJob":         {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.jobs.Get(ctx, t, someID)) }},
	"cancelJob":      {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.jobs.Cancel(ctx, t, someID)) }},
	"retryJob":       {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.jobs.Retry(ctx, t, someID)) }},
	"listJobOutputs": {func(s services, ctx context.Context, t uuid.UUID) error { return errOf(s.jobs.Outputs(ctx, t, someID)) }},
	"downloadJobOutput": {
		func(s services, ctx context.Context, t uuid.UUID) error {
			return errOf(s.jobs.OutputURL(ctx, t, someID, "report.json"))
		},
		func(s services, ctx context.Context, t uuid.UUID) error {
			return errOf(s.jobs.OpenOutput(ctx, t, someID, "report.json"))
		},
	},
	"streamTeamEvents": {func(s services, ctx context.Context, t uuid.UUID) error {
		return errOf(s.hub.Subscribe(ctx, t, ""))
	}},
}

// guarded calls c, turning a panic (a nil store or client touched before
// the role check) into an error.
func guarded(c call, s services, ctx context.Context, team uuid.UUID) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked (touched a dependency before the role check?): %v", r)
		}
	}()
	return c(s, ctx, team)
}

// refuseAll refuses every check and records what it was asked.
type refuseAll struct {
	ops   []string
	teams []*uuid.UUID
}

var errRefused = domain.Errorf(domain.CodeForbidden, "refused by the test policy")

func (r *refuseAll) Check(_ context.Context, op string, teamID *uuid.UUID) error {
	r.ops, r.teams = append(r.ops, op), append(r.teams, teamID)
	return errRefused
}

func specTable(t *testing.T) authz.Table {
	t.Helper()
	tbl, err := authz.FromYAML(openapi.V1YAML)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestEveryOperationIsCheckedByItsService walks the API description: each
// operation is served by service methods that ask the policy about that
// very operation (in the team of the call, for team operations) before
// they touch anything, and return its refusal. A new operation without a
// service-side check fails here.
func TestEveryOperationIsCheckedByItsService(t *testing.T) {
	tbl := specTable(t)
	var missing, extra []string
	for op := range tbl {
		if strings.Contains(op, ".") {
			continue // a field's requirement (FieldKey), checked by its operation's service: TestFieldRequirements
		}
		if len(serving[op]) == 0 {
			missing = append(missing, op)
		}
	}
	for op := range serving {
		if _, ok := tbl[op]; !ok {
			extra = append(extra, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("operations without a service-side check: %v; checks of operations the spec lacks: %v", missing, extra)
	}
	for op, calls := range serving {
		for i, c := range calls {
			t.Run(fmt.Sprintf("%s/%d", op, i), func(t *testing.T) {
				rec := &refuseAll{}
				team := uuid.New()
				ctx := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), PlatformAdmin: true})
				err := guarded(c, newServices(rec), ctx, team)
				if err != errRefused {
					t.Fatalf("returned %v; want the policy's refusal", err)
				}
				if len(rec.ops) != 1 || rec.ops[0] != op {
					t.Fatalf("asked the policy about %v; want [%s] once", rec.ops, op)
				}
				if _, teamOp := tbl[op].TeamRole(); teamOp && (rec.teams[0] == nil || *rec.teams[0] != team) {
					t.Fatalf("checked in team %v; want the call's team %s", rec.teams[0], team)
				}
			})
		}
	}
}

// TestServicesWithoutPolicyRefuse: a service built without a policy
// refuses every operation (fail closed).
func TestServicesWithoutPolicyRefuse(t *testing.T) {
	ctx := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), PlatformAdmin: true})
	for op, calls := range serving {
		for i, c := range calls {
			if err := guarded(c, newServices(nil), ctx, uuid.New()); domain.ErrorCode(err) != domain.CodeForbidden {
				t.Errorf("%s/%d without a policy: %v; want forbidden", op, i, err)
			}
		}
	}
}
