package authz_test

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/openapi"
)

// recordAccess allows everything and records what it was asked.
type recordAccess struct {
	asked []domain.Requirement
	teams []*uuid.UUID
}

func (r *recordAccess) Authorize(_ context.Context, _ *domain.Principal, need domain.Requirement, teamID *uuid.UUID) error {
	r.asked = append(r.asked, need)
	r.teams = append(r.teams, teamID)
	return nil
}

func TestPolicyRefusesWhatItDoesNotKnow(t *testing.T) {
	team := uuid.New()
	ctx := domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), PlatformAdmin: true})
	acc := &recordAccess{}
	p := authz.New(authz.Table{"getTeam": domain.NeedTeamViewer, "getMe": domain.NeedAuthenticated}, acc)
	for name, check := range map[string]func() error{
		"an operation not in the table": func() error { return p.Check(ctx, "getTeamSecrets", &team) },
		"a name differing only in case": func() error { return p.Check(ctx, "GetTeam", &team) },
		"the empty name":                func() error { return p.Check(ctx, "", nil) },
		"a team operation without team": func() error { return p.Check(ctx, "getTeam", nil) },
		"a nil policy":                  func() error { return (*authz.Policy)(nil).Check(ctx, "getMe", nil) },
		"the zero policy":               func() error { return (&authz.Policy{}).Check(ctx, "getMe", nil) },
		"a policy without access": func() error {
			return authz.New(authz.Table{"getMe": domain.NeedAuthenticated}, nil).Check(ctx, "getMe", nil)
		},
	} {
		if err := check(); domain.ErrorCode(err) != domain.CodeForbidden {
			t.Errorf("%s: %v; want forbidden", name, err)
		}
	}
	if len(acc.asked) != 0 {
		t.Fatalf("access was asked %v: a refusal of the policy's own must not reach it", acc.asked)
	}
	if err := p.Check(ctx, "getTeam", &team); err != nil {
		t.Fatal(err)
	}
	if len(acc.asked) != 1 || acc.asked[0] != domain.NeedTeamViewer || acc.teams[0] == nil || *acc.teams[0] != team {
		t.Fatalf("access asked %v for %v; want team_viewer in %s", acc.asked, acc.teams, team)
	}
}

// TestPolicyKeepsItsTable: the table handed in is copied, so a change to
// the map afterwards does not change what is enforced.
func TestPolicyKeepsItsTable(t *testing.T) {
	tbl := authz.Table{"createTeam": domain.NeedPlatformAdmin}
	p := authz.New(tbl, &recordAccess{})
	tbl["createTeam"] = domain.NeedAuthenticated
	tbl["dropTables"] = domain.NeedAuthenticated
	if need, _ := p.Requirement("createTeam"); need != domain.NeedPlatformAdmin {
		t.Fatalf("createTeam requires %q", need)
	}
	if _, ok := p.Requirement("dropTables"); ok {
		t.Fatal("an operation added to the map afterwards is known")
	}
}

func TestFromSpecRefusesIncompleteTables(t *testing.T) {
	for name, tc := range map[string]struct{ spec, want string }{
		"no role":      {op("/things", "getThing", ""), "getThing declares no x-required-role"},
		"unknown role": {op("/things", "getThing", "admin"), `unknown x-required-role "admin"`},
		"team role, no team_id": {op("/things/{id}", "getThing", "team_member"),
			"getThing requires team_member but its path has no {team_id}"},
		"no operationId": {op("/things", "", "authenticated"), "has no operationId"},
		"duplicate id": {op("/things", "getThing", "authenticated") + strings.TrimPrefix(op("/others", "getThing", "authenticated"), header),
			"operationId getThing is used twice"},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := openapi3.NewLoader().LoadFromData([]byte(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			tbl, err := authz.FromSpec(doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("table %v, error %v; want one saying %q", tbl, err, tc.want)
			}
		})
	}
}

const header = "openapi: 3.0.3\ninfo: {title: fixture, version: \"1\"}\npaths:\n"

func op(path, id, role string) string {
	s := header + "  " + path + ":\n    get:\n"
	if id != "" {
		s += "      operationId: " + id + "\n"
	}
	if role != "" {
		s += "      x-required-role: " + role + "\n"
	}
	return s + "      responses:\n        \"204\": {description: done}\n"
}

// TestServedTable: the API description's table has every operation, by
// the operationIds the spec writes (the services name them so).
func TestServedTable(t *testing.T) {
	tbl, err := authz.FromYAML(openapi.V1YAML)
	if err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]domain.Requirement{
		"getMe": domain.NeedAuthenticated, "createTeam": domain.NeedPlatformAdmin, "updateTeam": domain.NeedTeamManager,
		"uploadFile": domain.NeedTeamMember, "streamTeamEvents": domain.NeedTeamViewer,
		authz.FieldKey("updateTeam", "quota"): domain.NeedPlatformAdmin,
	} {
		if tbl[op] != want {
			t.Errorf("%s requires %q; want %q", op, tbl[op], want)
		}
	}
}
