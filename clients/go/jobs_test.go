package conveyor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// jobJSON is a job as the API sends it; sec orders its versions.
func jobJSON(id, team uuid.UUID, status string, progress, sec int) string {
	return fmt.Sprintf(`{"id":%q,"team_id":%q,"processor":"thumbnail","params":{},"status":%q,"progress":%d,`+
		`"attempts":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:%02dZ"}`, id, team, status, progress, sec)
}

func problem(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"type":"https://conveyor.dev/problems/x","title":"`+title+`","status":`+strconv.Itoa(status)+`}`)
}

// TestCancelAndRetryJob: both POST with an Idempotency-Key and return the
// job; a refusal is a *Problem.
func TestCancelAndRetryJob(t *testing.T) {
	team, job := uuid.New(), uuid.New()
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		base := "/api/v1/teams/" + team.String() + "/jobs/" + job.String()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == base+"/cancel":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, jobJSON(job, team, "cancelled", 0, 1))
		case r.Method == http.MethodPost && r.URL.Path == base+"/retry":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, jobJSON(job, team, "queued", 0, 2))
		default:
			problem(w, http.StatusConflict, "Conflict.")
		}
	}))
	defer srv.Close()
	c, _ := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
	ctx := context.Background()

	j, err := c.CancelJob(ctx, team, job)
	if err != nil || j.Status != conveyor.JobStatusCancelled {
		t.Fatalf("CancelJob = %+v, %v", j, err)
	}
	j, err = c.RetryJob(ctx, team, job)
	if err != nil || j.Status != conveyor.JobStatusQueued {
		t.Fatalf("RetryJob = %+v, %v", j, err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[1] == "" || keys[0] == keys[1] {
		t.Fatalf("Idempotency-Keys sent: %q; want two different ones", keys)
	}
	_, err = c.CancelJob(ctx, team, uuid.New())
	var p *conveyor.Problem
	if !errors.As(err, &p) || p.Status != http.StatusConflict {
		t.Fatalf("CancelJob of another job: %v; want a 409 *Problem", err)
	}
}

// TestOpenJobOutputSendsNoCredentialsToStorage: the API's 302 is followed
// to storage (another host) with neither the bearer token nor the API
// key, whatever the HTTP client.
func TestOpenJobOutputSendsNoCredentialsToStorage(t *testing.T) {
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != "" {
			t.Errorf("storage received credentials: Authorization %q, X-API-Key %q",
				r.Header.Get("Authorization"), r.Header.Get("X-API-Key"))
		}
		if r.URL.Query().Get("X-Amz-Signature") != "sig" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, "<Error><Code>AccessDenied</Code></Error>")
			return
		}
		_, _ = io.WriteString(w, "\x89PNG thumbnail bytes")
	}))
	defer storage.Close()
	team, job := uuid.New(), uuid.New()
	var listed, downloads int
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" && r.Header.Get("X-API-Key") != "k" {
			problem(w, http.StatusUnauthorized, "Unauthorized.")
			return
		}
		base := "/api/v1/teams/" + team.String() + "/jobs/" + job.String() + "/outputs"
		switch r.URL.Path {
		case base:
			listed++
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"items":[{"name":"thumbnail.png","size":20,"content_type":"image/png"}]}`)
		case base + "/thumbnail.png":
			downloads++
			http.Redirect(w, r, storage.URL+"/bucket/out/thumbnail.png?X-Amz-Signature=sig", http.StatusFound)
		case base + "/expired.png":
			http.Redirect(w, r, storage.URL+"/bucket/out/expired.png?X-Amz-Signature=old", http.StatusFound)
		default:
			problem(w, http.StatusNotFound, "Not found.")
		}
	}))
	defer api.Close()

	clients := map[string][]conveyor.Option{
		"token":                {conveyor.WithToken("t")},
		"api key":              {conveyor.WithAPIKey("k")},
		"token, own client":    {conveyor.WithToken("t"), conveyor.WithDoer(&http.Client{})},
		"api key, own client":  {conveyor.WithAPIKey("k"), conveyor.WithDoer(&http.Client{})},
		"api key, no retrying": {conveyor.WithAPIKey("k"), conveyor.WithRetry(conveyor.RetryPolicy{MaxRetries: -1})},
	}
	ctx := context.Background()
	for name, opts := range clients {
		t.Run(name, func(t *testing.T) {
			c, err := conveyor.New(api.URL, opts...)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := c.JobOutputs(ctx, team, job)
			if err != nil || len(outs) != 1 || outs[0].Name != "thumbnail.png" || outs[0].ContentType != "image/png" {
				t.Fatalf("JobOutputs = %+v, %v", outs, err)
			}
			rc, err := c.OpenJobOutput(ctx, team, job, outs[0].Name)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(b) != "\x89PNG thumbnail bytes" {
				t.Fatalf("read %q, %v", b, err)
			}
			_, err = c.OpenJobOutput(ctx, team, job, "expired.png")
			if err == nil || !strings.Contains(err.Error(), "storage answered 403") {
				t.Fatalf("expired URL: %v; want the storage's 403", err)
			}
			_, err = c.OpenJobOutput(ctx, team, job, "missing.png")
			var p *conveyor.Problem
			if !errors.As(err, &p) || p.Status != http.StatusNotFound {
				t.Fatalf("missing output: %v; want a 404 *Problem", err)
			}
		})
	}
	if listed != len(clients) || downloads != len(clients) {
		t.Fatalf("listed %d, downloaded %d times; want %d each", listed, downloads, len(clients))
	}
}

// TestStreamDeliveryReadsThroughTheAPI: WithStreamDelivery asks for
// delivery=stream and reads the API's own 200 (with the caller's
// credentials, on the API's origin); storage is never asked. Without it,
// nothing is asked for and the redirect is followed as before.
func TestStreamDeliveryReadsThroughTheAPI(t *testing.T) {
	var storageHits int
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		storageHits++
		_, _ = io.WriteString(w, "from storage")
	}))
	defer storage.Close()
	team, job, file := uuid.New(), uuid.New(), uuid.New()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			problem(w, http.StatusUnauthorized, "Unauthorized.")
			return
		}
		switch d := r.URL.Query().Get("delivery"); {
		case r.URL.Query().Has("delivery") && d != "stream":
			problem(w, http.StatusBadRequest, "Bad delivery.")
		case d == "stream":
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Disposition", `inline; filename="x.png"; filename*=UTF-8''x.png`)
			_, _ = io.WriteString(w, "through the API: "+r.URL.Path)
		default:
			http.Redirect(w, r, storage.URL+"/o", http.StatusFound)
		}
	}))
	defer api.Close()
	c, err := conveyor.New(api.URL, conveyor.WithToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	read := func(rc io.ReadCloser, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	outPath := "/api/v1/teams/" + team.String() + "/jobs/" + job.String() + "/outputs/x.png"
	filePath := "/api/v1/teams/" + team.String() + "/files/" + file.String() + "/content"
	if got := read(c.OpenJobOutput(ctx, team, job, "x.png", conveyor.WithStreamDelivery())); got != "through the API: "+outPath {
		t.Errorf("streamed output: %q", got)
	}
	if got := read(c.OpenFile(ctx, team, file, conveyor.WithStreamDelivery())); got != "through the API: "+filePath {
		t.Errorf("streamed file: %q", got)
	}
	if storageHits != 0 {
		t.Errorf("storage asked %d times for streamed downloads", storageHits)
	}
	if got := read(c.OpenJobOutput(ctx, team, job, "x.png")); got != "from storage" || storageHits != 1 {
		t.Errorf("default output download: %q, storage asked %d times", got, storageHits)
	}
}

// TestOpenFileFollowsTheRedirect: files download the same way.
func TestOpenFileFollowsTheRedirect(t *testing.T) {
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Error("storage received the bearer token")
		}
		_, _ = io.WriteString(w, "file content")
	}))
	defer storage.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, storage.URL+"/f", http.StatusFound)
	}))
	defer api.Close()
	c, _ := conveyor.New(api.URL, conveyor.WithToken("t"))
	rc, err := c.OpenFile(context.Background(), uuid.New(), uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "file content" {
		t.Fatalf("read %q", b)
	}
}
