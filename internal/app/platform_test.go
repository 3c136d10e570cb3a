package app_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/apptest"
)

// TestPlatformStatus runs its own topology (two replicas), stops a
// replica and then Redis, and checks that GET /platform/status answers
// 200 throughout with the component marked down and the summary
// degraded, and ok again once each is back.
func TestPlatformStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := apptest.Start(t, apptest.Options{Replicas: 2})
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "status-admin", true))
	status := func() *conveyor.PlatformStatus {
		t.Helper()
		start := time.Now()
		r, err := admin.GetPlatformStatusWithResponse(ctx)
		if err != nil || r.StatusCode() != http.StatusOK || r.JSON200 == nil {
			t.Fatalf("platform status: %v %v", r, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("platform status took %s", took)
		}
		return r.JSON200
	}
	allWell := func() string {
		st := status()
		switch {
		case st.Status != conveyor.PlatformStatusStatusOk:
			return "status " + jsonOf(st)
		case !st.Database.Primary.Reachable || st.Database.Primary.LatencyMs == nil || !st.Redis.Reachable || !st.S3.Reachable:
			return "a component is down: " + jsonOf(st)
		case len(st.Database.Replicas) != 2:
			return "replicas: " + jsonOf(st.Database.Replicas)
		case st.Dispatch == nil || st.Dispatch.JobsWaiting < 0 || st.Dispatch.OldestWaitingSeconds < 0:
			return "dispatch backlog: " + jsonOf(st.Dispatch)
		}
		for _, r := range st.Database.Replicas {
			if !r.Reachable || !r.TakingReads || r.LagBytes == nil || r.LagSeconds == nil || r.CheckedAt == nil {
				return "replica " + jsonOf(r)
			}
		}
		var names []string
		for _, q := range st.Queues {
			names = append(names, q.Name)
		}
		if strings.Join(names, ",") != "default,high,low" {
			return "queues " + jsonOf(st.Queues)
		}
		for _, w := range st.Workers {
			// The worker runs in this process (app.Run), with the default concurrency.
			if w.Pid == int32(os.Getpid()) && w.Concurrency == 10 && len(w.Queues) == 3 && !w.StartedAt.IsZero() {
				return ""
			}
		}
		return "workers " + jsonOf(st.Workers)
	}
	eventually(t, 30*time.Second, allWell)

	if err := e.Stack.StopReplica(0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() string {
		st := status()
		r1, r2 := st.Database.Replicas[0], st.Database.Replicas[1]
		if st.Status != conveyor.PlatformStatusStatusDegraded || r1.Name != "replica1" || r1.Reachable || r1.TakingReads ||
			r1.LagBytes != nil || !r2.Reachable || !r2.TakingReads || !st.Redis.Reachable {
			return "with replica1 stopped: " + jsonOf(st)
		}
		return ""
	})
	if err := e.Stack.StartReplica(ctx, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, allWell)

	if err := e.Stack.StopRedis(); err != nil {
		t.Fatal(err)
	}
	redisUp := false
	defer func() {
		if !redisUp {
			_ = e.Stack.StartRedis(ctx)
		}
	}()
	eventually(t, 15*time.Second, func() string {
		st := status()
		if st.Status != conveyor.PlatformStatusStatusDegraded || st.Redis.Reachable || st.Redis.LatencyMs != nil ||
			len(st.Queues) != 0 || len(st.Workers) != 0 || !st.Database.Primary.Reachable || !st.S3.Reachable {
			return "with Redis stopped: " + jsonOf(st)
		}
		return ""
	})
	if err := e.Stack.StartRedis(ctx); err != nil {
		t.Fatal(err)
	}
	redisUp = true
	eventually(t, 60*time.Second, allWell)
}
