package app

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/notify/emails"
	"github.com/conveyorhq/conveyor/internal/notify/mail"
	"github.com/conveyorhq/conveyor/internal/store"
)

// emailSender returns the worker's email sender (the outbox through the
// SMTP relay of CONVEYOR_SMTP_*) and where the emails link to, or nil when
// no relay is configured (email is off: nothing is queued either).
func emailSender(cfg *config.Config, st *store.Store, log *slog.Logger, reg prometheus.Registerer) (*emails.Sender, emails.Links, error) {
	mc, ok := mail.ConfigFrom(cfg)
	if !ok {
		return nil, emails.Links{}, nil
	}
	smtp, err := mail.NewSMTP(mc)
	if err != nil {
		return nil, emails.Links{}, fmt.Errorf("worker: email: %w", err)
	}
	links := emails.Links{Console: cfg.PublicURL}
	if links.Console == "" {
		links.Console = "http://" + cfg.HTTPAddr
	}
	return &emails.Sender{Outbox: st, Mail: smtp, Logger: log, Metrics: emails.NewMetrics(reg)}, links, nil
}
