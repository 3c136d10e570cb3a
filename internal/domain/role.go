package domain

import "fmt"

// TeamRole is a principal's role in one team.
type TeamRole string

// The team roles, from least to most allowed.
const (
	RoleViewer  TeamRole = "viewer"
	RoleMember  TeamRole = "member"
	RoleManager TeamRole = "manager"
)

func (r TeamRole) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleMember:
		return 2
	case RoleManager:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the team roles.
func (r TeamRole) Valid() bool { return r.rank() > 0 }

// Allows reports whether r includes everything need allows.
func (r TeamRole) Allows(need TeamRole) bool { return r.Valid() && r.rank() >= need.rank() }

// Requirement is the access an operation needs, as declared in the API
// description's x-required-role.
type Requirement string

// The requirements an operation may declare.
const (
	NeedAuthenticated Requirement = "authenticated"
	NeedPlatformAdmin Requirement = "platform_admin"
	NeedTeamViewer    Requirement = "team_viewer"
	NeedTeamMember    Requirement = "team_member"
	NeedTeamManager   Requirement = "team_manager"
)

// ParseRequirement parses a declared requirement.
func ParseRequirement(s string) (Requirement, error) {
	switch r := Requirement(s); r {
	case NeedAuthenticated, NeedPlatformAdmin, NeedTeamViewer, NeedTeamMember, NeedTeamManager:
		return r, nil
	}
	return "", fmt.Errorf("unknown x-required-role %q", s)
}

// TeamRole returns the team role a team requirement needs, and false for the
// requirements that are not about a team.
func (r Requirement) TeamRole() (TeamRole, bool) {
	switch r {
	case NeedTeamViewer:
		return RoleViewer, true
	case NeedTeamMember:
		return RoleMember, true
	case NeedTeamManager:
		return RoleManager, true
	}
	return "", false
}
