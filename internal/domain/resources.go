package domain

import (
	"encoding/json"
	"time"

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

// Team is a tenant; every file and job belongs to one.
type Team struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
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
