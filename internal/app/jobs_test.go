package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/conveyorhq/conveyor/internal/apptest"
)

// jobView is a job as the API shows it.
type jobView struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Progress   int            `json:"progress"`
	Attempts   int            `json:"attempts"`
	Result     map[string]any `json:"result"`
	StartedAt  *time.Time     `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
	Error      *struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

// jobsClient drives a team's files and jobs over plain HTTP (every answer
// checked against the spec by the conformance client).
type jobsClient struct {
	rawClient
	team string
}

func newJobsClient(t *testing.T, e *apptest.Env, subject, teamName string) jobsClient {
	t.Helper()
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, subject, true), c: e.Client(t)}
	r, b := rc.send("POST", "/teams", "application/json", []byte(`{"name":"`+teamName+`"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("create team: %d %s", r.StatusCode, b)
	}
	return jobsClient{rawClient: rc, team: idOf(t, b)}
}

func (jc jobsClient) upload(name string, content []byte) string {
	jc.t.Helper()
	var body bytes.Buffer
	mw := multipartWriter(&body, name, content)
	r, b := jc.send("POST", "/teams/"+jc.team+"/files", mw, body.Bytes(), nil)
	if r.StatusCode != 201 {
		jc.t.Fatalf("upload %s: %d %s", name, r.StatusCode, b)
	}
	return idOf(jc.t, b)
}

func (jc jobsClient) createJob(fileID, processor, params string) jobView {
	jc.t.Helper()
	body := `{"processor":"` + processor + `"`
	if fileID != "" {
		body += `,"file_id":"` + fileID + `"`
	}
	if params != "" {
		body += `,"params":` + params
	}
	body += "}"
	r, b := jc.send("POST", "/teams/"+jc.team+"/jobs", "application/json", []byte(body), nil)
	if r.StatusCode != 202 {
		jc.t.Fatalf("create %s job: %d %s", processor, r.StatusCode, b)
	}
	var j jobView
	_ = json.Unmarshal(b, &j)
	return j
}

func (jc jobsClient) job(id string) jobView {
	jc.t.Helper()
	r, b := jc.send("GET", "/teams/"+jc.team+"/jobs/"+id, "", nil, nil)
	if r.StatusCode != 200 {
		jc.t.Fatalf("get job: %d %s", r.StatusCode, b)
	}
	var j jobView
	_ = json.Unmarshal(b, &j)
	return j
}

// wait polls the job until done says so, or fails after limit.
func (jc jobsClient) wait(id string, limit time.Duration, done func(jobView) bool) jobView {
	jc.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		j := jc.job(id)
		if done(j) {
			return j
		}
		if time.Now().After(deadline) {
			jc.t.Fatalf("job %s: still %+v after %s", id, j, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func final(j jobView) bool {
	return j.Status == "succeeded" || j.Status == "failed" || j.Status == "cancelled"
}

type outputView struct {
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

func (jc jobsClient) outputs(jobID string) []outputView {
	jc.t.Helper()
	r, b := jc.send("GET", "/teams/"+jc.team+"/jobs/"+jobID+"/outputs", "", nil, nil)
	if r.StatusCode != 200 {
		jc.t.Fatalf("list outputs: %d %s", r.StatusCode, b)
	}
	var l struct{ Items []outputView }
	_ = json.Unmarshal(b, &l)
	return l.Items
}

// output follows the output's presigned redirect (without the API token,
// as a browser would) and returns the bytes.
func (jc jobsClient) output(jobID, name string) []byte {
	jc.t.Helper()
	noRedirect := *jc.c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc := jc.rawClient
	rc.c = &noRedirect
	r, b := rc.send("GET", "/teams/"+jc.team+"/jobs/"+jobID+"/outputs/"+name, "", nil, nil)
	if r.StatusCode != 302 {
		jc.t.Fatalf("output %s: %d %s", name, r.StatusCode, b)
	}
	resp, err := http.Get(r.Header.Get("Location"))
	if err != nil {
		jc.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		jc.t.Fatalf("presigned output %s: %d %s", name, resp.StatusCode, body)
	}
	return body
}

// TestThumbnailOutputs: a thumbnail job stores one bounded PNG output,
// listed and downloadable through a presigned redirect; deleting the file
// takes the job's outputs with it (at once for readers; the object is then
// removed from storage).
func TestThumbnailOutputs(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "thumb-admin", "Thumbnails")
	file := jc.upload("wide.png", tinyPNG(t, 300, 150))
	j := jc.createJob(file, "thumbnail", `{"max_width":100,"max_height":100,"format":"png"}`)
	j = jc.wait(j.ID, time.Minute, final)
	if j.Status != "succeeded" || j.Progress != 100 {
		t.Fatalf("thumbnail job = %+v", j)
	}
	if j.Result["width"] != float64(100) || j.Result["height"] != float64(50) {
		t.Fatalf("thumbnail result = %v, want 100×50 (aspect kept)", j.Result)
	}
	outs := jc.outputs(j.ID)
	if len(outs) != 1 || outs[0].Name != "thumbnail.png" || outs[0].ContentType != "image/png" || outs[0].Size == 0 {
		t.Fatalf("outputs = %+v", outs)
	}
	body := jc.output(j.ID, "thumbnail.png")
	if int64(len(body)) != outs[0].Size {
		t.Fatalf("output is %d bytes, listed as %d", len(body), outs[0].Size)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 100 || b.Dy() != 50 {
		t.Fatalf("thumbnail is %v", b)
	}
	if r, _ := jc.send("GET", "/teams/"+jc.team+"/jobs/"+j.ID+"/outputs/nope.png", "", nil, nil); r.StatusCode != 404 {
		t.Fatalf("a missing output: %d", r.StatusCode)
	}
	key := fmt.Sprintf("teams/%s/jobs/%s/1/thumbnail.png", jc.team, j.ID)
	if !objectExists(t, key) {
		t.Fatalf("no object at %s", key)
	}

	if r, b := jc.send("DELETE", "/teams/"+jc.team+"/files/"+file, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete file: %d %s", r.StatusCode, b)
	}
	if outs := jc.outputs(j.ID); len(outs) != 0 {
		t.Fatalf("outputs after the file was deleted: %+v", outs)
	}
	if r, _ := jc.send("GET", "/teams/"+jc.team+"/jobs/"+j.ID+"/outputs/thumbnail.png", "", nil, nil); r.StatusCode != 404 {
		t.Fatalf("download after the file was deleted: %d", r.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second) // orphan grace is 3 s in tests
	for objectExists(t, key) {
		if time.Now().After(deadline) {
			t.Fatal("the deleted file's job output is still stored")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRetryAndConflicts: a job failing with a typed, non-retryable error
// can be retried (a new attempt, and the same typed failure); finished
// jobs cannot be cancelled, and only failed or cancelled ones retried.
func TestRetryAndConflicts(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "retry-admin", "Retries")
	txt := jc.upload("not-an-image.txt", []byte("plain words, not pixels"))
	j := jc.createJob(txt, "thumbnail", "")
	j = jc.wait(j.ID, time.Minute, final)
	if j.Status != "failed" || j.Error == nil || j.Error.Code != "invalid_input" || j.Error.Retryable || j.Attempts != 1 {
		t.Fatalf("thumbnail of text = %+v (error %+v)", j, j.Error)
	}
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j.ID+"/cancel", "", nil, nil); r.StatusCode != 409 {
		t.Fatalf("cancel a failed job: %d %s", r.StatusCode, b)
	}
	r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j.ID+"/retry", "", nil, nil)
	if r.StatusCode != 202 {
		t.Fatalf("retry: %d %s", r.StatusCode, b)
	}
	var retried jobView
	_ = json.Unmarshal(b, &retried)
	if retried.Status != "queued" || retried.Error != nil || retried.FinishedAt != nil {
		t.Fatalf("retried job = %+v", retried)
	}
	j = jc.wait(j.ID, time.Minute, final)
	if j.Status != "failed" || j.Attempts != 2 || j.Error == nil || j.Error.Code != "invalid_input" {
		t.Fatalf("after retry = %+v", j)
	}

	ok := jc.createJob(jc.upload("dot.png", tinyPNG(t, 4, 4)), "inspect", "")
	ok = jc.wait(ok.ID, time.Minute, final)
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+ok.ID+"/retry", "", nil, nil); r.StatusCode != 409 {
		t.Fatalf("retry a succeeded job: %d %s", r.StatusCode, b)
	}
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+ok.ID+"/cancel", "", nil, nil); r.StatusCode != 409 {
		t.Fatalf("cancel a succeeded job: %d %s", r.StatusCode, b)
	}
	if r, _ := jc.send("POST", "/teams/"+jc.team+"/jobs/0192f3a0-0000-7000-8000-000000000009/retry", "", nil, nil); r.StatusCode != 404 {
		t.Fatalf("retry a missing job: %d", r.StatusCode)
	}
}

// TestCancelQueuedJobNeverRuns: with the queue paused, a cancelled job's
// task is delivered once the queue resumes, and the worker leaves it alone.
func TestCancelQueuedJobNeverRuns(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "cancel-q-admin", "Cancel queued")
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: e.Stack.RedisAddr})
	defer insp.Close()
	file := jc.upload("dot.png", tinyPNG(t, 2, 2))
	if err := insp.PauseQueue("high"); err != nil {
		t.Fatal(err)
	}
	paused := true
	defer func() {
		if paused {
			_ = insp.UnpauseQueue("high")
		}
	}()
	j := jc.createJob(file, "inspect", "")
	// The backlog shows on the worker's metrics (inspect is high priority).
	if n := workerMetric(t, e, `conveyor_queue_tasks{queue="high",state="pending"}`); n < 1 {
		t.Fatalf("pending high-priority tasks exported as %v", n)
	}
	r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j.ID+"/cancel", "", nil, nil)
	if r.StatusCode != 200 {
		t.Fatalf("cancel: %d %s", r.StatusCode, b)
	}
	var c jobView
	_ = json.Unmarshal(b, &c)
	if c.Status != "cancelled" || c.FinishedAt == nil {
		t.Fatalf("cancelled job = %+v", c)
	}
	// Cancelling again returns it unchanged.
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j.ID+"/cancel", "", nil, nil); r.StatusCode != 200 || !strings.Contains(string(b), `"cancelled"`) {
		t.Fatalf("cancel twice: %d %s", r.StatusCode, b)
	}
	if err := insp.UnpauseQueue("high"); err != nil {
		t.Fatal(err)
	}
	paused = false
	// The task is delivered and completes without running the job.
	waitTaskCompleted(t, insp, "high", j.ID)
	got := jc.job(j.ID)
	if got.Status != "cancelled" || got.Attempts != 0 || got.StartedAt != nil || got.Result != nil {
		t.Fatalf("a cancelled queued job ran: %+v", got)
	}

	// Cancelled and retried before its first task ran: the old task and the
	// retry's both get delivered, and the job runs once.
	if err := insp.PauseQueue("high"); err != nil {
		t.Fatal(err)
	}
	paused = true
	j2 := jc.createJob(file, "inspect", "")
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j2.ID+"/cancel", "", nil, nil); r.StatusCode != 200 {
		t.Fatalf("cancel: %d %s", r.StatusCode, b)
	}
	if r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j2.ID+"/retry", "", nil, nil); r.StatusCode != 202 {
		t.Fatalf("retry: %d %s", r.StatusCode, b)
	}
	if err := insp.UnpauseQueue("high"); err != nil {
		t.Fatal(err)
	}
	paused = false
	for _, id := range []string{j2.ID, j2.ID + ".r2"} {
		waitTaskCompleted(t, insp, "high", id)
	}
	if got := jc.job(j2.ID); got.Status != "succeeded" || got.Attempts != 1 {
		t.Fatalf("retried job = %+v; want one attempt (the first run's task must not start the second run)", got)
	}
}

// waitTaskCompleted waits until the queue's task id has completed.
func waitTaskCompleted(t *testing.T, insp *asynq.Inspector, queue, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := insp.GetTaskInfo(queue, id)
		if err == nil && info.State == asynq.TaskStateCompleted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s not completed: %+v %v", id, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workerMetric reads a counter from the worker's /metrics.
func workerMetric(t *testing.T, e *apptest.Env, name string) float64 {
	t.Helper()
	resp, err := http.Get(e.WorkerURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			_, _ = fmt.Sscan(rest, &v)
			return v
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// bigCSV is a CSV of about n bytes.
func bigCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,name,score,active,day,note\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d,name-%d,%d.%d,%t,2026-01-%02d,some words about row %d\n", i, i%997, i%100, i%10, i%2 == 0, i%28+1, i)
	}
	return b.Bytes()
}

// TestCancelRunningJob: a running job's processor has its context
// cancelled (the worker reports the attempt stopped), and nothing it
// produced is recorded.
func TestCancelRunningJob(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "cancel-r-admin", "Cancel running")
	file := jc.upload("big.csv", bigCSV(96<<20))
	stoppedBefore := workerMetric(t, e, "conveyor_worker_attempts_stopped_total")
	j := jc.createJob(file, "csv_profile", "")
	jc.wait(j.ID, time.Minute, func(j jobView) bool { return j.Status == "running" && j.Progress > 0 || final(j) })
	r, b := jc.send("POST", "/teams/"+jc.team+"/jobs/"+j.ID+"/cancel", "", nil, nil)
	if r.StatusCode != 200 {
		t.Fatalf("cancel a running job: %d %s", r.StatusCode, b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for workerMetric(t, e, "conveyor_worker_attempts_stopped_total") <= stoppedBefore {
		if time.Now().After(deadline) {
			t.Fatal("the running attempt was not stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := jc.job(j.ID)
	if got.Status != "cancelled" || got.Result != nil {
		t.Fatalf("after cancel: %+v", got)
	}
	if outs := jc.outputs(j.ID); len(outs) != 0 {
		t.Fatalf("a cancelled job has outputs: %+v", outs)
	}
}

func multipartWriter(body *bytes.Buffer, name string, content []byte) string {
	boundary := "conveyor-test-boundary-4b1d"
	fmt.Fprintf(body, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n", boundary, name)
	body.Write(content)
	fmt.Fprintf(body, "\r\n--%s--\r\n", boundary)
	return "multipart/form-data; boundary=" + boundary
}
