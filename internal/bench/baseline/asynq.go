package baseline

import (
	"context"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/conveyorhq/conveyor/internal/queue"
)

// Asynq is raw asynq on the same Redis: an enqueue of a no-op task (with a
// task id, as Conveyor's dispatch sets one) and an asynq server that runs
// it with nothing to do — the floor of any asynq-based job pipeline.
type Asynq struct {
	client *asynq.Client
	server *asynq.Server
	queue  string
	done   atomic.Int64
}

// StartAsynq starts the no-op server (concurrency workers, polling as
// often as Conveyor's worker does) on a fresh queue.
func StartAsynq(redisAddr string, concurrency int) (*Asynq, error) {
	opt := asynq.RedisClientOpt{Addr: redisAddr}
	a := &Asynq{queue: "bench-" + uuid.NewString()[:8]}
	a.server = asynq.NewServer(opt, asynq.Config{Concurrency: concurrency, Queues: map[string]int{a.queue: 1},
		TaskCheckInterval: queue.TaskCheckInterval, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error {
		a.done.Add(1)
		return nil
	})
	if err := a.server.Start(mux); err != nil {
		return nil, err
	}
	a.client = asynq.NewClient(opt)
	return a, nil
}

// Enqueue enqueues one no-op task.
func (a *Asynq) Enqueue(ctx context.Context) error {
	id := uuid.NewString()
	_, err := a.client.EnqueueContext(ctx, asynq.NewTask("noop", []byte(id)), asynq.Queue(a.queue), asynq.TaskID(id))
	return err
}

// Done reports how many tasks have run.
func (a *Asynq) Done() int64 { return a.done.Load() }

// Stop stops the server and closes the client.
func (a *Asynq) Stop() {
	a.server.Shutdown()
	_ = a.client.Close()
}
