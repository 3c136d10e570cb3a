package domain

import (
	"fmt"

	"github.com/google/uuid"
)

// Quota is what a platform admin set for one team; a nil limit is the
// platform's default (QuotaDefaults).
type Quota struct {
	MaxStoredBytes *int64 // files plus job outputs
	MaxFileBytes   *int64 // one file
	MaxRunningJobs *int32 // jobs running at once, across all workers
}

// TeamSettings are what a change to a team sets: its name and its own
// quota.
type TeamSettings struct {
	Name  string
	Quota Quota
}

// QuotaDefaults are the platform's limits for a team that has none of its
// own (CONVEYOR_TEAM_MAX_*).
type QuotaDefaults struct {
	MaxStoredBytes int64
	MaxFileBytes   int64
	MaxRunningJobs int32
}

// Limits are the limits in force for a team: its own, else the default.
type Limits struct {
	MaxStoredBytes, MaxFileBytes int64
	MaxRunningJobs               int32
	// The ...IsDefault fields say that a limit is the platform's default.
	StoredIsDefault, FileIsDefault, RunningIsDefault bool
}

// Effective returns the limits in force under q with the defaults d.
func (q Quota) Effective(d QuotaDefaults) Limits {
	l := Limits{MaxStoredBytes: d.MaxStoredBytes, MaxFileBytes: d.MaxFileBytes, MaxRunningJobs: d.MaxRunningJobs,
		StoredIsDefault: q.MaxStoredBytes == nil, FileIsDefault: q.MaxFileBytes == nil, RunningIsDefault: q.MaxRunningJobs == nil}
	if q.MaxStoredBytes != nil {
		l.MaxStoredBytes = *q.MaxStoredBytes
	}
	if q.MaxFileBytes != nil {
		l.MaxFileBytes = *q.MaxFileBytes
	}
	if q.MaxRunningJobs != nil {
		l.MaxRunningJobs = *q.MaxRunningJobs
	}
	return l
}

// QuotaChange changes some of a team's limits: a field left unset stays,
// one set to a nil value goes back to the platform default.
type QuotaChange struct {
	MaxStoredBytes, MaxFileBytes Set[int64]
	MaxRunningJobs               Set[int32]
}

// Set is an optional change to a nullable value: Present says the change
// names it; Value nil resets it.
type Set[T any] struct {
	Present bool
	Value   *T
}

// Empty reports whether c changes nothing.
func (c QuotaChange) Empty() bool {
	return !c.MaxStoredBytes.Present && !c.MaxFileBytes.Present && !c.MaxRunningJobs.Present
}

// Apply returns q with c applied, or a validation error naming the field
// (a limit is positive).
func (c QuotaChange) Apply(q Quota) (Quota, error) {
	if err := positive(c.MaxStoredBytes.Value, "/quota/max_stored_bytes"); err != nil {
		return q, err
	}
	if err := positive(c.MaxFileBytes.Value, "/quota/max_file_bytes"); err != nil {
		return q, err
	}
	if err := positive(c.MaxRunningJobs.Value, "/quota/max_running_jobs"); err != nil {
		return q, err
	}
	if c.MaxStoredBytes.Present {
		q.MaxStoredBytes = c.MaxStoredBytes.Value
	}
	if c.MaxFileBytes.Present {
		q.MaxFileBytes = c.MaxFileBytes.Value
	}
	if c.MaxRunningJobs.Present {
		q.MaxRunningJobs = c.MaxRunningJobs.Value
	}
	return q, nil
}

func positive[T int64 | int32](v *T, pointer string) error {
	if v != nil && *v < 1 {
		return &Error{Code: CodeInvalid, Message: "A limit is at least 1 (null: the platform default).",
			Fields: []FieldError{{Pointer: pointer, Detail: "must be at least 1"}}}
	}
	return nil
}

// Equal reports whether q and o set the same limits.
func (q Quota) Equal(o Quota) bool {
	return eqPtr(q.MaxStoredBytes, o.MaxStoredBytes) && eqPtr(q.MaxFileBytes, o.MaxFileBytes) && eqPtr(q.MaxRunningJobs, o.MaxRunningJobs)
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// Audit describes the quota as recorded in the audit log (null: default).
func (q Quota) Audit() map[string]any {
	return map[string]any{"max_stored_bytes": q.MaxStoredBytes, "max_file_bytes": q.MaxFileBytes, "max_running_jobs": q.MaxRunningJobs}
}

// The quotas an upload can exceed, as named in a refusal.
const (
	QuotaStoredBytes = "max_stored_bytes"
	QuotaFileBytes   = "max_file_bytes"
)

// QuotaExceeded says which limit a refused upload would pass, and where the
// team stood.
type QuotaExceeded struct {
	Quota          string // QuotaStoredBytes or QuotaFileBytes
	Limit          int64
	StoredBytes    int64 // the team's files and job outputs
	ReservedBytes  int64 // held by uploads under way
	RequestedBytes int64 // the upload's size, or what had streamed when it was stopped; 0: unknown
}

// ErrQuotaExceeded is the refusal of an upload that would take the team
// past its storage quota.
func ErrQuotaExceeded(q QuotaExceeded) *Error {
	q.Quota = QuotaStoredBytes
	return &Error{Code: CodeQuotaExceeded, Quota: &q, Message: fmt.Sprintf(
		"The upload would take the team past its storage quota of %d bytes: it stores %d bytes and %d more are held by uploads under way.",
		q.Limit, q.StoredBytes, q.ReservedBytes)}
}

// ErrFileTooLarge is the refusal of a file larger than the team may store.
func ErrFileTooLarge(q QuotaExceeded) *Error {
	q.Quota = QuotaFileBytes
	return &Error{Code: CodeFileTooLarge, Quota: &q, Message: fmt.Sprintf(
		"The file is larger than the team's limit of %d bytes per file.", q.Limit)}
}

// UsageCounters are a team's storage counters: what its rows add up to,
// kept as it changes, and what its uploads under way hold.
type UsageCounters struct {
	FileCount, FileBytes, OutputBytes, ReservedBytes int64
}

// UsageDrift is a team whose counters the reconciler corrected: what they
// said, and what the rows say.
type UsageDrift struct {
	TeamID   uuid.UUID
	Was, Now UsageCounters
}
