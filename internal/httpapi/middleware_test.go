package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/observe"
)

// TestRecoveredPanic: a panicking handler answers 500 problem+json with
// the request id; the panic and its stack go to the log only.
func TestRecoveredPanic(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{problems: problems{log: slog.New(slog.NewTextHandler(&logs, nil))}}
	h := requestID(s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal detail")
	})))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	req.Header.Set("X-Request-ID", "req-123")
	h.ServeHTTP(rec, req)

	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p["request_id"] != "req-123" || p["status"] != float64(500) || p["type"] == "" {
		t.Fatalf("problem = %v", p)
	}
	if strings.Contains(rec.Body.String(), "secret internal detail") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("the panic leaked to the client: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), "req-123") {
		t.Fatalf("the panic is not in the log with the request id: %s", logs.String())
	}
}

// TestInternalErrorsStayInternal: an error that is not a domain error is a
// generic 500; its text only reaches the log.
func TestInternalErrorsStayInternal(t *testing.T) {
	var logs bytes.Buffer
	p := problems{log: slog.New(slog.NewTextHandler(&logs, nil))}
	rec := httptest.NewRecorder()
	p.write(rec, httptest.NewRequest("GET", "/x", nil), errString("pq: password authentication failed for user admin"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "password") || !strings.Contains(logs.String(), "password") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestQuotaRefusalsCounted: a quota refusal (413 quota-exceeded or
// file-too-large) counts in conveyor_quota_refusals_total by problem type;
// another 413 does not.
func TestQuotaRefusalsCounted(t *testing.T) {
	m := observe.NewMetrics()
	p := problems{log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: m}
	for _, err := range []error{
		domain.ErrQuotaExceeded(domain.QuotaExceeded{Limit: 10}),
		domain.ErrQuotaExceeded(domain.QuotaExceeded{Limit: 10}),
		domain.ErrFileTooLarge(domain.QuotaExceeded{Limit: 5}),
		domain.Errorf(domain.CodeTooLarge, "too large"),
	} {
		rec := httptest.NewRecorder()
		p.write(rec, httptest.NewRequest("POST", "/x", nil), err)
		if rec.Code != 413 {
			t.Fatalf("status %d for %v", rec.Code, err)
		}
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "conveyor_quota_refusals_total" {
			continue
		}
		for _, c := range mf.GetMetric() {
			got[c.GetLabel()[0].GetValue()] = c.GetCounter().GetValue()
		}
	}
	if len(got) != 2 || got["quota-exceeded"] != 2 || got["file-too-large"] != 1 {
		t.Fatalf("conveyor_quota_refusals_total by problem = %v, want quota-exceeded 2, file-too-large 1", got)
	}
}
