package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	conveyor "github.com/conveyorhq/conveyor/clients/go"

	"github.com/conveyorhq/conveyor/internal/notify"
)

func mustBody(t *testing.T, p notify.Payload) []byte {
	t.Helper()
	b, err := p.Body()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignaturesVerifyWithTheUpstreamGoLibrary: what Conveyor signs, the
// Standard Webhooks reference library accepts; a changed body, id or
// timestamp, or another secret, it refuses.
func TestSignaturesVerifyWithTheUpstreamGoLibrary(t *testing.T) {
	sec := notify.NewSecret()
	keys := notify.Keys{Current: sec}
	now := time.Now()
	body := mustBody(t, notify.Payload{Type: "job.failed", Timestamp: now.Add(-time.Minute), Data: json.RawMessage(`{"id":"j1","error":"boom"}`)})
	h := keys.Headers("msg_1", now, body)

	wh, err := standardwebhooks.NewWebhook(sec.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("upstream refused Conveyor's signature: %v (headers %v)", err, h)
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] = 'X'
	if err := wh.Verify(tampered, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("tampered body: %v, want no matching signature", err)
	}
	other := h.Clone()
	other.Set(notify.HeaderID, "msg_2")
	if err := wh.Verify(body, other); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("other id: %v, want no matching signature", err)
	}
	stranger, _ := standardwebhooks.NewWebhook(notify.NewSecret().String())
	if err := stranger.Verify(body, h); err == nil {
		t.Error("another secret verified the signature")
	}
	// Upstream's own signature for the same message is byte for byte ours.
	want, _ := wh.Sign("msg_1", now, body)
	if got := h.Get(notify.HeaderSignature); got != want {
		t.Errorf("signature %q, upstream signs %q", got, want)
	}
}

// TestRotationSignsWithBothSecretsForADay: after a rotation the header lists
// the new and the old signature, each verifying with its own secret, until
// RotationGrace has passed; then only the new one.
func TestRotationSignsWithBothSecretsForADay(t *testing.T) {
	old, next := notify.NewSecret(), notify.NewSecret()
	rotatedAt := time.Now().Add(-time.Hour)
	keys := notify.Keys{Current: old}.Rotate(next, rotatedAt)
	body := mustBody(t, notify.Payload{Type: "file.created", Timestamp: rotatedAt, Data: json.RawMessage(`{"id":"f1"}`)})

	for _, tc := range []struct {
		name     string
		now      time.Time
		oldValid bool
	}{
		{"within the grace", time.Now(), true},
		{"just before the end", rotatedAt.Add(notify.RotationGrace - time.Second), true},
		{"after the grace", rotatedAt.Add(notify.RotationGrace), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := keys.Headers("msg_r", tc.now, body)
			sigs := strings.Fields(h.Get(notify.HeaderSignature))
			wantN := 1
			if tc.oldValid {
				wantN = 2
			}
			if len(sigs) != wantN {
				t.Fatalf("signatures %q, want %d", sigs, wantN)
			}
			for _, s := range []struct {
				sec   notify.Secret
				valid bool
			}{{next, true}, {old, tc.oldValid}} {
				wh, _ := standardwebhooks.NewWebhook(s.sec.String())
				err := wh.VerifyIgnoringTimestamp(body, h)
				if (err == nil) != s.valid {
					t.Errorf("secret valid=%v: verify error %v", s.valid, err)
				}
			}
		})
	}
}

func TestPayloadBodyShape(t *testing.T) {
	ts := time.Date(2026, 12, 4, 3, 0, 0, 0, time.FixedZone("x", 3600))
	b := mustBody(t, notify.Payload{Type: "job.succeeded", Timestamp: ts, Data: json.RawMessage(`{"id":"j"}`)})
	if got, want := string(b), `{"type":"job.succeeded","timestamp":"2026-12-04T02:00:00Z","data":{"id":"j"}}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if b := mustBody(t, notify.Payload{Type: "x.y", Timestamp: ts}); !strings.HasSuffix(string(b), `"data":{}}`) {
		t.Errorf("empty data: %s", b)
	}
	for _, p := range []notify.Payload{{Timestamp: ts}, {Type: "x", Data: json.RawMessage(`{`)}} {
		if _, err := p.Body(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}

func TestParseSecret(t *testing.T) {
	s := notify.NewSecret()
	if !strings.HasPrefix(s.String(), "whsec_") {
		t.Fatalf("secret %q", s)
	}
	back, err := notify.ParseSecret(s.String())
	if err != nil || back.String() != s.String() {
		t.Fatalf("round trip: %v %q", err, back)
	}
	for _, bad := range []string{"", "whsec_", "abc", "whsec_!!", "whsec_" + strings.Repeat("A", 8), "sk_" + s.String()[6:]} {
		if _, err := notify.ParseSecret(bad); !errors.Is(err, notify.ErrBadSecret) {
			t.Errorf("ParseSecret(%q) = %v", bad, err)
		}
	}
	var h http.Header = notify.Keys{Current: s}.Headers("msg_x", time.Unix(1700000000, 0), []byte("{}"))
	if h.Get(notify.HeaderTimestamp) != "1700000000" || h.Get(notify.HeaderID) != "msg_x" {
		t.Errorf("headers %v", h)
	}
}

// TestSignaturesVerifyWithTheGoSDK: a delivery signed by Conveyor, posted to
// a loopback receiver, verifies with the Go SDK's WebhookVerifier (built on
// the upstream library), with either secret during a rotation.
func TestSignaturesVerifyWithTheGoSDK(t *testing.T) {
	old, next := notify.NewSecret(), notify.NewSecret()
	keys := notify.Keys{Current: old}.Rotate(next, time.Now())
	for _, sec := range []notify.Secret{old, next} {
		v, err := conveyor.NewWebhookVerifier(sec.String())
		if err != nil {
			t.Fatal(err)
		}
		var got conveyor.WebhookEvent
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ev, err := v.VerifyRequest(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			got = ev
			w.WriteHeader(http.StatusNoContent)
		}))
		body := mustBody(t, notify.Payload{Type: "job.succeeded", Timestamp: time.Now(), Data: json.RawMessage(`{"id":"j2"}`)})
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		for k, vs := range keys.Headers("msg_sdk", time.Now(), body) {
			req.Header[k] = vs
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != http.StatusNoContent || got.ID != "msg_sdk" || got.Type != "job.succeeded" {
			t.Errorf("status %d, event %+v", resp.StatusCode, got)
		}
	}
}
