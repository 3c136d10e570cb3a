// Package opstest checks what operators see of the real program (API and
// worker through app.Run, on the devstack): one trace from the request
// that creates a job to the worker's completion, trace ids in the log
// lines, exemplars on the latency histograms, and profiles only on the
// internal listeners. The spans go to an in-memory exporter installed as
// the global tracer provider before the program starts, as SetupTracing
// installs an OTLP exporter's.
package opstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/observe"
)

var (
	shared apptest.Shared
	spans  = tracetest.NewInMemoryExporter()
)

func TestMain(m *testing.M) {
	observe.InstallTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	os.Exit(apptest.Main(m, "opstest", apptest.Options{Env: map[string]string{"CONVEYOR_LOG_LEVEL": "info"}}, &shared, nil))
}

// doerFunc lets a test add headers to the SDK's requests.
type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestOneTraceFromRequestToWorker: a client sends POST /jobs with a
// traceparent; the API's server span continues it (named after the route,
// not the path), the task carries it to the worker, and the worker's
// attempt, its queries and its S3 calls are spans of the same trace, which
// its log lines name.
func TestOneTraceFromRequestToWorker(t *testing.T) {
	env := shared.Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	traceID, parentID := randomHex(t, 16), randomHex(t, 8)
	client := env.Client(t)
	c, err := conveyor.New(env.URL, conveyor.WithToken(env.Token(t, "tracer", true)), conveyor.WithDoer(doerFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs") {
			r.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
		}
		return client.Do(r)
	})))
	if err != nil {
		t.Fatal(err)
	}
	team, err := c.CreateTeam(ctx, "Traced")
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{Processor: "export"})
	if err != nil {
		t.Fatal(err)
	}
	if job, err = c.WaitForJob(ctx, team.Id, job.Id, 50*time.Millisecond); err != nil || job.Status != conveyor.JobStatusSucceeded {
		t.Fatalf("job = %+v, %v", job, err)
	}

	// The consumer span ends just after the job's success is recorded.
	var got []sdktrace.ReadOnlySpan
	var process sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); process == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = got[:0]
		for _, s := range spans.GetSpans().Snapshots() {
			if s.SpanContext().TraceID().String() == traceID {
				got = append(got, s)
				if s.SpanKind() == trace.SpanKindConsumer {
					process = s
				}
			}
		}
	}
	names := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range got {
		names[s.Name()] = s
	}
	if process == nil {
		t.Fatalf("no consumer span in trace %s; its spans: %v", traceID, keys(names))
	}
	server := names["POST /api/v1/teams/{team_id}/jobs"]
	if server == nil || server.SpanKind() != trace.SpanKindServer || server.Parent().SpanID().String() != parentID || !server.Parent().IsRemote() {
		t.Fatalf("no server span of the route continuing the caller's span %s; spans: %v", parentID, keys(names))
	}
	var send sdktrace.ReadOnlySpan
	for _, s := range got {
		if s.SpanKind() == trace.SpanKindProducer {
			send = s
		}
	}
	if send == nil || process.Parent().SpanID() != send.SpanContext().SpanID() || !process.Parent().IsRemote() {
		t.Fatalf("the worker's span does not continue the producer span: producer %v, consumer's parent %v", send, process.Parent())
	}
	if v := attr(process, "conveyor.job.id"); v != job.Id.String() {
		t.Fatalf("consumer span's job id = %q, want %s", v, job.Id)
	}
	if v := attr(process, "conveyor.task.outcome"); v != "done" {
		t.Fatalf("consumer span's outcome = %q, want done", v)
	}
	// The database (through pgx), Redis and S3, in both processes.
	for _, name := range []string{"CreateJob", "StartJobAttempt", "SucceedJob", "S3.PutObject"} {
		if names[name] == nil {
			t.Errorf("no span %q in the trace; spans: %v", name, keys(names))
		}
	}
	var redisSpans int
	for _, s := range got {
		if attr(s, "db.system") == "redis" || attr(s, "db.system.name") == "redis" {
			redisSpans++
		}
	}
	if redisSpans == 0 {
		t.Errorf("no Redis span in the trace (events are published through Redis); spans: %v", keys(names))
	}
	if s := names["SucceedJob"]; s != nil && !inside(s, process, got) {
		t.Errorf("SucceedJob is not under the worker's span")
	}

	// The worker's line for the attempt, and the API's for the request.
	var workerLine, httpLine bool
	for _, line := range strings.Split(env.Logs(), "\n") {
		if !strings.Contains(line, "trace_id="+traceID) || !strings.Contains(line, "span_id=") {
			continue
		}
		workerLine = workerLine || strings.Contains(line, `msg="queue: task"`) && strings.Contains(line, "job="+job.Id.String())
		httpLine = httpLine || strings.Contains(line, "msg=http") && strings.Contains(line, "method=POST")
	}
	if !workerLine || !httpLine {
		t.Fatalf("log lines with trace_id=%s: worker's %v, API's %v\n%s", traceID, workerLine, httpLine, env.Logs())
	}

	// Exemplars: the request's latency and the task's duration point at
	// the trace, when scraped as OpenMetrics.
	exemplar := `# {trace_id="` + traceID + `"}`
	api := scrape(t, env.InternalURL+"/metrics")
	if !hasLine(api, `conveyor_http_request_duration_seconds_bucket{method="POST",route="/api/v1/teams/{team_id}/jobs"`, exemplar) {
		t.Errorf("no exemplar of trace %s on the POST /jobs latency:\n%s", traceID, grep(api, "conveyor_http_request_duration_seconds_bucket"))
	}
	worker := scrape(t, env.WorkerURL+"/metrics")
	if !hasLine(worker, "conveyor_worker_task_duration_seconds_bucket", exemplar) {
		t.Errorf("no exemplar of trace %s on the task duration:\n%s", traceID, grep(worker, "conveyor_worker_task_duration_seconds_bucket"))
	}
}

// TestProfilesOnlyInternally: /debug/pprof/ answers on the API's internal
// listener and the worker's, and is a 404 on the public address.
func TestProfilesOnlyInternally(t *testing.T) {
	env := shared.Env(t)
	for _, base := range []string{env.InternalURL, env.WorkerURL} {
		status, body := get(t, base+"/debug/pprof/", "")
		if status != http.StatusOK || !strings.Contains(body, "goroutine") {
			t.Errorf("%s/debug/pprof/ = %d, want 200 with the profiles' index", base, status)
		}
		if status, body := get(t, base+"/debug/pprof/goroutine?debug=1", ""); status != http.StatusOK || !strings.Contains(body, "goroutine profile") {
			t.Errorf("%s/debug/pprof/goroutine = %d", base, status)
		}
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		if status, _ := get(t, env.URL+p, ""); status != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", p, status)
		}
	}
	// What scrapers use today still answers on the public address.
	if status, _ := get(t, env.URL+"/metrics", ""); status != http.StatusOK {
		t.Errorf("public /metrics = %d, want 200", status)
	}
}

func get(t *testing.T, url, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	status, body := get(t, url, "application/openmetrics-text; version=1.0.0; charset=utf-8")
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d", url, status)
	}
	return body
}

func hasLine(body, prefix, contains string) bool {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, contains) {
			return true
		}
	}
	return false
}

func grep(body, prefix string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// inside reports whether s descends from ancestor among spans.
func inside(s, ancestor sdktrace.ReadOnlySpan, spans []sdktrace.ReadOnlySpan) bool {
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, x := range spans {
		byID[x.SpanContext().SpanID()] = x
	}
	for range len(spans) { // bounded: a chain is no longer than the spans
		if s.Parent().SpanID() == ancestor.SpanContext().SpanID() {
			return true
		}
		if s = byID[s.Parent().SpanID()]; s == nil {
			return false
		}
	}
	return false
}

func keys(m map[string]sdktrace.ReadOnlySpan) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return fmt.Sprint(out)
}
