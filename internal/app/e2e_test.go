package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/app"
	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

// shared is one running Conveyor (API and worker on a primary, a replica,
// PgBouncer, Redis and S3) shared by the tests of this package; tests get it
// through setup, which skips them under -short.
var shared apptest.Shared

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	return apptest.Main(m, "app-e2e", apptest.Options{Replicas: 1}, &shared, checkCoverage)
}

// checkCoverage writes the API coverage report under .run/ and, on a full
// run (no -run filter), fails when a documented operation was never
// exercised by the suite.
func checkCoverage() int {
	var b strings.Builder
	missing, err := apptest.CoverageReport(&b)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if root, err := devstack.ModuleRoot(); err == nil {
		_ = os.WriteFile(filepath.Join(root, ".run", "api-coverage.txt"), []byte(b.String()), 0o644)
	}
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return 0
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "%s\noperations never exercised: %v\n", b.String(), missing)
		return 1
	}
	fmt.Printf("API coverage: every documented operation exercised (report in .run/api-coverage.txt)\n")
	return 0
}

func setup(t *testing.T) *apptest.Env {
	t.Helper()
	return shared.Env(t)
}

func sdk(t *testing.T, e *apptest.Env, token string) *conveyor.Client {
	t.Helper()
	c, err := conveyor.New(e.URL, conveyor.WithToken(token), conveyor.WithDoer(e.Client(t)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPipelineThroughGoSDK is the spine's end-to-end flow through the
// generated Go client: create a team, stream a file up, run inspect on it,
// wait, and compare what the worker computed with what we computed here.
func TestPipelineThroughGoSDK(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := sdk(t, e, e.Token(t, "alice", true))

	me, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.PlatformRole != conveyor.MePlatformRoleAdmin || me.AuthMethod != conveyor.MeAuthMethodOidc || me.User.Subject != "alice" {
		t.Fatalf("me = %+v", me)
	}
	team, err := c.CreateTeam(ctx, "Imaging")
	if err != nil {
		t.Fatal(err)
	}
	// 7 MiB: more than one multipart part on the way to S3.
	content := make([]byte, 7<<20+123)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	file, err := c.UploadFile(ctx, team.Id, "../etc/blob.bin", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if file.Sha256 != want || file.Size != int64(len(content)) || file.Name != "blob.bin" || file.ContentType != "application/octet-stream" {
		t.Fatalf("uploaded file = %+v, want sha %s size %d name blob.bin", file, want, len(content))
	}
	got, err := c.File(ctx, team.Id, file.Id)
	if err != nil || got.Sha256 != want {
		t.Fatalf("get file = %+v, %v", got, err)
	}
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "inspect"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != conveyor.JobStatusQueued {
		t.Fatalf("new job status = %s, want queued", job.Status)
	}
	job, err = c.WaitForJob(ctx, team.Id, job.Id, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != conveyor.JobStatusSucceeded || job.Result == nil {
		t.Fatalf("job = %+v", job)
	}
	res := *job.Result
	if res["sha256"] != want || res["size"] != float64(len(content)) || res["media_type"] != "application/octet-stream" {
		t.Fatalf("inspect result = %v, want sha256 %s size %d", res, want, len(content))
	}
	if job.Attempts != 1 || job.Progress != 100 || job.FinishedAt == nil {
		t.Fatalf("job bookkeeping = attempts %d progress %d finished %v", job.Attempts, job.Progress, job.FinishedAt)
	}
}

// TestInspectImage checks that inspect reports image dimensions.
func TestInspectImage(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := sdk(t, e, e.Token(t, "alice", true))
	team, err := c.CreateTeam(ctx, "Pictures")
	if err != nil {
		t.Fatal(err)
	}
	file, err := c.UploadFile(ctx, team.Id, "dot.png", bytes.NewReader(tinyPNG(t, 3, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if file.ContentType != "image/png" {
		t.Fatalf("content type = %s, want image/png (sniffed)", file.ContentType)
	}
	job, err := c.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &file.Id, Processor: "inspect"})
	if err != nil {
		t.Fatal(err)
	}
	job, err = c.WaitForJob(ctx, team.Id, job.Id, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	res := *job.Result
	if res["width"] != float64(3) || res["height"] != float64(2) || res["media_type"] != "image/png" {
		t.Fatalf("inspect result = %v", res)
	}
}

// TestRolesAndIsolation: a non-admin cannot create teams, and a caller
// outside a team gets 404 for it, not 403.
func TestRolesAndIsolation(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "alice", true))
	bob := sdk(t, e, e.Token(t, "bob", false))
	team, err := admin.CreateTeam(ctx, "Secret")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.CreateTeam(ctx, "Mine")
	wantProblem(t, err, http.StatusForbidden)
	_, err = bob.Team(ctx, team.Id)
	wantProblem(t, err, http.StatusNotFound)
	_, err = bob.UploadFile(ctx, team.Id, "x.txt", strings.NewReader("hello"))
	wantProblem(t, err, http.StatusNotFound)
	list, err := bob.ListTeamsWithResponse(ctx, nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 0 {
		t.Fatalf("bob's teams = %+v, %v", list, err)
	}
}

func wantProblem(t *testing.T, err error, status int) {
	t.Helper()
	var p *conveyor.Problem
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want a *conveyor.Problem with status %d", err, status)
	}
	if int(p.Status) != status || p.RequestId == nil || p.Type == "" {
		t.Fatalf("problem = %+v, want status %d with a request id", p, status)
	}
}

// TestBadInput sends malformed requests: every answer is a 4xx problem+json
// that matches the spec, never a 5xx.
func TestBadInput(t *testing.T) {
	e := setup(t)
	tok := e.Token(t, "alice", true)
	c := sdk(t, e, tok)
	ctx := context.Background()
	team, err := c.CreateTeam(ctx, "Inputs")
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateTeam(ctx, "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	otherFile, err := c.UploadFile(ctx, other.Id, "o.txt", strings.NewReader("other team's file"))
	if err != nil {
		t.Fatal(err)
	}
	teamURL := e.URL + "/api/v1/teams/" + team.Id.String()
	multipartBody := func(field string) (string, string) {
		return "multipart/form-data; boundary=XYZ", "--XYZ\r\nContent-Disposition: form-data; name=\"" + field +
			"\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XYZ--\r\n"
	}
	mpType, mpMissing := multipartBody("notfile")
	tests := []struct {
		name, method, url, ctype, body string
		noAuth                         bool
		auth                           string
		want                           int
	}{
		{"no token", "GET", e.URL + "/api/v1/teams", "", "", true, "", 401},
		{"malformed authorization", "GET", e.URL + "/api/v1/teams", "", "", false, "Basic abc", 401},
		{"garbage token", "GET", e.URL + "/api/v1/teams", "", "", false, "Bearer not.a.jwt", 401},
		{"unknown API key", "GET", e.URL + "/api/v1/teams", "", "", false, "Bearer cvk_" + strings.Repeat("A", 43), 401},
		{"short API key", "GET", e.URL + "/api/v1/teams", "", "", false, "Bearer cvk_abc", 401},
		{"malformed JSON", "POST", e.URL + "/api/v1/teams", "application/json", `{"name":`, false, "", 400},
		{"wrong JSON type", "POST", e.URL + "/api/v1/teams", "application/json", `{"name":42}`, false, "", 400},
		{"unknown field", "POST", e.URL + "/api/v1/teams", "application/json", `{"name":"a","x":1}`, false, "", 400},
		{"empty name", "POST", e.URL + "/api/v1/teams", "application/json", `{"name":""}`, false, "", 400},
		{"blank name", "POST", e.URL + "/api/v1/teams", "application/json", `{"name":"   "}`, false, "", 400},
		{"empty body", "POST", e.URL + "/api/v1/teams", "application/json", ``, false, "", 400},
		{"wrong content type", "POST", e.URL + "/api/v1/teams", "text/plain", `{"name":"a"}`, false, "", 415},
		{"huge JSON", "POST", e.URL + "/api/v1/teams", "application/json", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, false, "", 413},
		{"deeply nested JSON", "POST", teamURL + "/jobs", "application/json", `{"processor":"inspect","params":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000) + `}`, false, "", 400},
		{"nested params", "POST", teamURL + "/jobs", "application/json", `{"processor":"inspect","file_id":"` + otherFile.Id.String() + `","params":` + strings.Repeat(`{"a":`, 500) + `1` + strings.Repeat(`}`, 500) + `}`, false, "", 422},
		{"team id not a uuid", "GET", e.URL + "/api/v1/teams/not-a-uuid", "", "", false, "", 400},
		{"file id not a uuid", "GET", teamURL + "/files/123", "", "", false, "", 400},
		{"unknown team", "GET", e.URL + "/api/v1/teams/" + uuid.NewString(), "", "", false, "", 404},
		{"unknown file", "GET", teamURL + "/files/" + uuid.NewString(), "", "", false, "", 404},
		{"unknown job", "GET", teamURL + "/jobs/" + uuid.NewString(), "", "", false, "", 404},
		{"missing file part", "POST", teamURL + "/files", mpType, mpMissing, false, "", 400},
		{"upload not multipart", "POST", teamURL + "/files", "application/json", `{}`, false, "", 415},
		{"truncated multipart", "POST", teamURL + "/files", mpType, "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nhel", false, "", 400},
		{"unknown processor", "POST", teamURL + "/jobs", "application/json", `{"processor":"nope","file_id":"` + uuid.NewString() + `"}`, false, "", 422},
		{"missing processor", "POST", teamURL + "/jobs", "application/json", `{"file_id":"` + uuid.NewString() + `"}`, false, "", 400},
		{"inspect without file", "POST", teamURL + "/jobs", "application/json", `{"processor":"inspect"}`, false, "", 422},
		{"file of another team", "POST", teamURL + "/jobs", "application/json", `{"processor":"inspect","file_id":"` + otherFile.Id.String() + `"}`, false, "", 422},
		{"bad params", "POST", teamURL + "/jobs", "application/json", `{"processor":"inspect","file_id":"` + otherFile.Id.String() + `","params":{"x":1}}`, false, "", 422},
		{"limit too high", "GET", teamURL + "/files?limit=1000", "", "", false, "", 400},
		{"limit not a number", "GET", teamURL + "/files?limit=ten", "", "", false, "", 400},
		{"malformed query", "GET", teamURL + "/files?cursor=%%%%", "", "", false, "", 400},
		{"bad cursor", "GET", teamURL + "/files?cursor=%25%25", "", "", false, "", 400},
		{"forged cursor", "GET", teamURL + "/files?cursor=AAAA", "", "", false, "", 400},
		{"unknown path", "GET", e.URL + "/api/v1/nothing-here", "", "", false, "", 404},
		{"wrong method", "DELETE", e.URL + "/api/v1/teams", "", "", false, "", 405},
	}
	client := e.Client(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			switch {
			case tt.auth != "":
				req.Header.Set("Authorization", tt.auth)
			case !tt.noAuth:
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type = %q", ct)
			}
			var p struct {
				Type      string `json:"type"`
				Status    int    `json:"status"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(body, &p); err != nil || p.Status != tt.want || p.RequestID == "" || p.Type == "" {
				t.Fatalf("problem = %s (%v)", body, err)
			}
			if p.RequestID != resp.Header.Get("X-Request-ID") {
				t.Fatalf("request_id %q != X-Request-ID %q", p.RequestID, resp.Header.Get("X-Request-ID"))
			}
		})
	}
}

// TestRequestIDIsEchoed: a client's X-Request-ID comes back.
func TestRequestIDIsEchoed(t *testing.T) {
	e := setup(t)
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
	req.Header.Set("X-Request-ID", "trace-me-123")
	req.Header.Set("Authorization", "Bearer "+e.Token(t, "carol", false))
	resp, err := e.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-ID") != "trace-me-123" {
		t.Fatalf("status %d, X-Request-ID %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
}

// TestOperationalEndpoints: health, readiness, metrics, the spec and docs.
func TestOperationalEndpoints(t *testing.T) {
	e := setup(t)
	get := func(path string) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, _, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	code, body, _ := get("/readyz")
	if code != 200 || !strings.Contains(body, `"database":"ok"`) || !strings.Contains(body, `"redis":"ok"`) || !strings.Contains(body, `"s3":"ok"`) {
		t.Fatalf("readyz = %d %s", code, body)
	}
	// A request first, so the route-template metric exists.
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/teams/"+uuid.NewString(), nil)
	req.Header.Set("Authorization", "Bearer "+e.Token(t, "dave", false))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	_, body, _ = get("/metrics")
	for _, want := range []string{
		`conveyor_http_requests_total{method="GET",route="/api/v1/teams/{team_id}",status="404"}`,
		`conveyor_http_request_duration_seconds_bucket`,
		`conveyor_db_pool_max_conns{target="primary"}`,
		`conveyor_db_pool_max_conns{target="replica1"}`,
		`conveyor_db_replica_healthy{target="replica1"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The worker's own endpoints: health, readiness, and its metrics (jobs
	// have run by now: the pipeline tests come first).
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"OK"`,
		"/metrics": `conveyor_worker_tasks_total{outcome="done"}`} {
		resp, err := http.Get(e.WorkerURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("worker %s = %d, lacks %s", path, resp.StatusCode, want)
		}
		if path == "/metrics" && (!strings.Contains(string(b), "conveyor_outbox_dispatched_total") || !strings.Contains(string(b), `conveyor_db_pool_max_conns{target="primary"}`)) {
			t.Errorf("worker metrics lack the relay or pool metrics")
		}
	}
	code, body, h := get("/api/v1/openapi.json")
	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &spec) != nil || spec.OpenAPI != "3.0.3" || len(spec.Paths) < 7 || !strings.Contains(h.Get("Content-Type"), "json") {
		t.Fatalf("openapi.json = %d %q %.200s", code, h.Get("Content-Type"), body)
	}
	if code, body, h = get("/api/v1/openapi.yaml"); code != 200 || !strings.HasPrefix(body, "openapi: 3.0.3") || !strings.Contains(h.Get("Content-Type"), "yaml") {
		t.Fatalf("openapi.yaml = %d %q", code, h.Get("Content-Type"))
	}
	if code, body, _ = get("/docs/"); code != 200 || !strings.Contains(body, "redoc.standalone.js") {
		t.Fatalf("docs = %d", code)
	}
	if code, body, _ = get("/docs/changelog.html"); code != 200 || !strings.Contains(body, "API Changelog") {
		t.Fatalf("changelog = %d", code)
	}
}

// TestTokenCommand: `conveyor token` prints, as its last line, a token the
// running API accepts.
func TestTokenCommand(t *testing.T) {
	e := setup(t)
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "CONVEYOR_PUBLIC_URL" {
			return e.URL
		}
		return e.Getenv(k)
	}
	if err := app.Run(context.Background(), []string{"conveyor", "token", "--subject", "erin", "--admin"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	c := sdk(t, e, lines[len(lines)-1])
	me, err := c.Me(context.Background())
	if err != nil || me.User.Subject != "erin" || me.PlatformRole != conveyor.MePlatformRoleAdmin {
		t.Fatalf("me = %+v, %v", me, err)
	}
	if err := app.Run(context.Background(), []string{"conveyor", "token"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("token without --subject succeeded")
	}
}

// TestDevIssuerRefusedOutsideDevMode: pointing a production server at the
// dev issuer is a start-up error, not a silent backdoor.
func TestDevIssuerRefusedOutsideDevMode(t *testing.T) {
	e := setup(t)
	vars := map[string]string{
		"CONVEYOR_HTTP_ADDR": "127.0.0.1:0", "CONVEYOR_DEV": "false",
		"CONVEYOR_OIDC_ISSUER":  e.URL + "/dev/oidc",
		"CONVEYOR_DATABASE_URL": e.Getenv("CONVEYOR_DATABASE_URL"), "CONVEYOR_REDIS_ADDR": e.Getenv("CONVEYOR_REDIS_ADDR"),
		"CONVEYOR_S3_BUCKET": "conveyor", "CONVEYOR_CURSOR_SECRET": strings.Repeat("k", 32),
	}
	err := app.Run(context.Background(), []string{"conveyor", "serve"}, func(k string) string { return vars[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "dev issuer") {
		t.Fatalf("serve with the dev issuer outside dev mode: %v", err)
	}
}

// TestProcessors: GET /processors lists inspect with its params schema.
func TestProcessors(t *testing.T) {
	e := setup(t)
	c := sdk(t, e, e.Token(t, "viewer-of-processors", false))
	r, err := c.ListProcessorsWithResponse(context.Background())
	if err != nil || r.JSON200 == nil {
		t.Fatalf("processors: %v", err)
	}
	var found bool
	for _, p := range r.JSON200.Items {
		if p.Name == "inspect" {
			found = p.NeedsFile && p.ParamsSchema["type"] == "object" && p.Description != ""
		}
	}
	if !found {
		t.Fatalf("inspect not listed properly: %+v", r.JSON200.Items)
	}
}
