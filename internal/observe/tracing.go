package observe

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is the tracer Conveyor's own spans (job tasks) come from: the
// global provider's, which is a no-op one unless SetupTracing installed an
// exporting one (or a test installed its own).
func Tracer() trace.Tracer { return otel.Tracer("github.com/conveyorhq/conveyor") }

// SetupTracing installs the W3C trace-context propagator, so a caller's
// traceparent is honoured (and logged) whether or not spans are exported,
// and, when the standard OTEL_* variables ask for an exporter, a tracer
// provider that exports spans of service (the default service.name).
// Without one the global provider stays as it is: a no-op provider, whose
// spans cost next to nothing. shutdown flushes what is buffered.
//
// Export is on when OTEL_TRACES_EXPORTER names an exporter ("otlp" or
// "console"), or when it is unset and OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTEL_SDK_DISABLED=true turns it
// off. The OTLP exporter reads its own OTEL_EXPORTER_OTLP_* settings
// (endpoint, headers, TLS, timeout) from the process environment.
func SetupTracing(ctx context.Context, getenv func(string) string, service string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	nothing := func(context.Context) error { return nil }
	exp, err := newSpanExporter(ctx, getenv)
	if err != nil || exp == nil {
		return nothing, err
	}
	sampler, err := samplerFromEnv(getenv)
	if err != nil {
		return nothing, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return nothing, err
	}
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil { // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(RootsOfWork(sampler)))
	InstallTracerProvider(tp)
	return tp.Shutdown, nil
}

// tracingOn records that a recording tracer provider was installed.
var tracingOn atomic.Bool

// InstallTracerProvider makes tp the global provider every span comes
// from, and turns on what only pays when spans are recorded (TraceHTTP's
// full instrumentation). SetupTracing calls it for an exporter; a test
// calls it with an in-memory one before the program starts.
func InstallTracerProvider(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	tracingOn.Store(true)
}

// TracingOn reports whether a tracer provider was installed with
// InstallTracerProvider (otherwise the global one is a no-op).
func TracingOn() bool { return tracingOn.Load() }

// newSpanExporter returns the exporter the OTEL_* variables ask for, or nil
// for none.
func newSpanExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	if name == "" && (getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") {
		name = "otlp"
	}
	switch name {
	case "", "none":
		return nil, nil
	case "console":
		return stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
	case "otlp":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not one of otlp, console, none", name)
	}
	proto := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if proto == "" {
		proto = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch proto {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not one of http/protobuf, grpc", proto)
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (default parentbased_always_on), as the SDK would.
func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	ratio := 1.0
	if arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG")); arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio between 0 and 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not a sampler the SDK knows", name)
}

// RootsOfWork wraps a sampler so that a trace starts only at a unit of
// work: an incoming request (a server span) or a job task (a consumer
// span). A database query, Redis command or S3 call with no parent (the
// relay's and the janitor's polling, health checks) is dropped, so the
// background's steady chatter does not bury the traces people look for.
func RootsOfWork(next sdktrace.Sampler) sdktrace.Sampler { return rootsOfWork{next} }

type rootsOfWork struct{ next sdktrace.Sampler }

func (s rootsOfWork) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() && p.Kind != trace.SpanKindServer && p.Kind != trace.SpanKindConsumer {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
	}
	return s.next.ShouldSample(p)
}

func (s rootsOfWork) Description() string { return "RootsOfWork{" + s.next.Description() + "}" }

// Attr helpers for Conveyor's own span attributes.
var (
	AttrJobID  = attribute.Key("conveyor.job.id")
	AttrJobRun = attribute.Key("conveyor.job.run")
)
