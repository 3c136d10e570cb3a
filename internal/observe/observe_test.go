package observe_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/observe"
)

// TestClientClosedIs499 serves requests whose client leaves: one left
// before its answer (499, logged at info), one after it (its own status).
func TestClientClosedIs499(t *testing.T) {
	var log bytes.Buffer
	m := observe.NewMetrics()
	handled := make(chan struct{}, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("/before", func(w http.ResponseWriter, r *http.Request) {
		defer func() { handled <- struct{}{} }()
		<-r.Context().Done() // the client is gone: whatever fails now is not the server's fault
		if !observe.ClientGone(r) {
			t.Error("ClientGone = false after the client left")
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/after", func(w http.ResponseWriter, r *http.Request) {
		defer func() { handled <- struct{}{} }()
		w.WriteHeader(http.StatusCreated)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // answered, then the client left
	})
	srv := httptest.NewServer(m.HTTP(slog.New(slog.NewTextHandler(&log, nil)), func(*http.Request) string { return "rid" })(mux))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/before", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was answered before the client gave up")
	}
	resp, err := http.Get(srv.URL + "/after")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	for range 2 {
		select {
		case <-handled:
		case <-time.After(5 * time.Second):
			t.Fatal("a handler never saw its client leave")
		}
	}
	time.Sleep(50 * time.Millisecond) // the middleware records after the handler returns

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`method="GET",route="unmatched",status="499"} 1`, `method="GET",route="unmatched",status="201"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), `status="503"`) {
		t.Error("the abandoned request was counted as 503")
	}
	if strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "status=499") ||
		!strings.Contains(log.String(), "written=503") {
		t.Errorf("log:\n%s\nwant the abandoned request at info as 499 (written 503)", log.String())
	}
}

// TestThrottle writes a lasting condition's warning once per interval,
// with a count of what it dropped, and lets other levels through.
func TestThrottle(t *testing.T) {
	var buf bytes.Buffer
	log := observe.Throttle(slog.New(slog.NewTextHandler(&buf, nil)), 200*time.Millisecond)
	for range 50 {
		log.Warn("redis down", "err", "refused")
		log.With("k", "v").Warn("redis down") // derived loggers share the count
		log.Info("request")
	}
	log.Warn("another condition")
	time.Sleep(250 * time.Millisecond)
	log.Warn("redis down")
	out := buf.String()
	if n := strings.Count(out, `msg="redis down"`); n != 2 {
		t.Errorf("%d warnings written, want 2 (one per interval):\n%s", n, out)
	}
	if !strings.Contains(out, "suppressed=99") {
		t.Errorf("the second warning does not count the 99 dropped:\n%s", out)
	}
	if n := strings.Count(out, "msg=request"); n != 50 {
		t.Errorf("%d info lines, want all 50", n)
	}
	if !strings.Contains(out, `msg="another condition"`) {
		t.Error("a different warning was throttled with the first")
	}
}
