package queue

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/observe"
)

// The trace context of the request that queued a job rides with its task,
// in the task's headers (W3C traceparent and tracestate), not its payload:
// the payload format stays "<uuid> <run>", which workers of every version
// read, and a worker of before headers ignores them. A task sent with no
// trace in ctx (the relay's, after a failed direct dispatch) carries none,
// and its attempt starts a trace of its own.

// newTask builds the task of d, carrying ctx's trace context if it has one.
func newTask(ctx context.Context, d domain.Dispatch) *asynq.Task {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return asynq.NewTask(TaskRunJob, payload(d))
	}
	h := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, h)
	return asynq.NewTaskWithHeaders(TaskRunJob, payload(d), h)
}

// startSend starts the producer span of sending d's task to queue, when
// ctx is part of a trace; the span ends with end(err).
func startSend(ctx context.Context, d domain.Dispatch, queue, id string) (context.Context, func(error)) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, func(error) {}
	}
	ctx, span := observe.Tracer().Start(ctx, "send "+queue, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messaging(queue, id, d)...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "enqueue failed")
		}
		span.End()
	}
}

// startProcess starts the consumer span of one attempt at task t, a child
// of the span that sent it when the task carries one.
func startProcess(ctx context.Context, t *asynq.Task, d domain.Dispatch) (context.Context, trace.Span) {
	ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(t.Headers()))
	queue, _ := asynq.GetQueueName(ctx)
	id, _ := asynq.GetTaskID(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	attrs := append(messaging(queue, id, d), attribute.Int("messaging.asynq.retry_count", retried))
	return observe.Tracer().Start(ctx, "process "+queue, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

func messaging(queue, id string, d domain.Dispatch) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("messaging.system", "asynq"),
		attribute.String("messaging.destination.name", queue), attribute.String("messaging.message.id", id),
		attribute.String("messaging.message.type", TaskRunJob),
		observe.AttrJobID.String(d.JobID.String()), observe.AttrJobRun.Int(d.Run)}
}
