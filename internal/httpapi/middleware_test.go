package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
