package conveyor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// MaxWebhookBody bounds the body VerifyWebhookRequest reads.
const MaxWebhookBody = 1 << 20

// ErrWebhookSignature is returned (wrapped) when a delivery's signature
// does not verify: a wrong secret, a changed body, a missing or malformed
// header, or a timestamp more than five minutes off.
var ErrWebhookSignature = errors.New("conveyor: webhook signature does not verify")

// WebhookEvent is one delivery's body: {"type", "timestamp", "data"}.
type WebhookEvent struct {
	// ID is the webhook-id header: the same on every retry of one event,
	// so a receiver can drop duplicates.
	ID        string          `json:"-"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// WebhookVerifier checks Conveyor's webhook deliveries with an endpoint's
// secrets, using the Standard Webhooks reference library. While a secret
// is being rotated, give it both: a delivery verifies with either.
type WebhookVerifier struct {
	hooks []*standardwebhooks.Webhook
}

// NewWebhookVerifier returns a verifier for the endpoint secrets given
// ("whsec_…", as the API showed them). It returns an error for an empty
// list or a malformed secret.
func NewWebhookVerifier(secrets ...string) (*WebhookVerifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("conveyor: a webhook verifier needs at least one secret")
	}
	v := &WebhookVerifier{}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return nil, fmt.Errorf("conveyor: webhook secret: %w", err)
		}
		v.hooks = append(v.hooks, wh)
	}
	return v, nil
}

// Verify checks body against the delivery's headers and decodes it. The
// error wraps ErrWebhookSignature when the signature or timestamp is wrong.
func (v *WebhookVerifier) Verify(body []byte, header http.Header) (WebhookEvent, error) {
	var errs []error
	ok := false
	for _, wh := range v.hooks {
		err := wh.Verify(body, header)
		if err == nil {
			ok = true
			break
		}
		errs = append(errs, err)
	}
	if !ok {
		return WebhookEvent{}, fmt.Errorf("%w: %w", ErrWebhookSignature, errors.Join(errs...))
	}
	var ev WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return WebhookEvent{}, fmt.Errorf("conveyor: webhook body: %w", err)
	}
	ev.ID = header.Get(standardwebhooks.HeaderWebhookID)
	return ev, nil
}

// VerifyRequest reads at most MaxWebhookBody bytes of r's body and verifies
// it as Verify does.
//
//	v, _ := conveyor.NewWebhookVerifier(os.Getenv("CONVEYOR_WEBHOOK_SECRET"))
//	http.HandleFunc("/hooks/conveyor", func(w http.ResponseWriter, r *http.Request) {
//		ev, err := v.VerifyRequest(r)
//		if err != nil {
//			http.Error(w, "bad signature", http.StatusBadRequest)
//			return
//		}
//		// handle ev.Type / ev.Data; drop an ev.ID seen before
//		w.WriteHeader(http.StatusNoContent)
//	})
func (v *WebhookVerifier) VerifyRequest(r *http.Request) (WebhookEvent, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return WebhookEvent{}, fmt.Errorf("conveyor: read webhook body: %w", err)
	}
	if len(body) > MaxWebhookBody {
		return WebhookEvent{}, fmt.Errorf("conveyor: webhook body over %d bytes", MaxWebhookBody)
	}
	return v.Verify(body, r.Header)
}
