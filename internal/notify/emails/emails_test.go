package emails_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/notify/emails"
	"github.com/conveyorhq/conveyor/internal/notify/mail"
)

type person struct {
	email string
	wants bool
}

// lookup is an in-memory emails.Lookup.
type lookup struct {
	people map[uuid.UUID]person
	err    error
}

func (l lookup) TeamName(context.Context, uuid.UUID) (string, error) { return "Acme", l.err }
func (l lookup) AddedBy(context.Context, uuid.UUID, uuid.UUID) (string, error) {
	return "Ann Manager", l.err
}
func (l lookup) FileName(context.Context, uuid.UUID) (string, error) { return "cat.png", l.err }
func (l lookup) JobFailedRecipient(_ context.Context, id uuid.UUID) (string, bool, bool, error) {
	p, ok := l.people[id]
	return p.email, p.wants, ok, l.err
}

func TestPlan(t *testing.T) {
	team, fileID := uuid.New(), uuid.New()
	ann, bob, gone := uuid.New(), uuid.New(), uuid.New()
	l := lookup{people: map[uuid.UUID]person{ann: {"ann@example.com", true}, bob: {"bob@example.com", false}}}
	links := emails.Links{Console: "https://conveyor.example"}
	finished := time.Date(2026, 12, 4, 5, 6, 0, 0, time.UTC)
	job := func(status domain.JobStatus, by *uuid.UUID) domain.Event {
		j := domain.Job{ID: uuid.New(), TeamID: team, FileID: &fileID, Processor: "thumbnail", Status: status, CreatedBy: by,
			Error: &domain.JobError{Code: "bad_input", Message: "image: unknown format"}, FinishedAt: &finished}
		return domain.JobEvent(j)
	}
	member := func(t domain.EventType, pending bool) domain.Event {
		return domain.MemberEvent(t, team, domain.Member{UserID: uuid.New(), Email: "new@example.com", Role: domain.RoleMember, Pending: pending})
	}
	for name, tc := range map[string]struct {
		e        domain.Event
		kind, to string
	}{
		"invited":                     {member(domain.EventMemberAdded, true), emails.KindInvitation, "new@example.com"},
		"added, signed in already":    {member(domain.EventMemberAdded, false), "", ""},
		"role of an invitee changed":  {member(domain.EventMemberRoleChanged, true), "", ""},
		"job failed":                  {job(domain.JobFailed, &ann), emails.KindJobFailed, "ann@example.com"},
		"job failed, turned off":      {job(domain.JobFailed, &bob), "", ""},
		"job failed, by an API key":   {job(domain.JobFailed, nil), "", ""},
		"job failed, creator unknown": {job(domain.JobFailed, &gone), "", ""},
		"job succeeded":               {job(domain.JobSucceeded, &ann), "", ""},
		"job cancelled":               {job(domain.JobCancelled, &ann), "", ""},
		"file created":                {domain.FileEvent(domain.EventFileCreated, domain.File{ID: fileID, TeamID: team}), "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := emails.Plan(context.Background(), l, links, tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == "" {
				if len(out) != 0 {
					t.Fatalf("want no email, got %+v", out)
				}
				return
			}
			if len(out) != 1 || out[0].Kind != tc.kind || len(out[0].Message.To) != 1 || out[0].Message.To[0] != tc.to {
				t.Fatalf("got %+v, want one %s to %s", out, tc.kind, tc.to)
			}
			m := out[0].Message
			if m.Text == "" || m.HTML == "" || !strings.Contains(m.Text, "Acme") {
				t.Fatalf("bodies: %q %q", m.Text, m.HTML)
			}
			if tc.kind == emails.KindJobFailed && (!strings.Contains(m.Text, "image: unknown format") || !strings.Contains(m.Text, "cat.png") ||
				!strings.Contains(m.Text, "https://conveyor.example/teams/"+team.String()+"/jobs/"+tc.e.Job.ID.String())) {
				t.Fatalf("job failed text: %s", m.Text)
			}
			if tc.kind == emails.KindInvitation && !strings.Contains(m.Text, "Ann Manager added you") {
				t.Fatalf("invitation text: %s", m.Text)
			}
		})
	}
	l.err = errors.New("database down")
	if _, err := emails.Plan(context.Background(), l, links, job(domain.JobFailed, &ann)); err == nil {
		t.Fatal("a lookup error is not returned")
	}
}

func TestBackoff(t *testing.T) {
	prev := time.Duration(0)
	for attempt := 1; attempt <= emails.MaxAttempts+3; attempt++ {
		d := emails.Backoff(attempt)
		base := min(5*time.Second<<(attempt-1), 2*time.Hour)
		if attempt > 12 {
			base = 2 * time.Hour
		}
		if d < base || d > base+base/5 {
			t.Fatalf("attempt %d: %s, want %s plus at most 20%%", attempt, d, base)
		}
		if d+base/5 < prev {
			t.Fatalf("attempt %d: %s shrank from %s", attempt, d, prev)
		}
		prev = d
	}
}

// outbox is an in-memory emails.Outbox of due messages.
type outbox struct {
	queued   map[uuid.UUID]*emails.Queued
	sent     map[uuid.UUID]int
	failures []bool // giveUp of each failed attempt
}

func (o *outbox) ClaimEmails(_ context.Context, n int, _ time.Duration) ([]emails.Queued, error) {
	var out []emails.Queued
	for _, q := range o.queued {
		if len(out) == n {
			break
		}
		q.Attempts++
		out = append(out, *q)
	}
	return out, nil
}
func (o *outbox) EmailSent(_ context.Context, id uuid.UUID) error {
	o.sent[id]++
	delete(o.queued, id)
	return nil
}
func (o *outbox) EmailFailed(_ context.Context, id uuid.UUID, _ string, _ time.Duration, giveUp bool) error {
	o.failures = append(o.failures, giveUp)
	if giveUp {
		delete(o.queued, id)
	}
	return nil
}
func (o *outbox) ForgetEmails(context.Context, time.Time) (int64, error) { return 0, nil }

// relay is a mail.Sender that refuses its first fail messages.
type relay struct {
	fail int
	ids  []string
}

func (r *relay) Send(_ context.Context, msgs ...mail.Message) error {
	for _, m := range msgs {
		r.ids = append(r.ids, m.ID)
	}
	if r.fail > 0 {
		r.fail--
		return errors.New("421 try again later")
	}
	return nil
}

// TestSenderRetriesUnderOneMessageID: a message the relay refuses is
// tried again (the outbox decides when) under the same Message-ID until it
// is accepted, then recorded as sent once; after MaxAttempts it is given
// up on.
func TestSenderRetriesUnderOneMessageID(t *testing.T) {
	id := uuid.New()
	o := &outbox{queued: map[uuid.UUID]*emails.Queued{id: {ID: id, Kind: emails.KindJobFailed,
		Message: mail.Message{To: []string{"ann@example.com"}, Subject: "s", Text: "t"}}}, sent: map[uuid.UUID]int{}}
	r := &relay{fail: 2}
	s := &emails.Sender{Outbox: o, Mail: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for range 5 {
		s.Round(context.Background())
	}
	if o.sent[id] != 1 || len(o.failures) != 2 || o.failures[0] || o.failures[1] {
		t.Fatalf("sent %d times, failures %v; want sent once after 2 retried failures", o.sent[id], o.failures)
	}
	want := emails.MessageID(id)
	if len(r.ids) != 3 || r.ids[0] != want || r.ids[1] != want || r.ids[2] != want {
		t.Fatalf("Message-IDs %v; want 3 attempts under %s", r.ids, want)
	}

	hopeless := uuid.New()
	o.queued[hopeless] = &emails.Queued{ID: hopeless, Kind: emails.KindInvitation, Message: mail.Message{To: []string{"x@example.com"}, Subject: "s", Text: "t"}}
	o.failures = nil
	r.fail = 1000
	for range emails.MaxAttempts + 5 {
		s.Round(context.Background())
	}
	if len(o.failures) != emails.MaxAttempts || !o.failures[emails.MaxAttempts-1] || o.failures[emails.MaxAttempts-2] {
		t.Fatalf("failures %v; want %d, the last giving up", o.failures, emails.MaxAttempts)
	}
}
