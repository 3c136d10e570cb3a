package domain

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Member is a user's membership in a team, or a pending invitation.
type Member struct {
	UserID    uuid.UUID
	Email     string
	Name      string
	Role      TeamRole
	Pending   bool // invited by email; has not called the API yet
	CreatedAt time.Time
}

// MembershipDecision says what becomes of a membership: a new role, or
// removal.
type MembershipDecision struct {
	Role   TeamRole
	Remove bool
}

// APIKey is a key for a partner's machine. Its secret is never stored.
type APIKey struct {
	ID         uuid.UUID
	TeamID     uuid.UUID
	Name       string
	Role       TeamRole
	Prefix     string
	CreatedBy  *uuid.UUID
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Audit describes a change to record: what was done to what.
type Audit struct {
	Action     string // "team.created", "api_key.revoked", ...
	TargetType string
	TargetID   string
	Details    map[string]any
}

// AuditEvent is a recorded change.
type AuditEvent struct {
	ID         uuid.UUID
	TeamID     uuid.UUID
	ActorType  string // user, api_key, system
	ActorID    string
	ActorName  string
	Action     string
	TargetType string
	TargetID   string
	Details    json.RawMessage
	RequestID  string
	CreatedAt  time.Time
}

// AuditFilter narrows a list of audit events; zero fields do not filter,
// and the ones set combine.
type AuditFilter struct {
	Action  string     // exact action, e.g. member.added
	ActorID string     // the actor's id: a user's or an API key's
	Since   *time.Time // at or after
	Until   *time.Time // before
}

// Actor returns who p is, for the audit log.
func (p *Principal) Actor() (typ, id, name string) {
	switch {
	case p == nil:
		return "system", "", "system"
	case p.APIKey != nil:
		return "api_key", p.APIKey.ID.String(), p.APIKey.Name + " (" + p.APIKey.Prefix + "…)"
	default:
		name := p.Email
		if name == "" {
			name = p.Name
		}
		return "user", p.UserID.String(), name
	}
}
