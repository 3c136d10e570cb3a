package observe_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/conveyorhq/conveyor/internal/observe"
)

func remote(t *testing.T, sampled bool) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(cfg)
	return trace.ContextWithRemoteSpanContext(context.Background(), sc), sc
}

// TestLogLinesCarryTraceIDs: a line logged with a span's context names its
// trace and span, in both formats; one logged without says nothing of it.
func TestLogLinesCarryTraceIDs(t *testing.T) {
	ctx, sc := remote(t, false) // not sampled: the ids are still the caller's
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log := observe.NewLogger(&buf, format, "info").With("component", "test")
		log.InfoContext(ctx, "with")
		log.Info("without")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: lines = %q", format, lines)
		}
		for _, want := range []string{sc.TraceID().String(), sc.SpanID().String(), "trace_id", "span_id"} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("%s: %q lacks %s", format, lines[0], want)
			}
		}
		if strings.Contains(lines[1], "trace_id") {
			t.Errorf("%s: a line without a span has a trace id: %q", format, lines[1])
		}
	}
}

// TestRootsOfWork: traces start at requests and tasks only; a query with no
// parent is dropped, one inside a sampled trace is kept.
func TestRootsOfWork(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(observe.RootsOfWork(sdktrace.ParentBased(sdktrace.AlwaysSample()))))
	tr := tp.Tracer("test")
	_, orphan := tr.Start(context.Background(), "orphan query", trace.WithSpanKind(trace.SpanKindClient))
	orphan.End()
	_, internal := tr.Start(context.Background(), "background", trace.WithSpanKind(trace.SpanKindInternal))
	internal.End()
	ctx, server := tr.Start(context.Background(), "GET /x", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tr.Start(ctx, "query", trace.WithSpanKind(trace.SpanKindClient))
	child.End()
	server.End()
	_, consumer := tr.Start(context.Background(), "process high", trace.WithSpanKind(trace.SpanKindConsumer))
	consumer.End()
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "query,GET /x,process high" {
		t.Fatalf("recorded %v, want the request, its query and the task", names)
	}
}

// TestSetupTracingOffByDefault: without OTEL_* settings no provider is
// installed (the global one stays a no-op) but a caller's traceparent is
// read; an exporter asked for installs one; a bad value is an error that
// names the variable.
func TestSetupTracingOffByDefault(t *testing.T) {
	before := otel.GetTracerProvider()
	defer func() { otel.SetTracerProvider(before); observe.ResetTracing() }()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	shutdown, err := observe.SetupTracing(context.Background(), env(nil), "conveyor-test")
	if err != nil {
		t.Fatal(err)
	}
	_ = shutdown(context.Background())
	if otel.GetTracerProvider() != before {
		t.Fatal("a tracer provider was installed with no OTEL_* settings")
	}
	if _, span := otel.Tracer("t").Start(context.Background(), "x"); span.IsRecording() {
		t.Fatal("spans record with tracing off")
	}
	h := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), propagation.HeaderCarrier(h))
	if trace.SpanContextFromContext(ctx).TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatal("the caller's traceparent is not read with tracing off")
	}

	for _, bad := range []map[string]string{{"OTEL_TRACES_EXPORTER": "zipkin"}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
		{"OTEL_TRACES_EXPORTER": "console", "OTEL_TRACES_SAMPLER": "sometimes"}} {
		if _, err := observe.SetupTracing(context.Background(), env(bad), "conveyor-test"); err == nil || !strings.Contains(err.Error(), "OTEL_") {
			t.Errorf("%v: err = %v, want one naming the variable", bad, err)
		}
	}
	if otel.GetTracerProvider() != before {
		t.Fatal("a bad setting installed a provider")
	}
	shutdown, err = observe.SetupTracing(context.Background(), env(map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}), "conveyor-test")
	if err != nil || otel.GetTracerProvider() != before {
		t.Fatalf("OTEL_SDK_DISABLED=true: err %v, provider installed %v", err, otel.GetTracerProvider() != before)
	}
	_ = shutdown(context.Background())
	shutdown, err = observe.SetupTracing(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}), "conveyor-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Fatalf("an OTLP endpoint installed %T, want the SDK's provider", otel.GetTracerProvider())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing listens there: do not wait for the export
	_ = shutdown(ctx)
}

// TestExemplarOnlyForSampledTraces: a latency observed in a sampled trace
// carries its trace id as the exemplar; one in an unsampled one does not.
func TestExemplarOnlyForSampledTraces(t *testing.T) {
	for _, sampled := range []bool{true, false} {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: []float64{1}})
		ctx, sc := remote(t, sampled)
		observe.ObserveWithTrace(ctx, h, 0.5)
		observe.ObserveWithTrace(context.Background(), h, 2) // another bucket, no trace
		reg := prometheus.NewRegistry()
		reg.MustRegister(h)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		b := mfs[0].GetMetric()[0].GetHistogram().GetBucket()[0]
		ex := b.GetExemplar()
		switch {
		case sampled && (ex == nil || ex.GetLabel()[0].GetValue() != sc.TraceID().String()):
			t.Errorf("sampled: exemplar = %v, want trace %s", ex, sc.TraceID())
		case !sampled && ex != nil:
			t.Errorf("unsampled: exemplar = %v, want none", ex)
		}
	}
}

// TestRequestLinesShareATraceIDWithTracingOff: with tracing off, a request's
// log line carries the caller's trace id, or a fresh one when it sent none,
// and the handler sees the same ids (which the jobs it queues carry).
func TestRequestLinesShareATraceIDWithTracingOff(t *testing.T) {
	if observe.TracingOn() {
		t.Fatal("tracing is on")
	}
	otel.SetTextMapPropagator(propagation.TraceContext{})
	var buf bytes.Buffer
	m := observe.NewMetrics()
	var seen trace.SpanContext
	h := observe.TraceHTTP(m.HTTP(observe.NewLogger(&buf, "text", "info"), func(*http.Request) string { return "rid" })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = trace.SpanContextFromContext(r.Context()) })))
	for _, tp := range []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""} {
		buf.Reset()
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		if tp != "" {
			req.Header.Set("traceparent", tp)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if !seen.IsValid() || (tp != "" && seen.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736") {
			t.Fatalf("traceparent %q: the handler's span context = %v", tp, seen)
		}
		if line := buf.String(); !strings.Contains(line, "trace_id="+seen.TraceID().String()) || !strings.Contains(line, "span_id="+seen.SpanID().String()) {
			t.Fatalf("traceparent %q: log line %q lacks the ids %s/%s", tp, line, seen.TraceID(), seen.SpanID())
		}
	}
}
