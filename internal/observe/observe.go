// Package observe sets up logging and Prometheus metrics.
package observe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewLogger returns a logger writing to w in format ("text" or "json") at
// level ("debug", "info", "warn", "error"); a line logged with a context
// that holds a span carries its trace_id and span_id (WithTraceIDs).
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(WithTraceIDs(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(WithTraceIDs(slog.NewTextHandler(w, opts)))
}

// Metrics is a process's metric registry.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge
	quotas   *prometheus.CounterVec
}

// NewMetrics returns a registry with Go and process collectors and the HTTP
// metrics registered.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "conveyor_http_requests_total",
			Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "conveyor_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "conveyor_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		quotas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "conveyor_quota_refusals_total",
			Help: "Requests refused for a team's quota (413), by problem type: quota-exceeded (max_stored_bytes) or file-too-large (max_file_bytes). No team label: the logs name the team.",
		}, []string{"problem"}),
	}
	reg.MustRegister(m.requests, m.latency, m.inflight, m.quotas)
	return m
}

// QuotaRefused counts a request refused for a team's quota, by its
// problem type ("quota-exceeded", "file-too-large"). A nil m counts
// nothing.
func (m *Metrics) QuotaRefused(problem string) {
	if m != nil {
		m.quotas.WithLabelValues(problem).Inc()
	}
}

// Handler serves the registry in the Prometheus text format, or in
// OpenMetrics when the scraper asks for it, which carries the latency
// histograms' exemplars (the trace_id of a sampled request or task).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry, EnableOpenMetrics: true})
}

// StatusRecorder remembers the status a handler wrote, and whether the
// client had gone (see ClientGone) by then.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
	// Gone reports whether the client had gone when the status was
	// written: the answer was never going to reach it.
	Gone bool
	req  *http.Request
}

// WriteHeader implements http.ResponseWriter.
func (s *StatusRecorder) WriteHeader(code int) {
	s.record(code)
	s.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	s.record(http.StatusOK)
	return s.ResponseWriter.Write(b)
}

func (s *StatusRecorder) record(code int) {
	if s.Status != 0 {
		return
	}
	s.Status = code
	s.Gone = s.req != nil && ClientGone(s.req)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush implements http.Flusher when the underlying writer does.
func (s *StatusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// StatusClientClosed is the status recorded for a request whose client
// went away before it was answered (nginx's 499, "client closed request"):
// the client's doing, so it is logged at info and never counted as a
// server error, whatever the handler then tried to answer.
const StatusClientClosed = 499

type clientKey struct{}

// client is what HTTP learns of a request's client while it is served.
type client struct{ gone atomic.Bool }

// ClientGone reports whether r's client went away before it was answered:
// its connection closed (the request's context is cancelled) or its
// request body broke off (the connection failed or ended mid-body).
func ClientGone(r *http.Request) bool {
	if errors.Is(r.Context().Err(), context.Canceled) {
		return true
	}
	c, _ := r.Context().Value(clientKey{}).(*client)
	return c != nil && c.gone.Load()
}

// watchedBody notes a body that broke off, as opposed to one that ended.
type watchedBody struct {
	io.ReadCloser
	c *client
}

func (b watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && brokenOff(err) {
		b.c.gone.Store(true)
	}
	return n, err
}

// brokenOff reports whether a request body's read error means the client
// stopped sending: the connection ended before the body did, or failed.
func brokenOff(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

// HTTP returns middleware that counts requests by chi route template and
// status, observes their latency and logs each one. A request whose client
// had gone (see ClientGone) before its status was written is counted and
// logged as StatusClientClosed, at info, with the status the handler wrote
// as "written"; one answered before its client left keeps its status.
func (m *Metrics) HTTP(log *slog.Logger, requestID func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			m.inflight.Inc()
			defer m.inflight.Dec()
			c := &client{}
			r = r.WithContext(context.WithValue(r.Context(), clientKey{}, c))
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = watchedBody{ReadCloser: r.Body, c: c}
			}
			rec := &StatusRecorder{ResponseWriter: w, req: r}
			next.ServeHTTP(rec, r)
			if rec.Status == 0 {
				rec.record(http.StatusOK)
			}
			status, written := rec.Status, rec.Status
			if rec.Gone {
				status = StatusClientClosed
			}
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			d := time.Since(start)
			nameSpan(r, route)
			m.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			ObserveWithTrace(r.Context(), m.latency.WithLabelValues(route, r.Method), d.Seconds())
			lvl := slog.LevelInfo
			if status >= 500 {
				lvl = slog.LevelError
			}
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", route),
				slog.String("path", r.URL.Path), slog.Int("status", status), slog.Duration("took", d),
				slog.String("request_id", requestID(r))}
			if status != written {
				attrs = append(attrs, slog.Int("written", written))
			}
			log.LogAttrs(r.Context(), lvl, "http", attrs...)
		})
	}
}
