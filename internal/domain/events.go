package domain

import (
	"time"

	"github.com/google/uuid"
)

// The event types of membership and API key changes. They are logged with
// the change and streamed to GET /teams/{team_id}/events like the ones
// above; an API key event carries the key, never its secret (the domain
// APIKey has none).
const (
	EventMemberAdded       EventType = "member.added"
	EventMemberRoleChanged EventType = "member.role_changed"
	EventMemberRemoved     EventType = "member.removed"
	EventAPIKeyCreated     EventType = "api_key.created"
	EventAPIKeyRevoked     EventType = "api_key.revoked"
)

// Streamed reports whether events of type t go to the team's event stream
// (the types the API publishes for it).
func (t EventType) Streamed() bool {
	switch t {
	case EventJobUpdated, EventFileCreated, EventFileDeleted,
		EventMemberAdded, EventMemberRoleChanged, EventMemberRemoved,
		EventAPIKeyCreated, EventAPIKeyRevoked:
		return true
	}
	return false
}

// MemberEvent returns the event reporting a membership change of team:
// t is EventMemberAdded, EventMemberRoleChanged or EventMemberRemoved, m
// the membership as it now is (as it was, when removed).
func MemberEvent(t EventType, team uuid.UUID, m Member) Event {
	return Event{Type: t, TeamID: team, OccurredAt: time.Now().UTC(), Member: &m}
}

// APIKeyEvent returns the event reporting that k was created or revoked.
func APIKeyEvent(t EventType, k APIKey) Event {
	return Event{Type: t, TeamID: k.TeamID, OccurredAt: time.Now().UTC(), APIKey: &k}
}
