package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// MailpitVersion is the mailpit release `make deps` installs into bin/.
const MailpitVersion = "v1.33.1"

// StartMail starts mailpit (if it is not running), an SMTP server that keeps
// every message it receives and shows them in a web UI and an HTTP API, on
// loopback; it waits until both answer. Only a stack started with
// Options.Mail has it.
func (s *Stack) StartMail(ctx context.Context) error {
	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	if !s.opts.Mail {
		s.mu.Unlock()
		return fmt.Errorf("devstack: start mail: the stack was started without Options.Mail")
	}
	p := s.mail
	if p == nil || p.exited() {
		var err error
		p, err = startProc(procSpec{
			name: "mailpit",
			path: s.bins.mailpit,
			args: []string{
				"--smtp", s.SMTPAddr,
				"--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Ports.MailUI)),
				"--database", filepath.Join(s.paths.mailDir, "mailpit.db"),
				"--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
				"--disable-version-check", "--block-remote-css-and-fonts",
				"--quiet",
			},
			dir:     s.Dir,
			logPath: filepath.Join(s.paths.logs, "mailpit.log"),
			stopSig: syscall.SIGTERM,
		})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("devstack: start mail: %w", err)
		}
		s.mail = p
	}
	s.mu.Unlock()

	began := time.Now()
	client := &http.Client{Timeout: 2 * time.Second}
	check := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.MailURL+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", s.SMTPAddr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	if err := waitReady(ctx, "mailpit", p, check); err != nil {
		return fmt.Errorf("devstack: start mail: %w", err)
	}
	s.logf("mail (mailpit) ready: SMTP on %s, UI and API on %s (%s)", s.SMTPAddr, s.MailURL, time.Since(began).Round(time.Millisecond))
	return nil
}

// StopMail stops mailpit and waits until it is gone.
func (s *Stack) StopMail() error {
	s.mu.Lock()
	p := s.mail
	s.mu.Unlock()
	if err := p.stop(); err != nil {
		return fmt.Errorf("devstack: stop mail: %w", err)
	}
	return nil
}

// ReceivedMail is one message as mailpit's API shows it.
type ReceivedMail struct {
	ID string // mailpit's
	// MessageID is the Message-ID header, without angle brackets.
	MessageID string
	From      string
	To        []string
	Subject   string
	Text      string
	HTML      string
}

// ReceivedMails returns every message mailpit holds, newest first, read
// through its HTTP API (GET /api/v1/messages, then /api/v1/message/{id}).
func (s *Stack) ReceivedMails(ctx context.Context) ([]ReceivedMail, error) {
	if s.MailURL == "" {
		return nil, fmt.Errorf("devstack: the stack was started without Options.Mail")
	}
	type addr struct{ Name, Address string }
	var list struct {
		Messages []struct{ ID string }
	}
	if err := getJSON(ctx, s.MailURL+"/api/v1/messages?limit=500", &list); err != nil {
		return nil, err
	}
	out := make([]ReceivedMail, 0, len(list.Messages))
	for _, m := range list.Messages {
		var full struct {
			ID         string
			MessageID  string
			From       addr
			To         []addr
			Subject    string
			Text, HTML string
		}
		if err := getJSON(ctx, s.MailURL+"/api/v1/message/"+m.ID, &full); err != nil {
			return nil, err
		}
		r := ReceivedMail{ID: full.ID, MessageID: full.MessageID, From: full.From.Address, Subject: full.Subject, Text: full.Text, HTML: full.HTML}
		for _, a := range full.To {
			r.To = append(r.To, a.Address)
		}
		out = append(out, r)
	}
	return out, nil
}

func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("devstack: mailpit API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("devstack: mailpit API %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(v); err != nil {
		return fmt.Errorf("devstack: mailpit API %s: %w", url, err)
	}
	return nil
}
