package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// TestTaskCarriesTheTrace: a task sent in a request's trace carries its
// traceparent in the headers, its payload stays "<uuid> <run>" (readable by
// every worker), and the attempt's span continues the trace; a task sent
// outside any trace carries none.
func TestTaskCarriesTheTrace(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	d := domain.Dispatch{JobID: uuid.New(), Run: 2}

	task := newTask(ctx, d)
	if got, run, err := parsePayload(task.Payload()); err != nil || got != d.JobID || run != 2 || strings.Count(string(task.Payload()), " ") != 1 {
		t.Fatalf("payload %q = %v %d %v, want the job and run only", task.Payload(), got, run, err)
	}
	if tp := task.Headers()["traceparent"]; !strings.Contains(tp, tid.String()) {
		t.Fatalf("headers = %v, want a traceparent of trace %s", task.Headers(), tid)
	}
	pctx, span := startProcess(context.Background(), task, d)
	defer span.End()
	if got := trace.SpanContextFromContext(pctx); got.TraceID() != tid {
		t.Fatalf("the attempt's trace = %s, want %s", got.TraceID(), tid)
	}

	plain := newTask(context.Background(), d)
	if len(plain.Headers()) != 0 {
		t.Fatalf("a task sent outside a trace has headers %v", plain.Headers())
	}
	pctx, span = startProcess(context.Background(), plain, d)
	defer span.End()
	if trace.SpanContextFromContext(pctx).TraceID() == tid {
		t.Fatal("a task without headers continued another trace")
	}
}
