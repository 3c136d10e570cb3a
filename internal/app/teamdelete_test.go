package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/apptest"
)

// bucketUnder lists, through the real S3, the objects and the unfinished
// multipart uploads under prefix.
func bucketUnder(t *testing.T, e *apptest.Env, prefix string) (objects, multipart []string) {
	t.Helper()
	ctx := context.Background()
	c := e.Stack.S3Client()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(e.Stack.S3Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			objects = append(objects, aws.ToString(o.Key))
		}
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(e.Stack.S3Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups.Uploads {
		multipart = append(multipart, aws.ToString(u.Key))
	}
	return objects, multipart
}

// teamRows counts, in the primary, the rows a team's id still has in each
// table, and whether its row says it is purged.
func teamRows(t *testing.T, e *apptest.Env, team string) (rows map[string]int, purged bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows = map[string]int{}
	for _, table := range []string{"files", "jobs", "uploads", "api_keys", "memberships", "audit_events"} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE team_id = $1", team).Scan(&n); err != nil {
			t.Fatal(err)
		}
		rows[table] = n
	}
	if err := conn.QueryRow(ctx, "SELECT purged_at IS NOT NULL FROM teams WHERE id = $1", team).Scan(&purged); err != nil {
		t.Fatal(err)
	}
	return rows, purged
}

// heldSource is a slowSource that, once half sent, waits for release
// before sending the rest: an upload kept in flight for as long as a test
// needs.
type heldSource struct {
	slowSource
	release <-chan struct{}
}

func (s *heldSource) Read(p []byte) (int, error) {
	if s.sent >= s.n/2 {
		<-s.release
	}
	return s.slowSource.Read(p)
}

// pauseS3 stops the stack's S3 server (SIGSTOP) until the returned
// function resumes it (also at the test's end): requests to storage wait,
// their connections stay open.
func pauseS3(t *testing.T, e *apptest.Env) (resume func()) {
	t.Helper()
	pid, ok := e.Stack.PIDs()["versitygw"]
	if !ok {
		t.Fatal("no S3 server running")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("resume S3: %v", err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// TestDeleteTeam: a platform admin deletes a team that has files, an
// unfinished multipart upload, a running job, an API key, a member and
// uploads still streaming in. At once: the team, its files and uploads
// answer 404 to the admin and the member, it leaves every list, the key
// gets 401, the running attempt is stopped and the job is announced
// cancelled; the streaming uploads fail and store nothing. Then the worker
// removes every object of the team from the bucket and its rows, and the
// audit trail stays readable by platform admins.
func TestDeleteTeam(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	ctx := context.Background()
	adminTok := e.Token(t, "delete-admin", true)
	admin := sdk(t, e, adminTok)
	rc := rawClient{t: t, base: e.URL, token: adminTok, c: e.Client(t)}
	team, err := admin.CreateTeam(ctx, "Doomed")
	if err != nil {
		t.Fatal(err)
	}
	tid := team.Id.String()
	other, err := admin.CreateTeam(ctx, "Survivor")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := admin.UploadFile(ctx, other.Id, "kept.txt", strings.NewReader("another team's file stays"))
	if err != nil {
		t.Fatal(err)
	}

	// What the team has: files, a multipart upload with one part sent, a
	// key, a member, and a job that is running.
	img, err := admin.UploadFile(ctx, team.Id, "photo.png", bytes.NewReader(tinyPNG(t, 64, 64)))
	if err != nil {
		t.Fatal(err)
	}
	big, err := admin.UploadFile(ctx, team.Id, "big.csv", bytes.NewReader(bigCSV(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	r, b := rc.send("POST", "/teams/"+tid+"/uploads", "application/json", []byte(`{"name":"huge.bin","size":73400320}`), nil)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("direct upload: %d %s", r.StatusCode, b)
	}
	var up struct {
		Method string `json:"method"`
		Parts  []struct {
			URL string `json:"url"`
		} `json:"parts"`
	}
	_ = json.Unmarshal(b, &up)
	if up.Method != "multipart" || len(up.Parts) < 2 {
		t.Fatalf("direct upload: %s", b)
	}
	putTo(t, up.Parts[0].URL, randomBytes(t, 8<<20))
	key, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "doomed", Role: conveyor.ApiKeyCreateRoleMember})
	if err != nil || key.JSON201 == nil {
		t.Fatal(err)
	}
	keyClient := &http.Client{Transport: rc.c.Transport}
	withKey := func(method, path string) int {
		req, _ := http.NewRequest(method, e.URL+"/api/v1"+path, nil)
		req.Header.Set("X-API-Key", key.JSON201.Secret)
		resp, err := keyClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := withKey("GET", "/teams/"+tid+"/files"); st != http.StatusOK {
		t.Fatalf("the key before the deletion: %d", st)
	}
	if m, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "delete-member@example.test", Role: conveyor.TeamRoleMember}); err != nil || m.JSON201 == nil {
		t.Fatalf("add member: %v", err)
	}
	member := rawClient{t: t, base: e.URL, token: e.Token(t, "delete-member", false), c: e.Client(t)}
	if r, b := member.send("GET", "/teams/"+tid, "", nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("the member before the deletion: %d %s", r.StatusCode, b)
	}
	events := e.OpenStream(t, e.URL+"/api/v1/teams/"+tid+"/events", http.Header{"Authorization": {"Bearer " + adminTok}})
	if events.Resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %d", events.Resp.StatusCode)
	}
	// Uploads still streaming in when the team goes: each is held half
	// sent until the deletion is done.
	const inFlight = 3
	var wg sync.WaitGroup
	uploadErrs := make([]error, inFlight)
	release := make(chan struct{})
	released := false
	releaseUploads := func() {
		if !released {
			released = true
			close(release)
		}
	}
	defer releaseUploads()
	for i := range inFlight {
		src := &heldSource{slowSource: slowSource{n: 16 << 20, reached: make(chan struct{})}, release: release}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, uploadErrs[i] = admin.UploadFile(ctx, team.Id, fmt.Sprintf("late-%d.bin", i), src)
		}()
		<-src.reached
	}

	// A job running when the team goes. Storage is paused before each look
	// at the job and stays paused, once the job is seen running, until the
	// deletion has answered: the job, still reading its 64 MiB file (its
	// result needs all of it), cannot finish first however loaded the
	// machine is.
	job, err := admin.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &big.Id, Processor: "csv_profile"})
	if err != nil {
		t.Fatal(err)
	}
	var resumeS3 func()
	eventually(t, time.Minute, func() string {
		resume := pauseS3(t, e)
		j, err := admin.Job(ctx, team.Id, job.Id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != conveyor.JobStatusRunning || j.Progress == 0 {
			resume()
			return "the job is " + string(j.Status) + fmt.Sprintf(" at %d%%", j.Progress)
		}
		resumeS3 = resume
		return ""
	})
	stoppedBefore := workerMetric(t, e, "conveyor_worker_attempts_stopped_total")

	r, b = rc.send("DELETE", "/teams/"+tid, "", nil, nil)
	resumeS3()
	if r.StatusCode != http.StatusNoContent {
		releaseUploads()
		t.Fatalf("delete: %d %s", r.StatusCode, b)
	}
	// The uploads in flight go on only once the purge has aborted their
	// multipart uploads: each then fails in storage, not at its insert,
	// and must still answer 404 (the team is gone), never 5xx.
	eventually(t, 30*time.Second, func() string {
		if _, multipart := bucketUnder(t, e, "teams/"+tid+"/"); len(multipart) > 0 {
			return fmt.Sprintf("%d multipart uploads under the deleted team", len(multipart))
		}
		return ""
	})
	releaseUploads()
	wg.Wait()
	for i, err := range uploadErrs {
		var p *conveyor.Problem
		if !errors.As(err, &p) || p.Status != http.StatusNotFound {
			t.Errorf("upload %d in flight during the deletion: %v; want 404 (the team is gone)", i, err)
		}
	}

	// At once, for everyone.
	for what, path := range map[string]string{"team": "/teams/" + tid, "files": "/teams/" + tid + "/files",
		"file": "/teams/" + tid + "/files/" + img.Id.String(), "job": "/teams/" + tid + "/jobs/" + job.Id.String(),
		"audit": "/teams/" + tid + "/audit-events"} {
		if r, b := rc.send("GET", path, "", nil, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("the admin's GET %s right after the deletion: %d %s", what, r.StatusCode, b)
		}
		if r, _ := member.send("GET", path, "", nil, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("the member's GET %s right after the deletion: %d", what, r.StatusCode)
		}
	}
	if _, err := admin.UploadFile(ctx, team.Id, "after.txt", strings.NewReader("too late")); err == nil {
		t.Error("an upload to the deleted team was accepted")
	} else {
		wantProblem(t, err, http.StatusNotFound)
	}
	if r, _ := rc.send("DELETE", "/teams/"+tid, "", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("deleting twice: %d", r.StatusCode)
	}
	if r, _ := rc.send("PATCH", "/teams/"+tid, "application/json", []byte(`{"name":"Undead"}`), map[string]string{"If-Match": "*"}); r.StatusCode != http.StatusNotFound {
		t.Errorf("renaming the deleted team: %d", r.StatusCode)
	}
	if st := withKey("GET", "/me"); st != http.StatusUnauthorized {
		t.Errorf("the deleted team's key: %d, want 401", st)
	}
	for tm, err := range admin.Teams(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if tm.Id == team.Id {
			t.Error("the deleted team is still in the admin's list")
		}
	}
	if r, b := member.send("GET", "/me", "", nil, nil); r.StatusCode != http.StatusOK || strings.Contains(string(b), tid) {
		t.Errorf("the member's memberships still name the deleted team: %d %s", r.StatusCode, b)
	}
	if _, err := admin.File(ctx, other.Id, kept.Id); err != nil {
		t.Errorf("another team's file after the deletion: %v", err)
	}

	// The running job is cancelled and its attempt stopped. The deleted
	// team's open stream ends at once (no one may read the team any more),
	// so its cancellation event may come first or never: either is right,
	// and nothing within 20 s is not.
	var seen []string
	for done := false; !done; {
		f, ok := events.Next(20 * time.Second)
		switch {
		case !ok && events.Ended(100*time.Millisecond):
			done = true // the stream ended with the team
		case !ok:
			t.Fatalf("neither a job.updated cancelled event nor the end of the stream within 20s of the deletion; saw %v", seen)
		case f.Comment != "":
			continue
		default:
			seen = append(seen, f.Event+" "+fuzzShort(f.Data, 120))
			var ev struct {
				Job *struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"job"`
			}
			_ = json.Unmarshal([]byte(f.Data), &ev)
			done = f.Event == "job.updated" && ev.Job != nil && ev.Job.ID == job.Id.String() && ev.Job.Status == "cancelled"
		}
	}
	eventually(t, 20*time.Second, func() string {
		if workerMetric(t, e, "conveyor_worker_attempts_stopped_total") <= stoppedBefore {
			return "the running attempt was not stopped"
		}
		return ""
	})

	// In the background: no object, no unfinished upload, no row is left.
	eventually(t, 30*time.Second, func() string {
		objects, multipart := bucketUnder(t, e, "teams/"+tid+"/")
		rows, purged := teamRows(t, e, tid)
		audit := rows["audit_events"]
		delete(rows, "audit_events")
		switch {
		case len(objects) > 0 || len(multipart) > 0:
			return fmt.Sprintf("still in the bucket: %v, unfinished uploads %v", objects, multipart)
		case rows["files"]+rows["jobs"]+rows["uploads"]+rows["api_keys"]+rows["memberships"] > 0 || !purged:
			return fmt.Sprintf("rows left: %v (purged %v)", rows, purged)
		case audit == 0:
			t.Fatal("the audit trail went with the team")
		}
		return ""
	})
	if !objectExists(t, fileKey(other.Id.String(), kept.Id.String())) {
		t.Fatal("the purge removed another team's object")
	}

	// The audit trail stays, for platform admins.
	teamID := team.Id
	page, err := admin.ListPlatformAuditEventsWithResponse(ctx, &conveyor.ListPlatformAuditEventsParams{TeamId: &teamID})
	if err != nil || page.JSON200 == nil {
		t.Fatalf("platform audit: %v", err)
	}
	var actions []string
	var deleted *conveyor.AuditEvent
	for i, ev := range page.JSON200.Items {
		actions = append(actions, ev.Action)
		if ev.TeamId != team.Id {
			t.Fatalf("an event of another team in the filtered list: %+v", ev)
		}
		if ev.Action == "team.deleted" {
			deleted = &page.JSON200.Items[i]
		}
	}
	if deleted == nil || !slices.Contains(actions, "team.created") || !slices.Contains(actions, "api_key.created") {
		t.Fatalf("the deleted team's audit trail: %v", actions)
	}
	ids, _ := deleted.Details["cancelled_job_ids"].([]any)
	if deleted.Actor.Name != "delete-admin@example.test" || deleted.Details["jobs_cancelled"] != float64(1) ||
		len(ids) != 1 || ids[0] != job.Id.String() || deleted.Details["api_keys_revoked"] != float64(1) {
		t.Fatalf("team.deleted: %+v", deleted)
	}
	if r, _ := member.send("GET", "/audit-events?team_id="+tid, "", nil, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("a non-admin reading the platform audit: %d", r.StatusCode)
	}
}
