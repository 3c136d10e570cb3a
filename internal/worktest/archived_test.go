package worktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
)

// reconcileFast makes the worker's reconciler look for stuck jobs every
// second and re-dispatch those stuck for a second.
var reconcileFast = map[string]string{
	"CONVEYOR_WORKER_CONCURRENCY": "2",
	"CONVEYOR_REDISPATCH_AFTER":   "1s",
	"CONVEYOR_JANITOR_INTERVAL":   "1s",
}

// refuseFailures makes the primary refuse to record a failed job of team
// (a trigger raises), until the returned function or the test's end drops
// the trigger.
func refuseFailures(t *testing.T, c *pgx.Conn, team string) func() {
	t.Helper()
	if _, err := uuid.Parse(team); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err := c.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION worktest_refuse_failure() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.status = 'failed' AND NEW.team_id = '%s' THEN
				RAISE EXCEPTION 'worktest: the database refuses to record the failure';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER worktest_refuse_failure BEFORE UPDATE ON jobs
			FOR EACH ROW EXECUTE FUNCTION worktest_refuse_failure();`, team))
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	drop := func() {
		if dropped {
			return
		}
		dropped = true
		if _, err := c.Exec(ctx, `DROP TRIGGER IF EXISTS worktest_refuse_failure ON jobs; DROP FUNCTION IF EXISTS worktest_refuse_failure();`); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(drop)
	return drop
}

// waitTaskState polls the task until it is in state, at most limit.
func waitTaskState(t *testing.T, insp *asynq.Inspector, queue, id string, state asynq.TaskState, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		info, err := insp.GetTaskInfo(queue, id)
		if err == nil && info.State == state {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("task %s: %v", id, err)
			}
			t.Fatalf("task %s is %s after %s, want %s (last error %q)", id, info.State, limit, state, info.LastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReconcilerRecoversArchivedTask: an attempt fails with a retryable
// error past its last retry while the database refuses to record the
// failure, so asynq archives the task and the job stays running. Once the
// database and storage are back, the reconciler brings the job to a final
// state by itself: the archived task (which holds the run's task id) runs
// again instead of deduplicating every re-dispatch.
func TestReconcilerRecoversArchivedTask(t *testing.T) {
	env := shared.Env(t)
	if testing.Short() {
		t.Skip("needs the real stack and a worker process")
	}
	a := newAPI(t, "archived-admin")
	c := db(t)
	team := a.team("Archived")
	file := a.upload(team, "pixel.png", pngBytes(t, 4, 4))
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: env.Stack.RedisAddr})
	defer insp.Close()

	allowFailures := refuseFailures(t, c, team)
	if err := env.Stack.StopS3(); err != nil {
		t.Fatal(err)
	}
	s3Down := true
	defer func() {
		if s3Down {
			_ = env.Stack.StartS3(context.Background())
		}
	}()
	startWorker(t, reconcileFast)
	id := a.job(team, file, "inspect")

	// Three attempts (two retries here) fail for want of storage; the last
	// one's failure is refused, so its task is archived.
	waitTaskState(t, insp, "high", id, asynq.TaskStateArchived, 60*time.Second)
	s, b := a.do("GET", "/teams/"+team+"/jobs/"+id, "", nil)
	if s != 200 {
		t.Fatalf("get job: %d %s", s, b)
	}
	var j jobState
	if err := json.Unmarshal(b, &j); err != nil || j.Status != "running" {
		t.Fatalf("job with its task archived = %s (%v), want running", b, err)
	}

	if err := env.Stack.StartS3(context.Background()); err != nil {
		t.Fatal(err)
	}
	s3Down = false
	allowFailures()
	// The reconciler re-dispatches the job once it has been still for a
	// second; the relay's send finds the archived task and runs it again.
	j = a.waitFinal(team, id, 30*time.Second)
	if j.Status != "succeeded" || j.Attempts < 4 {
		t.Fatalf("job = %+v, want succeeded by a fourth attempt", j)
	}
}

// TestReconcilerRecoversArchivedQueuedTask: the task of a queued job was
// archived (by an operator's tool, or a worker that refused it) after its
// dispatch record was marked sent. The reconciler's re-dispatch runs it.
func TestReconcilerRecoversArchivedQueuedTask(t *testing.T) {
	env := shared.Env(t)
	if testing.Short() {
		t.Skip("needs the real stack and a worker process")
	}
	a := newAPI(t, "archived-queued-admin")
	c := db(t)
	team := a.team("ArchivedQueued")
	file := a.upload(team, "pixel.png", pngBytes(t, 4, 4))
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: env.Stack.RedisAddr})
	defer insp.Close()

	// No worker runs: the API's direct dispatch leaves the task pending.
	id := a.job(team, file, "inspect")
	waitTaskState(t, insp, "high", id, asynq.TaskStatePending, 10*time.Second)
	if err := insp.ArchiveTask("high", id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), `UPDATE job_outbox SET dispatched_at = now() WHERE job_id = $1`, id); err != nil {
		t.Fatal(err)
	}

	startWorker(t, reconcileFast)
	j := a.waitFinal(team, id, 30*time.Second)
	if j.Status != "succeeded" || j.Attempts != 1 {
		t.Fatalf("job = %+v, want succeeded at its first attempt", j)
	}
	if _, err := insp.GetTaskInfo("high", id); errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatal("the run's task is gone; want it completed (retained)")
	}
}
