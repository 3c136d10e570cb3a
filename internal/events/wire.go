package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// WireVersion is the major version of the encoding events travel in
// between processes (API replicas and workers of different releases share
// one Redis during a rollout). Within a major version, changes are
// additive: a new field may appear, and readers ignore fields they do not
// know. Renaming or removing a field, or changing its meaning, is a new
// major version; a reader skips (and logs) events of a major version it
// does not know rather than misreading them.
//
// Payloads without "v" are the untagged encoding of releases before
// version 1; they are still read, so a rollout loses no events.
const WireVersion = 1

// ErrUnknownVersion is returned by decode for an event encoded in a major
// version this process does not know (a newer release's).
var ErrUnknownVersion = errors.New("events: unknown wire version")

// wireEvent is an event as kept in Redis. Its field names are the wire
// format: they do not follow the domain types' Go names.
type wireEvent struct {
	V          int       `json:"v"`
	Type       string    `json:"type"`
	TeamID     uuid.UUID `json:"team_id"`
	OccurredAt time.Time `json:"occurred_at"`
	Job        *wireJob  `json:"job,omitempty"`
	File       *wireFile `json:"file,omitempty"`
	// Added in version 1 with the event log (member and API key events).
	Member *wireMember `json:"member,omitempty"`
	APIKey *wireAPIKey `json:"api_key,omitempty"`
}

type wireMember struct {
	UserID    uuid.UUID `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role"`
	Pending   bool      `json:"pending,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type wireAPIKey struct {
	ID        uuid.UUID  `json:"id"`
	TeamID    uuid.UUID  `json:"team_id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Prefix    string     `json:"prefix"`
	CreatedBy *uuid.UUID `json:"created_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

type wireJob struct {
	ID         uuid.UUID       `json:"id"`
	TeamID     uuid.UUID       `json:"team_id"`
	FileID     *uuid.UUID      `json:"file_id,omitempty"`
	Processor  string          `json:"processor"`
	Params     json.RawMessage `json:"params,omitempty"`
	Status     string          `json:"status"`
	Progress   int             `json:"progress"`
	Attempts   int             `json:"attempts"`
	Runs       int             `json:"runs"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      *wireJobError   `json:"error,omitempty"`
	CreatedBy  *uuid.UUID      `json:"created_by,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

type wireJobError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

type wireFile struct {
	ID          uuid.UUID  `json:"id"`
	TeamID      uuid.UUID  `json:"team_id"`
	Name        string     `json:"name"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	ContentType string     `json:"content_type"`
	CreatedBy   *uuid.UUID `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Encode returns e in the current wire version, as the event log keeps
// it (its ID is not part of the payload: the log assigns it).
func Encode(e domain.Event) ([]byte, error) {
	w := wireEvent{V: WireVersion, Type: string(e.Type), TeamID: e.TeamID, OccurredAt: e.OccurredAt.UTC()}
	if j := e.Job; j != nil {
		wj := &wireJob{ID: j.ID, TeamID: j.TeamID, FileID: j.FileID, Processor: j.Processor, Params: rawOrNil(j.Params),
			Status: string(j.Status), Progress: j.Progress, Attempts: j.Attempts, Runs: j.Runs, Result: rawOrNil(j.Result),
			CreatedBy: j.CreatedBy, CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(),
			StartedAt: utcPtr(j.StartedAt), FinishedAt: utcPtr(j.FinishedAt)}
		if j.Error != nil {
			wj.Error = &wireJobError{Code: j.Error.Code, Message: j.Error.Message, Retryable: j.Error.Retryable}
		}
		w.Job = wj
	}
	if f := e.File; f != nil {
		w.File = &wireFile{ID: f.ID, TeamID: f.TeamID, Name: f.Name, Size: f.Size, SHA256: f.SHA256,
			ContentType: f.ContentType, CreatedBy: f.CreatedBy, CreatedAt: f.CreatedAt.UTC()}
	}
	if m := e.Member; m != nil {
		w.Member = &wireMember{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: string(m.Role), Pending: m.Pending, CreatedAt: m.CreatedAt.UTC()}
	}
	if k := e.APIKey; k != nil {
		w.APIKey = &wireAPIKey{ID: k.ID, TeamID: k.TeamID, Name: k.Name, Role: string(k.Role), Prefix: k.Prefix,
			CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt.UTC(), RevokedAt: utcPtr(k.RevokedAt)}
	}
	return json.Marshal(w)
}

// decode reads the payload of the stream entry id. It tolerates fields it
// does not know, reads the pre-version encoding, and returns an error
// wrapping ErrUnknownVersion for a major version it does not know.
func decode(id, payload string) (domain.Event, error) {
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal([]byte(payload), &head); err != nil {
		return domain.Event{}, fmt.Errorf("events: decode %s: %w", id, err)
	}
	switch {
	case head.V == nil:
		return decodeLegacy(id, payload)
	case *head.V != WireVersion:
		return domain.Event{}, fmt.Errorf("%w: %s has version %d, this process reads %d", ErrUnknownVersion, id, *head.V, WireVersion)
	}
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return domain.Event{}, fmt.Errorf("events: decode %s: %w", id, err)
	}
	e := domain.Event{ID: id, Type: domain.EventType(w.Type), TeamID: w.TeamID, OccurredAt: w.OccurredAt}
	if wj := w.Job; wj != nil {
		j := &domain.Job{ID: wj.ID, TeamID: wj.TeamID, FileID: wj.FileID, Processor: wj.Processor, Params: wj.Params,
			Status: domain.JobStatus(wj.Status), Progress: wj.Progress, Attempts: wj.Attempts, Runs: wj.Runs, Result: wj.Result,
			CreatedBy: wj.CreatedBy, CreatedAt: wj.CreatedAt, UpdatedAt: wj.UpdatedAt, StartedAt: wj.StartedAt, FinishedAt: wj.FinishedAt}
		if wj.Error != nil {
			j.Error = &domain.JobError{Code: wj.Error.Code, Message: wj.Error.Message, Retryable: wj.Error.Retryable}
		}
		e.Job = j
	}
	if wf := w.File; wf != nil {
		e.File = &domain.File{ID: wf.ID, TeamID: wf.TeamID, Name: wf.Name, Size: wf.Size, SHA256: wf.SHA256,
			ContentType: wf.ContentType, CreatedBy: wf.CreatedBy, CreatedAt: wf.CreatedAt}
	}
	if wm := w.Member; wm != nil {
		e.Member = &domain.Member{UserID: wm.UserID, Email: wm.Email, Name: wm.Name, Role: domain.TeamRole(wm.Role), Pending: wm.Pending, CreatedAt: wm.CreatedAt}
	}
	if wk := w.APIKey; wk != nil {
		e.APIKey = &domain.APIKey{ID: wk.ID, TeamID: wk.TeamID, Name: wk.Name, Role: domain.TeamRole(wk.Role), Prefix: wk.Prefix,
			CreatedBy: wk.CreatedBy, CreatedAt: wk.CreatedAt, RevokedAt: wk.RevokedAt}
	}
	return e, nil
}

// legacyEvent is the encoding before version 1: the domain types as
// encoding/json writes untagged structs (Go field names). Only read.
type legacyEvent struct {
	Type       domain.EventType `json:"type"`
	TeamID     uuid.UUID        `json:"team_id"`
	OccurredAt time.Time        `json:"occurred_at"`
	Job        *domain.Job      `json:"job,omitempty"`
	File       *domain.File     `json:"file,omitempty"`
}

func decodeLegacy(id, payload string) (domain.Event, error) {
	var w legacyEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return domain.Event{}, fmt.Errorf("events: decode %s: %w", id, err)
	}
	return domain.Event{ID: id, Type: w.Type, TeamID: w.TeamID, OccurredAt: w.OccurredAt, Job: w.Job, File: w.File}, nil
}

// rawOrNil drops an empty raw message, which json.Marshal refuses.
func rawOrNil(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	return m
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Decode reads a payload of the event log (or of a stream entry) as the
// event with id; see decode.
func Decode(id, payload string) (domain.Event, error) { return decode(id, payload) }
