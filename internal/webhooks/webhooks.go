// Package webhooks holds the rules of a team's webhook endpoints and their
// deliveries (Standard Webhooks): which URLs and event types an endpoint
// may have, who may manage them, the retry schedule, and what a delivery
// attempt's answer means. The store keeps endpoints, deliveries and
// attempts; the event log's notify consumer fans events out into
// deliveries (store.Fanout); the Sender (in the workers) sends them.
package webhooks

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/notify"
)

// Endpoint is a team's webhook endpoint.
type Endpoint struct {
	ID          uuid.UUID
	TeamID      uuid.UUID
	URL         string
	Description string
	EventTypes  []string
	// Keys sign its deliveries; never shown but on creation and rotation
	// (the current secret).
	Keys    notify.Keys
	Enabled bool
	// DisabledReason says why it is disabled ("" when enabled).
	DisabledReason string
	DisabledAt     *time.Time
	// FailingSince is the first failed attempt since its last success.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ETag is the version of the endpoint's representation.
func (e Endpoint) ETag() string {
	h := sha256.New()
	fmt.Fprintf(h, "webhook\x00%s\x00%s\x00%s\x00%s\x00%t\x00%s\x00%d", e.ID, e.URL, e.Description,
		strings.Join(e.EventTypes, ","), e.Enabled, e.DisabledReason, e.UpdatedAt.UnixMicro())
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22] + `"`
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Delivery is one message to one endpoint, with its attempts.
type Delivery struct {
	ID         uuid.UUID
	EndpointID uuid.UUID
	MessageID  string // webhook-id
	EventType  string
	Status     string
	// NextAttemptAt is when a pending delivery is due (nil otherwise).
	NextAttemptAt *time.Time
	Attempts      []Attempt
	CreatedAt     time.Time
}

// Attempt is one try at sending a delivery.
type Attempt struct {
	At time.Time
	// StatusCode is the answer's status; 0 when there was none (Error
	// says why).
	StatusCode int
	Duration   time.Duration
	// Response is the first KiB of the answer's body.
	Response string
	Error    string
}
