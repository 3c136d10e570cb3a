package observe_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/conveyorhq/conveyor/internal/observe"
)

// BenchmarkRequestTracingOff measures what tracing costs a request when
// it is off (the global no-op provider): the same router and middleware
// with and without TraceHTTP, with and without a caller's traceparent, and
// otelhttp itself over the no-op provider (what TraceHTTP spares a request
// when tracing is off). Compare the variants as ratios of "untraced".
func BenchmarkRequestTracingOff(b *testing.B) {
	m := observe.NewMetrics()
	log := observe.NewLogger(io.Discard, "text", "info")
	r := chi.NewRouter()
	r.Use(m.HTTP(log, func(*http.Request) string { return "rid" }))
	r.Get("/api/v1/teams/{team_id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, bc := range []struct {
		name        string
		h           http.Handler
		traceparent string
	}{
		{"untraced", r, ""},
		{"off", observe.TraceHTTP(r), ""},
		{"off-with-traceparent", observe.TraceHTTP(r), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"otelhttp-noop-provider", otelhttp.NewHandler(r, "http"), ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/teams/0193", nil)
			if bc.traceparent != "" {
				req.Header.Set("traceparent", bc.traceparent)
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkLogLine measures a log line with and without the trace ids'
// handler in front (no span in the context: the common case off a request).
func BenchmarkLogLine(b *testing.B) {
	for _, bc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"plain", slog.New(slog.NewTextHandler(io.Discard, nil))},
		{"with-trace-ids", slog.New(observe.WithTraceIDs(slog.NewTextHandler(io.Discard, nil)))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.log.Info("http", "method", "GET", "status", 200)
			}
		})
	}
}
