package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/jobs"
)

// TestTaskCarriesTheTrace: a task whose dispatch names the request's trace
// carries it in its headers, its payload stays "<uuid> <run>" (readable by
// every worker), and the attempt's span continues the trace; a dispatch
// with no trace gets a task with none, whatever trace its sender is in.
func TestTaskCarriesTheTrace(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	request := trace.ContextWithRemoteSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	d := domain.Dispatch{JobID: uuid.New(), Run: 2, TraceParent: jobs.TraceParent(request)}
	if d.TraceParent != "00-"+tid.String()+"-"+sid.String()+"-01" {
		t.Fatalf("traceparent = %q", d.TraceParent)
	}

	_, task, end := startSend(context.Background(), d, QueueHigh, TaskID(d))
	end(nil)
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

	// Admitted by the request that queued it: the request's trace.
	d.TraceParent = ""
	_, own, end := startSend(jobs.WithQueued(request, d.JobID), d, QueueHigh, TaskID(d))
	end(nil)
	if tp := own.Headers()["traceparent"]; !strings.Contains(tp, tid.String()) {
		t.Fatalf("the request's own job: headers = %v, want its trace", own.Headers())
	}
	// Sent from within another job's request (its team's older job that
	// the request admitted, say): not its trace.
	_, plain, end := startSend(jobs.WithQueued(request, uuid.New()), d, QueueHigh, TaskID(d))
	end(nil)
	if len(plain.Headers()) != 0 {
		t.Fatalf("a dispatch with no trace got headers %v", plain.Headers())
	}
	pctx, span = startProcess(context.Background(), plain, d)
	defer span.End()
	if trace.SpanContextFromContext(pctx).TraceID() == tid {
		t.Fatal("a task without headers continued another trace")
	}
}
