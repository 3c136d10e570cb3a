package mail_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
	"github.com/conveyorhq/conveyor/internal/notify/mail"
)

func messages(t *testing.T) map[string]mail.Message {
	t.Helper()
	at := time.Date(2026, 12, 4, 3, 4, 0, 0, time.UTC)
	out := map[string]mail.Message{}
	for name, m := range map[string]interface{ Message() (mail.Message, error) }{
		"invitation": mail.Invitation{To: "new.person@example.com", TeamName: "Acme <Ops>", Role: "member", InvitedBy: "Ann Manager", SignInURL: "http://127.0.0.1:8080/"},
		"job failed": mail.JobFailed{To: "creator@example.com", TeamName: "Acme <Ops>", JobID: "0193-job", Kind: "thumbnail", FileName: "cat.png",
			Error: "image: unknown format", FailedAt: at, JobURL: "http://127.0.0.1:8080/jobs/0193-job", SettingsURL: "http://127.0.0.1:8080/settings"},
		"endpoint disabled": mail.EndpointDisabled{To: []string{"m1@example.com", "m2@example.com"}, TeamName: "Acme <Ops>", EndpointID: "wh_1",
			EndpointURL: "https://partner.example/hook", Reason: "every delivery failed for 5 days", DisabledAt: at, WebhooksURL: "http://127.0.0.1:8080/team-manager"},
	} {
		msg, err := m.Message()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = msg
	}
	return out
}

// TestMessagesRenderTextAndHTML: each message has both bodies, the HTML one
// escaping what came from users (a team name with <>).
func TestMessagesRenderTextAndHTML(t *testing.T) {
	for name, m := range messages(t) {
		t.Run(name, func(t *testing.T) {
			if m.Subject == "" || len(m.To) == 0 {
				t.Fatalf("message %+v", m)
			}
			if !strings.Contains(m.Text, "Acme <Ops>") {
				t.Errorf("text body lacks the team name:\n%s", m.Text)
			}
			if !strings.Contains(m.HTML, "Acme &lt;Ops&gt;") || strings.Contains(m.HTML, "<Ops>") {
				t.Errorf("html body does not escape the team name:\n%s", m.HTML)
			}
		})
	}
	if m := messages(t)["job failed"]; !strings.Contains(m.Text, "image: unknown format") || !strings.Contains(m.Text, "2026-12-04 03:04 UTC") ||
		!strings.Contains(m.HTML, `href="http://127.0.0.1:8080/settings"`) {
		t.Errorf("job failed:\n%s\n%s", m.Text, m.HTML)
	}
}

func TestNewSMTPRefusesBadConfig(t *testing.T) {
	good := mail.Config{Host: "127.0.0.1", Port: 25, From: "Conveyor <noreply@example.com>", TLS: mail.TLSNone}
	if _, err := mail.NewSMTP(good); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*mail.Config){
		"no host": func(c *mail.Config) { c.Host = "" },
		"port":    func(c *mail.Config) { c.Port = 0 },
		"tls":     func(c *mail.Config) { c.TLS = "sometimes" },
		"from":    func(c *mail.Config) { c.From = "nobody" },
	} {
		c := good
		f(&c)
		if _, err := mail.NewSMTP(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, ok := mail.ConfigFrom(&config.Config{}); ok {
		t.Error("no host: email should be off")
	}
}

// TestMessagesArriveInMailpit sends each message through the real mailpit
// of the devstack over SMTP, and reads what arrived through mailpit's API.
func TestMessagesArriveInMailpit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the devstack")
	}
	st := devstacktest.StartWithMailForTest(t)
	host, port, _ := net.SplitHostPort(st.SMTPAddr)
	p, _ := strconv.Atoi(port)
	cfg, err := config.Parse(func(k string) string {
		return map[string]string{"CONVEYOR_SMTP_HOST": host, "CONVEYOR_SMTP_PORT": strconv.Itoa(p), "CONVEYOR_SMTP_TLS": "none",
			"CONVEYOR_SMTP_USERNAME": "apikey", "CONVEYOR_SMTP_PASSWORD": "secret"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	mc, ok := mail.ConfigFrom(cfg)
	if !ok {
		t.Fatal("email off")
	}
	sender, err := mail.NewSMTP(mc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sent := messages(t)
	for name, m := range sent {
		if err := sender.Send(ctx, m); err != nil {
			t.Fatalf("send %s: %v", name, err)
		}
	}
	got, err := st.ReceivedMails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Fatalf("mailpit holds %d messages, want %d: %+v", len(got), len(sent), got)
	}
	bySubject := map[string]devstack.ReceivedMail{}
	for _, r := range got {
		bySubject[r.Subject] = r
	}
	for name, m := range sent {
		r, ok := bySubject[m.Subject]
		if !ok {
			t.Errorf("%s: no message with subject %q arrived", name, m.Subject)
			continue
		}
		if strings.Join(r.To, ",") != strings.Join(m.To, ",") {
			t.Errorf("%s: to %v, want %v", name, r.To, m.To)
		}
		if r.From != "noreply@conveyor.localhost" {
			t.Errorf("%s: from %q", name, r.From)
		}
		if strings.TrimSpace(strings.ReplaceAll(r.Text, "\r\n", "\n")) != strings.TrimSpace(m.Text) { // SMTP lines end in CRLF
			t.Errorf("%s: text part\n%q\nwant\n%q", name, r.Text, m.Text)
		}
		if !strings.Contains(r.HTML, "Acme &lt;Ops&gt;") || !strings.Contains(r.HTML, "<p>") {
			t.Errorf("%s: html part %q", name, r.HTML)
		}
	}

	// The stack owns mailpit by its pid and stops it.
	pid := st.PIDs()["mailpit"]
	if pid == 0 {
		t.Fatalf("no mailpit pid in %v", st.PIDs())
	}
	if err := st.StopMail(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("mailpit (pid %d) still there after StopMail: %v", pid, err)
	}
}
