package opstest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// TestTraceOfJobAdmittedLater: a team at its cap on running jobs (1, with
// a job running) queues a second job with a traceparent; the API cannot
// admit it at once, so it waits in the dispatch records. When the running
// job ends, a relay admits it, and the worker's attempt still continues
// the request's trace: its consumer span and its "queue: task" line carry
// the trace id the client sent.
func TestTraceOfJobAdmittedLater(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	traceID, parentID := randomHex(t, 16), randomHex(t, 8)
	client := env.Client(t)
	c, err := conveyor.New(env.URL, conveyor.WithToken(env.Token(t, "late-tracer", true)), conveyor.WithDoer(doerFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs") {
			r.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
		}
		return client.Do(r)
	})))
	if err != nil {
		t.Fatal(err)
	}
	team, err := c.CreateTeam(ctx, "Traced later")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, env.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The team's one place is taken by a job admitted and running.
	blocker := uuid.Must(uuid.NewV7())
	if _, err := conn.Exec(ctx, `UPDATE teams SET max_running_jobs = 1 WHERE id = $1`, team.Id); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO jobs (id, team_id, processor, params, status, attempts, started_at, admitted_at)
		VALUES ($1, $2, 'export', '{}', 'running', 1, now(), now())`, blocker, team.Id); err != nil {
		t.Fatal(err)
	}

	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{Processor: "export"})
	if err != nil {
		t.Fatal(err)
	}
	var admitted bool
	if err := conn.QueryRow(ctx, `SELECT admitted_at IS NOT NULL FROM jobs WHERE id = $1`, job.Id).Scan(&admitted); err != nil {
		t.Fatal(err)
	}
	if admitted {
		t.Fatal("the job was admitted at once although its team is at its cap")
	}
	// The place frees; a relay admits the waiting job.
	if _, err := conn.Exec(ctx, `UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now() WHERE id = $1`, blocker); err != nil {
		t.Fatal(err)
	}
	if job, err = c.WaitForJob(ctx, team.Id, job.Id, 50*time.Millisecond); err != nil || job.Status != conveyor.JobStatusSucceeded {
		t.Fatalf("job = %+v, %v", job, err)
	}

	var process trace.SpanContext
	for deadline := time.Now().Add(10 * time.Second); !process.IsValid() && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, s := range spans.GetSpans().Snapshots() {
			if s.SpanKind() == trace.SpanKindConsumer && attr(s, "conveyor.job.id") == job.Id.String() {
				process = s.SpanContext()
			}
		}
	}
	if !process.IsValid() {
		t.Fatalf("no consumer span for job %s", job.Id)
	}
	if got := process.TraceID().String(); got != traceID {
		t.Fatalf("the worker's span of the job admitted later is in trace %s, want the request's %s", got, traceID)
	}
	var line bool
	for _, l := range strings.Split(env.Logs(), "\n") {
		line = line || strings.Contains(l, `msg="queue: task"`) && strings.Contains(l, "job="+job.Id.String()) &&
			strings.Contains(l, "trace_id="+traceID)
	}
	if !line {
		t.Fatalf("no queue: task line of job %s with trace_id=%s", job.Id, traceID)
	}
}
