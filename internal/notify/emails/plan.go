// Package emails decides which emails the team event log makes and sends
// them. Plan is the rule (run by the store's email fan-out, in the notify
// consumer's transaction, which queues what it returns); Sender is the
// workers' loop that sends what was queued, through internal/notify/mail,
// retried with backoff.
package emails

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/notify/mail"
)

// The kinds of email the event log makes.
const (
	// KindInvitation: someone was added to a team by an email address that
	// has not signed in yet.
	KindInvitation = "invitation"
	// KindJobFailed: a job failed; its creator is told unless they turned
	// it off (PATCH /me). A job started with an API key emails no one.
	KindJobFailed = "job_failed"
)

// Lookup is what Plan reads besides the event (in the fan-out's
// transaction).
type Lookup interface {
	// TeamName returns the team's name.
	TeamName(ctx context.Context, team uuid.UUID) (string, error)
	// AddedBy returns the name of who added user to team ("" when not
	// known).
	AddedBy(ctx context.Context, team, user uuid.UUID) (string, error)
	// JobFailedRecipient returns the email address of user, and whether
	// they want job-failure emails; ok is false when there is no such
	// signed-in, enabled person.
	JobFailedRecipient(ctx context.Context, user uuid.UUID) (email string, wants, ok bool, err error)
	// FileName returns a file's name, "" when it is gone.
	FileName(ctx context.Context, file uuid.UUID) (string, error)
}

// Links are where the emails point: the console.
type Links struct {
	// Console is the console's base URL (CONVEYOR_PUBLIC_URL), no
	// trailing slash.
	Console string
}

// Outgoing is one email to queue.
type Outgoing struct {
	Kind    string
	Message mail.Message // one recipient
}

// Plan returns the emails event e makes: an invitation for a member added
// while pending, a failure notice for a failed job whose creator wants
// one; nothing for any other event. Its errors are Lookup's.
func Plan(ctx context.Context, l Lookup, links Links, e domain.Event) ([]Outgoing, error) {
	switch {
	case e.Type == domain.EventMemberAdded && e.Member != nil && e.Member.Pending && e.Member.Email != "":
		return invitation(ctx, l, links, e)
	case e.Type == domain.EventJobUpdated && e.Job != nil && e.Job.Status == domain.JobFailed && e.Job.CreatedBy != nil:
		return jobFailed(ctx, l, links, e)
	}
	return nil, nil
}

func invitation(ctx context.Context, l Lookup, links Links, e domain.Event) ([]Outgoing, error) {
	team, err := l.TeamName(ctx, e.TeamID)
	if err != nil {
		return nil, err
	}
	by, err := l.AddedBy(ctx, e.TeamID, e.Member.UserID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(by) == "" {
		by = "A team manager"
	}
	m, err := mail.Invitation{To: e.Member.Email, TeamName: team, Role: string(e.Member.Role), InvitedBy: by,
		SignInURL: links.Console + "/"}.Message()
	if err != nil {
		return nil, err
	}
	return []Outgoing{{Kind: KindInvitation, Message: m}}, nil
}

func jobFailed(ctx context.Context, l Lookup, links Links, e domain.Event) ([]Outgoing, error) {
	j := e.Job
	to, wants, ok, err := l.JobFailedRecipient(ctx, *j.CreatedBy)
	if err != nil || !ok || !wants || to == "" {
		return nil, err
	}
	team, err := l.TeamName(ctx, e.TeamID)
	if err != nil {
		return nil, err
	}
	var file string
	if j.FileID != nil {
		if file, err = l.FileName(ctx, *j.FileID); err != nil {
			return nil, err
		}
	}
	reason := "The job failed."
	if j.Error != nil && j.Error.Message != "" {
		reason = j.Error.Message
	}
	failedAt := e.OccurredAt
	if j.FinishedAt != nil {
		failedAt = *j.FinishedAt
	}
	m, err := mail.JobFailed{To: to, TeamName: team, JobID: j.ID.String(), Kind: j.Processor, FileName: file, Error: reason,
		FailedAt: failedAt, JobURL: links.Console + "/teams/" + e.TeamID.String() + "/jobs/" + j.ID.String(),
		SettingsURL: links.Console + "/"}.Message()
	if err != nil {
		return nil, err
	}
	return []Outgoing{{Kind: KindJobFailed, Message: m}}, nil
}
