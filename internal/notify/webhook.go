// Package notify holds the building blocks of Conveyor's notifications:
// Standard Webhooks signing (this file), the egress policy that keeps
// webhook deliveries off private networks (egress.go), and email (the mail
// subpackage). The delivery wiring, fed by the team event log, is built on
// these and lives elsewhere.
package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers every delivery carries.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every endpoint secret: "whsec_" + base64 of the key.
const SecretPrefix = "whsec_"

// RotationGrace is how long a secret that was rotated away keeps signing,
// next to the new one, so a partner can switch without losing deliveries.
const RotationGrace = 24 * time.Hour

// secretBytes is the length of a generated key (the specification asks for
// 24 to 64 bytes).
const secretBytes = 32

// ErrBadSecret is returned by ParseSecret for a value that is not
// "whsec_" + base64 of 24 to 64 bytes.
var ErrBadSecret = errors.New("webhook secret: want whsec_ followed by base64 of 24 to 64 bytes")

// Secret is an endpoint's signing key. Its String form is what the API shows
// once, on creation or rotation.
type Secret struct{ key []byte }

// NewSecret returns a fresh random secret.
func NewSecret() Secret {
	k := make([]byte, secretBytes)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on Linux
	return Secret{key: k}
}

// ParseSecret reads a secret in its "whsec_…" form. It returns ErrBadSecret
// for anything else.
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return Secret{}, ErrBadSecret
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) < 24 || len(k) > 64 {
		return Secret{}, ErrBadSecret
	}
	return Secret{key: k}, nil
}

// String returns "whsec_" + base64 of the key.
func (s Secret) String() string { return SecretPrefix + base64.StdEncoding.EncodeToString(s.key) }

// IsZero reports whether s holds no key.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

// sign returns "v1," + base64 HMAC-SHA256 of "id.timestamp.body".
func (s Secret) sign(id string, ts int64, body []byte) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Keys are an endpoint's signing secrets: the current one, and while a
// rotation's grace lasts, the one it replaced.
type Keys struct {
	Current Secret
	// Previous is the secret replaced at RotatedAt; zero when there was no
	// rotation.
	Previous  Secret
	RotatedAt time.Time
}

// Rotate returns the keys after replacing the current secret with next at
// now: the old current secret keeps signing for RotationGrace.
func (k Keys) Rotate(next Secret, now time.Time) Keys {
	return Keys{Current: next, Previous: k.Current, RotatedAt: now}
}

// Active returns the secrets that sign at now, current first.
func (k Keys) Active(now time.Time) []Secret {
	out := []Secret{k.Current}
	if !k.Previous.IsZero() && now.Before(k.RotatedAt.Add(RotationGrace)) {
		out = append(out, k.Previous)
	}
	return out
}

// Sign returns the webhook-signature header value for one message: one
// "v1,<base64>" per active secret, separated by spaces.
func (k Keys) Sign(id string, ts time.Time, body []byte, now time.Time) string {
	var sigs []string
	for _, s := range k.Active(now) {
		sigs = append(sigs, s.sign(id, ts.Unix(), body))
	}
	return strings.Join(sigs, " ")
}

// Headers returns the three Standard Webhooks headers for one attempt of a
// message: the id is the same on every retry of one event; ts is the time
// of this attempt (receivers refuse stale timestamps).
func (k Keys) Headers(id string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, k.Sign(id, ts, body, ts))
	return h
}

// Payload is the body of a delivery: {"type", "timestamp", "data"}.
type Payload struct {
	// Type is the event type, e.g. "job.failed".
	Type string `json:"type"`
	// Timestamp is when the event happened (RFC 3339), not when it is sent.
	Timestamp time.Time `json:"timestamp"`
	// Data is the event's own object.
	Data json.RawMessage `json:"data"`
}

// Body encodes p as the delivery body. Data must be a JSON value; an empty
// Data is sent as {}.
func (p Payload) Body() ([]byte, error) {
	if p.Type == "" {
		return nil, errors.New("webhook payload: empty type")
	}
	if len(p.Data) == 0 {
		p.Data = json.RawMessage("{}")
	}
	if !json.Valid(p.Data) {
		return nil, fmt.Errorf("webhook payload %s: data is not JSON", p.Type)
	}
	p.Timestamp = p.Timestamp.UTC()
	return json.Marshal(p)
}
