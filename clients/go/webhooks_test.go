package conveyor_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// sign is the Standard Webhooks signature, written out here so the test
// does not lean on the library the helper is built on.
func sign(secret, id string, ts int64, body string) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestWebhookVerifier(t *testing.T) {
	body := `{"type":"job.failed","timestamp":"2026-12-04T02:00:00Z","data":{"id":"j1"}}`
	now := time.Now().Unix()
	v, err := conveyor.NewWebhookVerifier(secretA)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := v.Verify([]byte(body), headers("msg_1", now, sign(secretA, "msg_1", now, body)))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "msg_1" || ev.Type != "job.failed" || string(ev.Data) != `{"id":"j1"}` || !ev.Timestamp.Equal(time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("event %+v", ev)
	}
	// A rotation: the header lists both signatures; either secret verifies.
	both := sign(secretB, "msg_2", now, body) + " " + sign(secretA, "msg_2", now, body)
	for _, s := range []string{secretA, secretB} {
		v, _ := conveyor.NewWebhookVerifier(s)
		if _, err := v.Verify([]byte(body), headers("msg_2", now, both)); err != nil {
			t.Errorf("rotation, secret %s: %v", s[:10], err)
		}
	}
	for name, h := range map[string]http.Header{
		"tampered id":   headers("msg_X", now, sign(secretA, "msg_1", now, body)),
		"other secret":  headers("msg_1", now, sign(secretB, "msg_1", now, body)),
		"stale":         headers("msg_1", now-600, sign(secretA, "msg_1", now-600, body)),
		"no signature":  headers("msg_1", now, ""),
		"bad timestamp": {"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {"soon"}, "Webhook-Signature": {"v1,x"}},
	} {
		if _, err := v.Verify([]byte(body), h); !errors.Is(err, conveyor.ErrWebhookSignature) {
			t.Errorf("%s: %v, want ErrWebhookSignature", name, err)
		}
	}
	if _, err := conveyor.NewWebhookVerifier(); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := conveyor.NewWebhookVerifier("whsec_!!"); err == nil {
		t.Error("malformed secret accepted")
	}
}

func TestWebhookVerifierRequest(t *testing.T) {
	v, _ := conveyor.NewWebhookVerifier(secretA)
	body := `{"type":"file.created","timestamp":"2026-12-04T02:00:00Z","data":{}}`
	now := time.Now().Unix()
	var got conveyor.WebhookEvent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.VerifyRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = ev
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header = headers("msg_9", now, sign(secretA, "msg_9", now, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || got.Type != "file.created" || got.ID != "msg_9" {
		t.Fatalf("status %d, event %+v", resp.StatusCode, got)
	}
}
