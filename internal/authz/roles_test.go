package authz_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// memberships is one live team and its members' roles.
type memberships struct {
	team  uuid.UUID
	roles map[uuid.UUID]domain.TeamRole
}

func (m memberships) MembershipRole(_ context.Context, teamID, userID uuid.UUID) (domain.TeamRole, error) {
	if r, ok := m.roles[userID]; ok && teamID == m.team {
		return r, nil
	}
	return "", domain.Errorf(domain.CodeNotFound, "Team not found.")
}

func (m memberships) Team(_ context.Context, id uuid.UUID) (domain.Team, error) {
	if id != m.team {
		return domain.Team{}, domain.Errorf(domain.CodeNotFound, "Team not found.")
	}
	return domain.Team{ID: id}, nil
}

// caller is a principal and the most it may do: its team role (none
// outside the team), and whether it is a platform admin.
type caller struct {
	p     *domain.Principal
	role  domain.TeamRole
	admin bool
}

// refusal is how PRODUCT.md says a caller that lacks need is refused, or
// "" when it does not lack it: 401 without credentials, 404 for a team the
// caller is outside of (existence is not revealed), 403 for a role too low
// or an operation for platform admins.
func refusal(c caller, need domain.Requirement) domain.Code {
	if c.p == nil {
		return domain.CodeUnauthenticated
	}
	switch need {
	case domain.NeedAuthenticated:
		return ""
	case domain.NeedPlatformAdmin:
		if c.admin {
			return ""
		}
		return domain.CodeForbidden
	}
	want, _ := need.TeamRole()
	switch {
	case c.admin:
		return ""
	case c.role == "":
		return domain.CodeNotFound
	case !c.role.Allows(want):
		return domain.CodeForbidden
	}
	return ""
}

// TestServicesRefuseWhoLacksTheRole calls every service method directly,
// with no HTTP layer in front, as each kind of caller that lacks the role
// its operation declares, through the real policy and authorizer: each is
// refused, 401, 403 or 404 as PRODUCT.md says, before any store is touched.
func TestServicesRefuseWhoLacksTheRole(t *testing.T) {
	tbl := specTable(t)
	team := uuid.New()
	m := memberships{team: team, roles: map[uuid.UUID]domain.TeamRole{}}
	user := func(role domain.TeamRole) caller {
		p := &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC}
		if role != "" {
			m.roles[p.UserID] = role
		}
		return caller{p: p, role: role}
	}
	key := func(teamID uuid.UUID, role domain.TeamRole) caller {
		c := caller{p: &domain.Principal{Method: domain.AuthAPIKey,
			APIKey: &domain.APIKeyScope{ID: uuid.New(), TeamID: teamID, Role: role, Prefix: "cvk_test"}}}
		if teamID == team {
			c.role = role
		}
		return c
	}
	callers := map[string]caller{
		"anonymous":        {},
		"outsider":         user(""),
		"viewer":           user(domain.RoleViewer),
		"member":           user(domain.RoleMember),
		"manager":          user(domain.RoleManager),
		"viewer key":       key(team, domain.RoleViewer),
		"member key":       key(team, domain.RoleMember),
		"other team's key": key(uuid.New(), domain.RoleMember),
		"platform admin":   {p: &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC, PlatformAdmin: true}, admin: true},
	}
	svc := newServices(authz.New(tbl, &auth.Authorizer{Memberships: m, Teams: m}))
	refused := 0
	for op, calls := range serving {
		need := tbl[op]
		for name, c := range callers {
			want := refusal(c, need)
			if want == "" {
				continue // allowed: the call would go on to the (absent) store
			}
			for i, call := range calls {
				err := guarded(call, svc, domain.WithPrincipal(context.Background(), c.p), team)
				if got := domain.ErrorCode(err); got != want {
					t.Errorf("%s/%d (%s) as %s: %q (%v); want %q", op, i, need, name, got, err, want)
				}
				refused++
			}
		}
	}
	if refused < len(tbl)*3 {
		t.Fatalf("only %d refusals checked", refused)
	}
}
