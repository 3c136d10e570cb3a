package webhooks

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/notify"
)

// The event types an endpoint can subscribe to (the spec's
// WebhookEventType lists the same). A job's every transition is its own
// type (the event log reports each as job.updated with the job's status);
// job.progress is a running job's progress moving.
const (
	TypeFileCreated       = "file.created"
	TypeFileDeleted       = "file.deleted"
	TypeJobQueued         = "job.queued"
	TypeJobRunning        = "job.running"
	TypeJobProgress       = "job.progress"
	TypeJobSucceeded      = "job.succeeded"
	TypeJobFailed         = "job.failed"
	TypeJobCancelled      = "job.cancelled"
	TypeMemberAdded       = "member.added"
	TypeMemberRoleChanged = "member.role_changed"
	TypeMemberRemoved     = "member.removed"
	TypeAPIKeyCreated     = "api_key.created"
	TypeAPIKeyRevoked     = "api_key.revoked"
	// TypeTest is what POST .../test sends; no endpoint subscribes to it.
	TypeTest = "webhook.test"
)

// EventTypes lists the types an endpoint can subscribe to, in the spec's
// order.
var EventTypes = []string{
	TypeFileCreated, TypeFileDeleted,
	TypeJobQueued, TypeJobRunning, TypeJobProgress, TypeJobSucceeded, TypeJobFailed, TypeJobCancelled,
	TypeMemberAdded, TypeMemberRoleChanged, TypeMemberRemoved,
	TypeAPIKeyCreated, TypeAPIKeyRevoked,
}

// KnownType reports whether t is one of EventTypes.
func KnownType(t string) bool { return slices.Contains(EventTypes, t) }

// TypeOf returns the webhook type of a logged event, and false for an
// event no endpoint can subscribe to.
func TypeOf(e domain.Event) (string, bool) {
	switch e.Type {
	case domain.EventJobUpdated:
		if e.Job == nil {
			return "", false
		}
		switch e.Job.Status {
		case domain.JobQueued:
			return TypeJobQueued, true
		case domain.JobRunning:
			if e.Job.Progress > 0 {
				return TypeJobProgress, true
			}
			return TypeJobRunning, true
		case domain.JobSucceeded:
			return TypeJobSucceeded, true
		case domain.JobFailed:
			return TypeJobFailed, true
		case domain.JobCancelled:
			return TypeJobCancelled, true
		}
		return "", false
	}
	t := string(e.Type)
	return t, KnownType(t)
}

// Message is one webhook message: its webhook-id (the same on every
// attempt, to every endpoint), its type, and its body as signed and sent.
type Message struct {
	ID   string
	Type string
	Body []byte
}

// MessageID is the webhook-id of a logged event: stable, unique per team
// and event.
func MessageID(rec events.Record) string {
	return "evt_" + strings.ReplaceAll(rec.TeamID.String(), "-", "") + "_" + rec.ID.String()
}

// FromRecord returns the message of a logged event, and false when no
// endpoint can subscribe to it. The body is {"type", "timestamp", "data"}:
// timestamp is when the event happened, data the event's objects as the
// event log encodes them ("team_id" and one of "file", "job", "member",
// "api_key"). It returns an error for an event it cannot read (a newer
// release's encoding).
func FromRecord(rec events.Record) (Message, bool, error) {
	e, err := events.Decode(rec.ID.String(), string(rec.Payload))
	if err != nil {
		return Message{}, false, err
	}
	typ, ok := TypeOf(e)
	if !ok {
		return Message{}, false, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rec.Payload, &fields); err != nil {
		return Message{}, false, fmt.Errorf("webhooks: event %s: %w", rec.ID, err)
	}
	delete(fields, "v")
	delete(fields, "type")
	delete(fields, "occurred_at")
	data, err := json.Marshal(fields)
	if err != nil {
		return Message{}, false, err
	}
	body, err := notify.Payload{Type: typ, Timestamp: e.OccurredAt, Data: data}.Body()
	if err != nil {
		return Message{}, false, err
	}
	return Message{ID: MessageID(rec), Type: typ, Body: body}, true, nil
}
