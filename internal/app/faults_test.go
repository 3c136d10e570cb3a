package app_test

// Tests that stop dependencies. Those that stop a piece of the shared
// environment restore it before they return, so they may run in any order
// with the package's other tests (go test -shuffle on); one whose outage
// leaves state behind runs on a topology of its own.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/apptest"
)

// slowSource yields n pseudo-random bytes in small steps, and closes
// reached once half of them are out.
type slowSource struct {
	n, sent int64
	reached chan struct{}
	once    atomic.Bool
}

func (s *slowSource) Read(p []byte) (int, error) {
	if s.sent >= s.n {
		return 0, io.EOF
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	if rest := s.n - s.sent; int64(len(p)) > rest {
		p = p[:rest]
	}
	for i := range p {
		p[i] = byte(s.sent + int64(i))
	}
	s.sent += int64(len(p))
	if s.sent >= s.n/2 && s.once.CompareAndSwap(false, true) {
		close(s.reached)
	}
	time.Sleep(time.Millisecond)
	return len(p), nil
}

// TestS3StoppedMidUpload: storage dies while a file streams in. The upload
// fails (503, or a broken connection), no row is written, and once storage
// is back no row of the team points at a missing object and no object is
// left without a row.
func TestS3StoppedMidUpload(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "fault-admin", true))
	team, err := admin.CreateTeam(ctx, "Faults")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := admin.UploadFile(ctx, team.Id, "before.txt", strings.NewReader("stored before the fault"))
	if err != nil {
		t.Fatal(err)
	}
	src := &slowSource{n: 40 << 20, reached: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := admin.UploadFile(ctx, team.Id, "interrupted.bin", src)
		done <- err
	}()
	<-src.reached
	if err := e.Stack.StopS3(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = e.Stack.StartS3(context.Background())
		}
	}()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the upload did not end after storage stopped")
	}
	if err == nil {
		t.Fatal("the upload succeeded with storage stopped")
	}
	var p interface{ Error() string }
	if errors.As(err, &p) {
		t.Logf("upload failed as it should: %v", err)
	}
	if strings.Contains(err.Error(), "conveyor: 500") {
		t.Fatalf("storage failure answered as a 500: %v", err)
	}

	if err := e.Stack.StartS3(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	list, err := admin.ListFilesWithResponse(ctx, team.Id, nil)
	if err != nil || list.JSON200 == nil {
		t.Fatal(err)
	}
	if len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Id != kept.Id {
		t.Fatalf("files after the failed upload: %+v", list.JSON200.Items)
	}
	if !objectExists(t, fileKey(team.Id.String(), kept.Id.String())) {
		t.Fatal("a row points at a missing object")
	}
	var leftovers []string
	out, err := e.Stack.S3Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.Stack.S3Bucket), Prefix: aws.String("teams/" + team.Id.String() + "/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		if aws.ToString(o.Key) != fileKey(team.Id.String(), kept.Id.String()) {
			leftovers = append(leftovers, aws.ToString(o.Key))
		}
	}
	if len(leftovers) > 0 {
		t.Fatalf("objects without a row after the failed upload: %v", leftovers)
	}
}

// TestOrphanObjectsAreSwept: an object no row refers to (what a crash
// between storing and recording leaves) is removed after the grace period.
func TestOrphanObjectsAreSwept(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	key := "teams/" + uuid.NewString() + "/files/" + uuid.NewString()
	_, err := e.Stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.Stack.S3Bucket), Key: aws.String(key),
		Body: bytes.NewReader([]byte("orphan"))})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for objectExists(t, key) {
		if time.Now().After(deadline) {
			t.Fatal("the orphan object was not swept")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRedisDownJobsStillAccepted: with Redis (the queue) down, uploads and
// job creation still succeed — the job and its dispatch record are one
// PostgreSQL transaction — and once Redis is back every accepted job runs.
//
// It runs on a topology of its own: Redis restarts empty, and the asynq
// clients of the API and the worker do not register their queues again
// (they remember having done so once), so asynq's inspector, which the
// shared environment's later tests read (task look-ups on a re-sent
// dispatch, queue metrics), would not find the queues until those
// processes restart.
func TestRedisDownJobsStillAccepted(t *testing.T) {
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "redis-down-admin", true))
	team, err := admin.CreateTeam(ctx, "Queue outage")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Stack.StopRedis(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = e.Stack.StartRedis(context.Background())
		}
	}()
	var jobs []*conveyor.Job
	for i := range 5 {
		f, err := admin.UploadFile(ctx, team.Id, fmt.Sprintf("during-outage-%d.txt", i), strings.NewReader(fmt.Sprint("queued while redis is down ", i)))
		if err != nil {
			t.Fatalf("upload %d with Redis down: %v", i, err)
		}
		j, err := admin.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &f.Id, Processor: "inspect"})
		if err != nil {
			t.Fatalf("job %d with Redis down: %v", i, err)
		}
		jobs = append(jobs, j)
	}
	time.Sleep(time.Second)
	for _, j := range jobs {
		got, err := admin.Job(ctx, team.Id, j.Id)
		if err != nil || got.Status != conveyor.JobStatusQueued {
			t.Fatalf("job %s with Redis down: %+v %v", j.Id, got, err)
		}
	}
	if err := e.Stack.StartRedis(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, j := range jobs {
		done, err := admin.WaitForJob(wctx, team.Id, j.Id, 200*time.Millisecond)
		if err != nil || done.Status != conveyor.JobStatusSucceeded || done.Attempts != 1 {
			t.Fatalf("job %s after Redis returned: %+v %v", j.Id, done, err)
		}
	}
}

// TestLostTaskIsRedone: a job marked dispatched whose task is not in Redis
// (what a Redis restart without persistence leaves) is dispatched again by
// the reconciler and runs to its end.
func TestLostTaskIsRedone(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "lost-task-admin", true))
	team, err := admin.CreateTeam(ctx, "Lost tasks")
	if err != nil {
		t.Fatal(err)
	}
	f, err := admin.UploadFile(ctx, team.Id, "lost.txt", strings.NewReader("its task was lost"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, e.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	jobID := uuid.Must(uuid.NewV7())
	_, err = conn.Exec(ctx, `INSERT INTO jobs (id, team_id, file_id, processor, params, created_at, updated_at)
		VALUES ($1, $2, $3, 'inspect', '{}', now() - interval '1 hour', now() - interval '1 hour')`, jobID, team.Id, f.Id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO job_outbox (job_id, created_at, dispatched_at)
		VALUES ($1, now() - interval '1 hour', now() - interval '1 hour')`, jobID); err != nil {
		t.Fatal(err)
	}
	// The rows went in behind the API's back, with no read-your-writes mark:
	// the replicas replay them before the API is asked for the job.
	if err := e.Stack.WaitReplicasCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, err := admin.WaitForJob(wctx, team.Id, jobID, 200*time.Millisecond)
	if err != nil || job.Status != conveyor.JobStatusSucceeded || job.Result == nil {
		t.Fatalf("the lost job: %+v %v", job, err)
	}
	var dispatches int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM job_outbox WHERE job_id = $1`, jobID).Scan(&dispatches); err != nil || dispatches != 2 {
		t.Fatalf("dispatch records: %d (%v); want the lost one and the reconciler's", dispatches, err)
	}
}
