package jobs

import (
	"context"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// TraceParent is the W3C traceparent of ctx's span, "" for none: what a
// dispatch carries (domain.Dispatch.TraceParent) so that the job's attempt
// continues the trace of the request that queued it.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

type queuedKey struct{}

// WithQueued marks ctx as the context in which job id was queued (created
// or retried): a dispatch of that job sent within ctx (the API admitting
// it at once) carries ctx's trace (see QueuedTrace). A dispatch sent later
// by a relay carries the trace its dispatch record kept (job_outbox.traceparent).
func WithQueued(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, queuedKey{}, id)
}

// QueuedTrace is the traceparent a dispatch of job id sent within ctx
// carries: ctx's, when id was queued in ctx (WithQueued), else "". Other
// jobs that the same call dispatches (a team's older waiting ones) are
// not that request's work and carry none.
func QueuedTrace(ctx context.Context, id uuid.UUID) string {
	if q, ok := ctx.Value(queuedKey{}).(uuid.UUID); !ok || q != id {
		return ""
	}
	return TraceParent(ctx)
}
