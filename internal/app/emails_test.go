package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

// mailbox reads what mailpit received.
type mailbox struct {
	t    *testing.T
	e    *apptest.Env
	conn *pgx.Conn // to show the outbox when a message does not come
}

// in returns the mailbox for subtest t.
func (m mailbox) in(t *testing.T) mailbox { m.t = t; return m }

// outbox describes the email outbox's rows.
func (m mailbox) outbox() string {
	rows, err := m.conn.Query(context.Background(), `SELECT kind, recipient, attempts, sent_at IS NOT NULL, COALESCE(last_error, '') FROM email_outbox ORDER BY id`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var kind, to, lastErr string
		var attempts int
		var sent bool
		_ = rows.Scan(&kind, &to, &attempts, &sent, &lastErr)
		fmt.Fprintf(&b, "%s to %s: %d attempts, sent %v %s\n", kind, to, attempts, sent, lastErr)
	}
	return b.String()
}

// to returns the messages received for addr, oldest first.
func (m mailbox) to(addr string) []devstack.ReceivedMail {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all, err := m.e.Stack.ReceivedMails(ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	var out []devstack.ReceivedMail
	for i := len(all) - 1; i >= 0; i-- { // mailpit lists newest first
		for _, to := range all[i].To {
			if strings.EqualFold(to, addr) {
				out = append(out, all[i])
			}
		}
	}
	return out
}

// await waits until a message for addr has arrived and returns them all.
func (m mailbox) await(addr string, limit time.Duration) []devstack.ReceivedMail {
	m.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if got := m.to(addr); len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no email to %s within %s; the outbox:\n%s", addr, limit, m.outbox())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestEmails: through the event log, the worker emails an invitation to
// someone added by an email that has not signed in yet (and none to a
// person who has), and a job failure to the job's creator unless they
// turned it off, and to no one for a job an API key started; each message
// arrives once, with text and HTML bodies and a Message-ID that names its
// outbox row. With the relay down, a message is retried with backoff and
// arrives once it is back.
func TestEmails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own topology")
	}
	e := apptest.Start(t, apptest.Options{Mail: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	box := mailbox{t, e, conn}
	queued := func(addr string) (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM email_outbox WHERE recipient = $1`, addr).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	admin := newJobsClient(t, e, "emails-admin", "Mail <Room>")
	add := func(email, role string) {
		t.Helper()
		r, b := admin.send("POST", "/teams/"+admin.team+"/members", "application/json", []byte(`{"email":"`+email+`","role":"`+role+`"}`), nil)
		if r.StatusCode != 201 && r.StatusCode != 200 {
			t.Fatalf("add %s: %d %s", email, r.StatusCode, b)
		}
	}
	person := func(subject string) jobsClient {
		t.Helper()
		jc := jobsClient{rawClient: rawClient{t: t, base: e.URL, token: e.Token(t, subject, false), c: e.Client(t)}, team: admin.team}
		if r, b := jc.send("GET", "/me", "", nil, nil); r.StatusCode != 200 { // signs in: no longer an invitee
			t.Fatalf("%s /me: %d %s", subject, r.StatusCode, b)
		}
		add(subject+"@example.test", "member")
		return jc
	}
	ann, bob := person("emails-ann"), person("emails-bob")
	if r, b := bob.send("PATCH", "/me", "application/json", []byte(`{"notifications":{"job_failed_email":false}}`), nil); r.StatusCode != 200 {
		t.Fatalf("bob turns job emails off: %d %s", r.StatusCode, b)
	}

	t.Run("invitation", func(t *testing.T) {
		box := box.in(t)
		const invitee = "emails-invitee@example.test"
		add(invitee, "viewer")
		got := box.await(invitee, time.Minute)[0]
		if got.Subject != "You were added to Mail <Room> on Conveyor" || !strings.Contains(got.Text, "emails-admin@example.test added you to the team Mail <Room> on Conveyor, as viewer") ||
			!strings.Contains(got.Text, e.URL+"/") || !strings.Contains(got.HTML, "Mail &lt;Room&gt;") {
			t.Fatalf("invitation: %q\n%s\n%s", got.Subject, got.Text, got.HTML)
		}
		var id string
		if err := conn.QueryRow(ctx, `SELECT id::text FROM email_outbox WHERE recipient = $1 AND kind = 'invitation' AND sent_at IS NOT NULL`, invitee).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if got.MessageID != id+"@conveyor" {
			t.Fatalf("Message-ID %q; want the outbox row's, %s@conveyor", got.MessageID, id)
		}
		// Added after signing in: no invitation (they were added before the invitee).
		for _, addr := range []string{"emails-ann@example.test", "emails-bob@example.test"} {
			if n := len(box.to(addr)); n != 0 || queued(addr) != 0 {
				t.Fatalf("%s was invited (%d emails) though they had signed in", addr, n)
			}
		}
	})

	t.Run("job failed", func(t *testing.T) {
		box := box.in(t)
		fail := func(jc jobsClient) string {
			t.Helper()
			j := jc.createJob(jc.upload("words.txt", []byte("plain words, not pixels")), "thumbnail", "")
			if j = jc.wait(j.ID, time.Minute, final); j.Status != "failed" {
				t.Fatalf("job %+v did not fail", j)
			}
			return j.ID
		}
		// In this order: bob's (turned off) and the API key's jobs fail
		// before ann's, so their emails, if any were made, would be queued
		// and sent before hers.
		fail(bob)
		r, b := admin.send("POST", "/teams/"+admin.team+"/api-keys", "application/json", []byte(`{"name":"mailer","role":"member"}`), nil)
		if r.StatusCode != 201 {
			t.Fatalf("create key: %d %s", r.StatusCode, b)
		}
		var key struct{ Secret string }
		_ = json.Unmarshal(b, &key)
		fail(jobsClient{rawClient: rawClient{t: t, base: e.URL, token: key.Secret, c: e.Client(t)}, team: admin.team})
		annJob := fail(ann)

		got := box.await("emails-ann@example.test", time.Minute)
		if len(got) != 1 {
			t.Fatalf("ann got %d emails, want 1", len(got))
		}
		m := got[0]
		if m.Subject != "Job thumbnail failed in Mail <Room>" || !strings.Contains(m.Text, annJob) || !strings.Contains(m.Text, "words.txt") ||
			!strings.Contains(m.Text, e.URL+"/teams/"+admin.team+"/jobs/"+annJob) || !strings.Contains(m.HTML, "<blockquote>") {
			t.Fatalf("job failed email: %q\n%s\n%s", m.Subject, m.Text, m.HTML)
		}
		if n := len(box.to("emails-bob@example.test")); n != 0 || queued("emails-bob@example.test") != 0 {
			t.Fatalf("bob turned job emails off and got %d", n)
		}
		if n := len(box.to("emails-admin@example.test")); n != 0 {
			t.Fatalf("the team's admin got %d emails for an API key's job", n)
		}
	})

	t.Run("relay down", func(t *testing.T) {
		box := box.in(t)
		const later = "emails-later@example.test"
		if err := e.Stack.StopMail(); err != nil {
			t.Fatal(err)
		}
		add(later, "viewer")
		deadline := time.Now().Add(time.Minute)
		for {
			var attempts int
			var lastErr *string
			err := conn.QueryRow(ctx, `SELECT attempts, last_error FROM email_outbox WHERE recipient = $1`, later).Scan(&attempts, &lastErr)
			if err == nil && attempts >= 1 && lastErr != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed attempt recorded with the relay down (attempts %d, err %v)", attempts, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := e.Stack.StartMail(ctx); err != nil {
			t.Fatal(err)
		}
		box.await(later, time.Minute)
	})

	// Every message arrived once: nothing is left to send, and nothing
	// arrived twice.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var unsent int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM email_outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil {
			t.Fatal(err)
		}
		if unsent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d emails still unsent", unsent)
		}
		time.Sleep(200 * time.Millisecond)
	}
	all, err := e.Stack.ReceivedMails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range all {
		seen[m.MessageID]++
	}
	if len(all) != 3 || len(seen) != 3 {
		t.Fatalf("mailpit holds %d messages (%d Message-IDs), want 3 once each: %v", len(all), len(seen), seen)
	}
}
