package queue_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/processors"
	"github.com/conveyorhq/conveyor/internal/queue"
)

// TestRedisLostItsData restarts Redis without persistence under a client
// that has already registered its queues: a task sent afterwards and sent
// again (as the relay re-sends a dispatch) is found on the second send,
// not refused for its queue not being registered, and the depth metric
// still lists every queue, the task pending in its own.
func TestRedisLostItsData(t *testing.T) {
	stack := devstacktest.StartForTest(t, 0)
	reg, err := processors.Default()
	if err != nil {
		t.Fatal(err)
	}
	opt := asynq.RedisClientOpt{Addr: stack.RedisAddr}
	c := queue.NewClient(opt, reg)
	defer c.Close()
	ctx := context.Background()
	proc := reg.All()[0].Name()
	if err := c.Send(ctx, domain.Dispatch{JobID: uuid.New(), Processor: proc, Run: 1}); err != nil {
		t.Fatal(err)
	}
	if err := stack.StopRedis(); err != nil {
		t.Fatal(err)
	}
	if err := stack.StartRedis(ctx); err != nil {
		t.Fatal(err)
	}
	d := domain.Dispatch{JobID: uuid.New(), Processor: proc, Run: 1}
	for i := range 2 {
		if err := c.Send(ctx, d); err != nil {
			t.Fatalf("send %d after Redis lost its data: %v", i+1, err)
		}
	}
	depth := queue.NewDepth(opt)
	defer depth.Close()
	r := prometheus.NewPedanticRegistry()
	r.MustRegister(depth)
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	pending, queues := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() == "conveyor_queue_latency_seconds" {
			queues = len(mf.GetMetric())
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == "conveyor_queue_tasks" && l.GetName() == "state" && l.GetValue() == "pending" {
					pending += m.GetGauge().GetValue()
				}
			}
		}
	}
	if queues != len(queue.Queues) {
		t.Errorf("the depth metric lists %d queues after Redis lost its data, want %d", queues, len(queue.Queues))
	}
	if pending != 1 {
		t.Errorf("%v tasks pending in the depth metric, want the one sent after the restart", pending)
	}
}
