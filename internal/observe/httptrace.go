package observe

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TraceHTTP returns h with a server span around each request, continuing
// the caller's trace when it sends traceparent. The span is named after
// the method until the router has matched; Metrics.HTTP then names it
// after the route template ("POST /api/v1/teams/{team_id}/jobs"), never
// the raw path. Probes and scrapes (/healthz, /readyz, /metrics) get none.
//
// With tracing off (see TracingOn) it only puts the caller's trace
// context (or, without traceparent, fresh unsampled ids) in the request's
// context, so its log lines and the jobs it queues still share a trace id:
// otelhttp's own work (wrapping the body and the writer, attributes, no-op
// metrics) would cost each request about as much again as the rest of the
// middleware.
func TraceHTTP(h http.Handler) http.Handler {
	if !TracingOn() {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if len(r.Header["Traceparent"]) > 0 { // canonical key: no allocation
				ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
			}
			h.ServeHTTP(w, r.WithContext(EnsureTraceIDs(ctx)))
		})
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}

// nameSpan names r's server span after its route template, once routed.
func nameSpan(r *http.Request, route string) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	span.SetName(r.Method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}

// ObserveWithTrace observes v, with the trace id of ctx's span as the
// exemplar when that span is sampled (its trace is recorded somewhere).
func ObserveWithTrace(ctx context.Context, o prometheus.Observer, v float64) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}

// EnsureTraceIDs returns ctx with a span context: its own if it has one,
// else fresh, unsampled trace and span ids (recorded nowhere, but logged),
// so that the lines of one request or job attempt share a trace_id even
// with tracing off.
func EnsureTraceIDs(ctx context.Context) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	var tid trace.TraceID
	var sid trace.SpanID
	binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
	binary.BigEndian.PutUint64(tid[8:], rand.Uint64()|1) // never all zero
	binary.BigEndian.PutUint64(sid[:], rand.Uint64()|1)
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
}
