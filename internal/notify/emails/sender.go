package emails

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/conveyorhq/conveyor/internal/notify/mail"
)

// Queued is a message waiting in the outbox, as a sender claimed it.
type Queued struct {
	ID       uuid.UUID // also its Message-ID: <ID@MessageIDDomain>
	Kind     string
	Message  mail.Message
	Attempts int // this one included
}

// MessageIDDomain is the right-hand side of every Message-ID Conveyor sets.
const MessageIDDomain = "conveyor"

// MessageID is the Message-ID (without angle brackets) of the queued
// message id: the same on every attempt.
func MessageID(id uuid.UUID) string { return id.String() + "@" + MessageIDDomain }

// Outbox is what the sender needs of the email outbox (store.Store).
type Outbox interface {
	// ClaimEmails takes up to n due messages, leasing each for lease
	// (another sender takes it again after that, if it is still unsent)
	// and counting the attempt.
	ClaimEmails(ctx context.Context, n int, lease time.Duration) ([]Queued, error)
	// EmailSent records that the relay accepted message id.
	EmailSent(ctx context.Context, id uuid.UUID) error
	// EmailFailed records a failed attempt: tried again after delay, or
	// never again when giveUp.
	EmailFailed(ctx context.Context, id uuid.UUID, reason string, delay time.Duration, giveUp bool) error
	// ForgetEmails deletes messages sent or given up on before before.
	ForgetEmails(ctx context.Context, before time.Time) (int64, error)
}

// The sender's defaults.
const (
	defaultInterval = 2 * time.Second
	defaultBatch    = 20
	// Lease is how long a claimed message is left to its sender: longer
	// than an SMTP exchange can take (mail.Config.Timeout bounds each
	// command), so a live sender is never overtaken.
	Lease = 2 * time.Minute
	// MaxAttempts bounds the tries of one message (about a day of
	// backoff); then it is given up on, and logged.
	MaxAttempts = 12
	// Keep is how long sent messages stay in the outbox.
	Keep = 7 * 24 * time.Hour
)

// Backoff is the wait after the attempt-th failed attempt: 5 s doubling,
// at most 2 h, with up to 20 % jitter.
func Backoff(attempt int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempt && d < 2*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 2*time.Hour)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// Sender sends the outbox's messages through Mail, each until the relay
// accepts it (at least once: a crash after the relay accepted a message
// and before EmailSent sends it again, under the same Message-ID). Several
// may run at once (one per worker): a message is claimed by one at a time.
// It looks when woken (Wake: the email fan-out queued something), and
// every Interval otherwise (retries come due).
type Sender struct {
	Outbox   Outbox
	Mail     mail.Sender
	Logger   *slog.Logger
	Interval time.Duration // default 2 s
	Batch    int           // default 20
	Metrics  *Metrics      // optional

	once sync.Once
	wake chan struct{}
}

func (s *Sender) wakeCh() chan struct{} {
	s.once.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// Wake makes the sender look now (or right after its current round).
func (s *Sender) Wake() {
	select {
	case s.wakeCh() <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done.
func (s *Sender) Run(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = defaultInterval
	}
	wake := s.wakeCh()
	t := time.NewTimer(interval)
	defer t.Stop()
	lastForget := time.Time{}
	for {
		again := s.Round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(lastForget) > time.Hour {
			lastForget = time.Now()
			if _, err := s.Outbox.ForgetEmails(ctx, time.Now().Add(-Keep)); err != nil && ctx.Err() == nil {
				s.Logger.Warn("emails: forget old messages", "err", err)
			}
		}
		if again {
			continue // each such round took a full batch: bounded by the outbox
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// Round sends one batch of due messages and reports whether it was full
// (more may be due).
func (s *Sender) Round(ctx context.Context) (again bool) {
	batch := s.Batch
	if batch <= 0 {
		batch = defaultBatch
	}
	msgs, err := s.Outbox.ClaimEmails(ctx, batch, Lease)
	if err != nil {
		if ctx.Err() == nil {
			s.Logger.Warn("emails: claim due messages", "err", err)
		}
		return false
	}
	for _, q := range msgs {
		s.send(ctx, q)
	}
	return len(msgs) == batch
}

func (s *Sender) send(ctx context.Context, q Queued) {
	m := q.Message
	m.ID = MessageID(q.ID)
	err := s.Mail.Send(ctx, m)
	if err == nil {
		if err := s.Outbox.EmailSent(ctx, q.ID); err != nil && ctx.Err() == nil {
			// Sent again once the lease ends, under the same Message-ID.
			s.Logger.Warn("emails: record a sent message", "id", q.ID, "err", err)
		}
		s.Metrics.observe(q.Kind, "sent")
		return
	}
	if ctx.Err() != nil {
		return // stopping: the lease hands it to the next sender
	}
	giveUp := q.Attempts >= MaxAttempts
	delay := Backoff(q.Attempts)
	outcome := "retried"
	if giveUp {
		outcome = "given_up"
		s.Logger.Error("emails: giving up on a message", "id", q.ID, "kind", q.Kind, "attempts", q.Attempts, "err", err)
	} else {
		s.Logger.Warn("emails: send failed; trying again later", "id", q.ID, "kind", q.Kind, "attempt", q.Attempts, "retry_in", delay, "err", err)
	}
	if err := s.Outbox.EmailFailed(ctx, q.ID, err.Error(), delay, giveUp); err != nil && ctx.Err() == nil {
		s.Logger.Warn("emails: record a failed attempt", "id", q.ID, "err", err)
	}
	s.Metrics.observe(q.Kind, outcome)
}

// Metrics count the sender's attempts.
type Metrics struct {
	Attempts *prometheus.CounterVec // by kind and outcome
}

// NewMetrics registers the sender's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "conveyor_email_attempts_total",
		Help: "Attempts to send a queued email, by kind and outcome (sent, retried, given_up)."}, []string{"kind", "outcome"})}
	reg.MustRegister(m.Attempts)
	return m
}

func (m *Metrics) observe(kind, outcome string) {
	if m != nil {
		m.Attempts.WithLabelValues(kind, outcome).Inc()
	}
}
