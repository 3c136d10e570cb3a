// Package mail sends Conveyor's emails through an SMTP relay (any relay:
// SendGrid's in production, mailpit locally) and renders them, each with a
// text and an HTML body, from the templates in templates/.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email, ready to send.
type Message struct {
	// ID, when set, is the Message-ID (without the angle brackets): give
	// every attempt of one message the same, so a message sent again after
	// a crash is recognisable as the same one. Empty: a fresh one.
	ID      string
	To      []string
	Subject string
	Text    string
	HTML    string
}

// Sender sends messages; SMTP is the real one. The delivery wiring depends
// on this interface, so its tests can use a small fake.
type Sender interface {
	Send(ctx context.Context, msgs ...Message) error
}

// TLS modes of the connection to the relay (CONVEYOR_SMTP_TLS).
const (
	TLSStartTLS = "starttls" // STARTTLS, required
	TLSImplicit = "tls"      // TLS from the first byte (usually port 465)
	TLSNone     = "none"     // plain: only for a relay on loopback
)

// Config is where and how to reach the relay.
type Config struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	From     string // "Name <address>" or "address"
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone
	// Timeout bounds connecting and each SMTP command; 0: 15 s.
	Timeout time.Duration
}

// SMTP sends through one relay, one connection per Send.
type SMTP struct {
	cfg  Config
	from *netmail.Address
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns a sender for it. It does not connect.
func NewSMTP(cfg Config) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: no SMTP host")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: SMTP port %d out of range", cfg.Port)
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("mail: TLS mode %q: want starttls, tls or none", cfg.TLS)
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	return &SMTP{cfg: cfg, from: from}, nil
}

func (s *SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		// Over TLS the strongest mechanism the relay offers; over a plain
		// connection (a relay on loopback) PLAIN, which go-mail otherwise
		// refuses to send unencrypted.
		auth := gomail.SMTPAuthAutoDiscover
		if s.cfg.TLS == TLSNone {
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// Send delivers msgs to the relay over one connection. It returns an error
// for a message without recipients or subject, or when the relay refuses.
func (s *SMTP) Send(ctx context.Context, msgs ...Message) error {
	out := make([]*gomail.Msg, 0, len(msgs))
	for _, m := range msgs {
		gm, err := s.build(m)
		if err != nil {
			return err
		}
		out = append(out, gm)
	}
	if len(out) == 0 {
		return nil
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, out...); err != nil {
		return fmt.Errorf("mail: send through %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

func (s *SMTP) build(m Message) (*gomail.Msg, error) {
	if len(m.To) == 0 || m.Subject == "" || m.Text == "" {
		return nil, errors.New("mail: a message needs recipients, a subject and a text body")
	}
	gm := gomail.NewMsg()
	if err := gm.FromFormat(s.from.Name, s.from.Address); err != nil {
		return nil, fmt.Errorf("mail: from: %w", err)
	}
	if err := gm.To(m.To...); err != nil {
		return nil, fmt.Errorf("mail: to %v: %w", m.To, err)
	}
	gm.Subject(m.Subject)
	if m.ID != "" {
		gm.SetMessageIDWithValue(m.ID)
	}
	gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return gm, nil
}
