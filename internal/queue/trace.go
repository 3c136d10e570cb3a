package queue

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
)

// The trace context of the request that queued a job rides with its task,
// in the task's headers (W3C traceparent), not its payload: the payload
// format stays "<uuid> <run>", which workers of every version read, and a
// worker of before headers ignores them. It comes from the dispatch
// (Dispatch.TraceParent) or, for the job that the sending context queued
// (jobs.WithQueued: the API admitting its request's job at once), from
// that context; never from the context of whoever sends another job's
// task (a request admitting its team's older jobs, the relay): a task
// whose dispatch names no trace carries none, and its attempt starts its
// own.

// traceContext is the propagator of task headers: W3C trace context,
// whatever the process's global propagator is.
var traceContext = propagation.TraceContext{}

// startSend builds the task of d and, when d names a trace, starts the
// producer span of sending it to queue, a child of the request that queued
// d, whose context the task carries; end(err) ends the span.
func startSend(ctx context.Context, d domain.Dispatch, queue, id string) (context.Context, *asynq.Task, func(error)) {
	tp := d.TraceParent
	if tp == "" {
		tp = jobs.QueuedTrace(ctx, d.JobID)
	}
	parent := trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp}))
	if !parent.IsValid() {
		return ctx, asynq.NewTask(TaskRunJob, payload(d)), func(error) {}
	}
	ctx, span := observe.Tracer().Start(trace.ContextWithRemoteSpanContext(ctx, parent), "send "+queue,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(messaging(queue, id, d)...))
	h := propagation.MapCarrier{}
	traceContext.Inject(ctx, h)
	return ctx, asynq.NewTaskWithHeaders(TaskRunJob, payload(d), h), func(err error) {
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
	ctx = traceContext.Extract(ctx, propagation.MapCarrier(t.Headers()))
	queue, _ := asynq.GetQueueName(ctx)
	id, _ := asynq.GetTaskID(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	attrs := append(messaging(queue, id, d), attribute.Int("messaging.asynq.retry_count", retried))
	ctx, span := observe.Tracer().Start(ctx, "process "+queue, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
	return observe.EnsureTraceIDs(ctx), span // tracing off and no trace sent: still one id for the attempt's lines
}

func messaging(queue, id string, d domain.Dispatch) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("messaging.system", "asynq"),
		attribute.String("messaging.destination.name", queue), attribute.String("messaging.message.id", id),
		attribute.String("messaging.message.type", TaskRunJob),
		observe.AttrJobID.String(d.JobID.String()), observe.AttrJobRun.Int(d.Run)}
}
