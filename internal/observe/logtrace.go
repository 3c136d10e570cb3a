package observe

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// traceHandler adds the trace_id and span_id of the span in a record's
// context, so every line logged with the context of a request or of a job
// attempt can be found from its trace, and the other way round.
type traceHandler struct{ next slog.Handler }

// WithTraceIDs returns a handler that adds trace_id and span_id to each
// record logged with a context that holds a span (remote or local, sampled
// or not: a caller's traceparent is kept even when spans are not exported).
func WithTraceIDs(h slog.Handler) slog.Handler { return traceHandler{next: h} }

func (h traceHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{next: h.next.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{next: h.next.WithGroup(name)}
}
