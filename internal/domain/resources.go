package domain

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// User is a person known to Conveyor, provisioned on their first call.
type User struct {
	ID      uuid.UUID
	Issuer  string
	Subject string
	Email   string
	Name    string
}

// UserAccount is a user as platform admins see them: with when they were
// created and last seen, and their teams.
type UserAccount struct {
	User
	CreatedAt   time.Time
	LastSeenAt  *time.Time // nil until a call is recorded
	Memberships []Membership
	// DisabledAt is when a platform admin disabled the user (nil: the
	// user is enabled), DisabledBy who did (nil when unknown).
	DisabledAt *time.Time
	DisabledBy *uuid.UUID
}

// Disabled reports whether the user is disabled.
func (u UserAccount) Disabled() bool { return u.DisabledAt != nil }

// Team is a tenant; every file and job belongs to one.
type Team struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
	Quota     Quota     // its own limits (nil: the platform default)
	Limits    Limits    // the limits in force (filled in by the teams service)
	Usage     TeamUsage // as of the read
}

// TeamUsage is what a team stores and runs.
type TeamUsage struct {
	StoredBytes int64 // live files plus the recorded outputs of its jobs
	FileCount   int64 // live files
	Jobs        JobCounts
}

// JobCounts counts a team's jobs by state.
type JobCounts struct {
	Queued, Running, Succeeded, Failed, Cancelled int64
}

// Membership is a user's role in a team.
type Membership struct {
	TeamID   uuid.UUID
	TeamName string
	Role     TeamRole
}

// File is a stored upload.
type File struct {
	ID          uuid.UUID
	TeamID      uuid.UUID
	Name        string
	Size        int64
	SHA256      string
	ContentType string
	ObjectKey   string
	CreatedBy   *uuid.UUID
	CreatedAt   time.Time
}

// JobStatus is where a job is in its life.
type JobStatus string

// The job states: queued → running → succeeded | failed | cancelled.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Final reports whether s is a final state.
func (s JobStatus) Final() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// JobError is the typed error of a failed job.
type JobError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Job is one run of a processor.
type Job struct {
	ID         uuid.UUID
	TeamID     uuid.UUID
	FileID     *uuid.UUID
	Processor  string
	Params     json.RawMessage
	Status     JobStatus
	Progress   int
	Attempts   int
	Runs       int             // 1, plus one per retry a client asked for
	Result     json.RawMessage // nil until the job succeeds
	Error      *JobError
	CreatedBy  *uuid.UUID
	CreatedAt  time.Time
	UpdatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// PageRequest asks for one page of a list: at most Limit items that come
// after the item whose id is After (nil for the first page).
type PageRequest struct {
	Limit int
	After *uuid.UUID
}

// Page is one page of a list. Next is the id to continue after, nil on the
// last page.
type Page[T any] struct {
	Items []T
	Next  *uuid.UUID
}

// NewPage builds a page from up to limit+1 fetched items: the extra item
// only says that there is a next page.
func NewPage[T any](items []T, limit int, id func(T) uuid.UUID) Page[T] {
	if len(items) <= limit {
		return Page[T]{Items: items}
	}
	items = items[:limit]
	next := id(items[limit-1])
	return Page[T]{Items: items, Next: &next}
}

// FileFilter narrows a list of files; zero fields do not filter.
type FileFilter struct {
	ContentType   string // exact, or a family with a trailing "/*"
	NamePrefix    string
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
}

// Upload is a direct-to-S3 upload: created with presigned URLs, then
// completed into a file or aborted when it expires.
type Upload struct {
	ID              uuid.UUID
	TeamID          uuid.UUID
	Name            string
	Size            int64
	SHA256          string // optional; checked on completion
	ObjectKey       string
	S3UploadID      string // empty for a single PUT
	PartSize        int64
	CreatedBy       *uuid.UUID
	CreatedAt       time.Time
	ExpiresAt       time.Time
	CompletedFileID *uuid.UUID
	AbortedAt       *time.Time
	Parts           []UploadPart // presigned URLs; only when just created
}

// Multipart reports whether the upload goes in parts.
func (u Upload) Multipart() bool { return u.S3UploadID != "" }

// UploadPart is where one part's bytes go.
type UploadPart struct {
	Number int
	URL    string
}

// CompletedPart is a part the client sent, with the ETag S3 answered.
type CompletedPart struct {
	Number int
	ETag   string
}

// CleanLabel validates a short human label (a team's or a key's name):
// trimmed, 1 to max characters, no control characters. field is the JSON
// pointer for the error.
func CleanLabel(s string, max int, field string) (string, error) {
	s = strings.TrimSpace(s)
	bad := s == "" || utf8.RuneCountInString(s) > max || !utf8.ValidString(s) ||
		strings.IndexFunc(s, unicode.IsControl) >= 0
	if bad {
		return "", &Error{Code: CodeInvalid, Message: fmt.Sprintf("%s has 1 to %d characters, none of them control characters.", strings.TrimPrefix(field, "/"), max),
			Fields: []FieldError{{Pointer: field, Detail: fmt.Sprintf("1 to %d characters, no control characters", max)}}}
	}
	return s, nil
}

// JobOutput is a file a succeeded job produced.
type JobOutput struct {
	JobID       uuid.UUID
	Name        string
	Size        int64
	ContentType string
	ObjectKey   string
}

// EventType names what an Event reports.
type EventType string

// The event types of a team's stream.
const (
	EventJobUpdated  EventType = "job.updated"
	EventFileCreated EventType = "file.created"
	EventFileDeleted EventType = "file.deleted"
	// EventReset tells a resuming client that events were missed beyond
	// the backlog: re-read the resources.
	EventReset EventType = "reset"
)

// Event is one thing that happened in a team. ID is assigned when it is
// logged, in the transaction of the change (ordered within the team).
type Event struct {
	ID         string
	Type       EventType
	TeamID     uuid.UUID
	OccurredAt time.Time
	Job        *Job
	File       *File
	Member     *Member // member events
	APIKey     *APIKey // API key events (never the secret)
}

// JobEvent returns the event reporting j's current state.
func JobEvent(j Job) Event {
	return Event{Type: EventJobUpdated, TeamID: j.TeamID, OccurredAt: j.UpdatedAt, Job: &j}
}

// FileEvent returns the event reporting that f was created or deleted.
func FileEvent(t EventType, f File) Event {
	return Event{Type: t, TeamID: f.TeamID, OccurredAt: time.Now().UTC(), File: &f}
}

// Dispatch is a job handed to the queue: its run names the queue task, so
// re-dispatches of one run deduplicate and a retried job gets a new task.
type Dispatch struct {
	JobID     uuid.UUID
	Processor string
	Run       int
	// TraceParent is the W3C traceparent of the request that queued the
	// run, which its task carries so the attempt continues that trace; ""
	// when it is not known (the attempt starts a trace of its own).
	TraceParent string
}

// NotificationSettings are the emails a person is sent.
type NotificationSettings struct {
	// JobFailedEmail: emailed when a job they started fails (the default).
	JobFailedEmail bool
}

// NotificationUpdate changes NotificationSettings; a nil field keeps its
// value.
type NotificationUpdate struct {
	JobFailedEmail *bool
}
