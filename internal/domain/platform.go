package domain

import "time"

// PlatformStatus is the health of what Conveyor runs on, as one process
// sees it.
type PlatformStatus struct {
	Degraded  bool
	CheckedAt time.Time
	Database  DatabaseStatus
	Redis     ComponentStatus
	S3        ComponentStatus
	Queues    []QueueStatus   // nil when Redis cannot be read
	Workers   []WorkerStatus  // nil when Redis cannot be read
	Dispatch  *DispatchStatus // nil when the database cannot be read
}

// DispatchStatus is the backlog fair dispatch holds in the database: the
// queued jobs not yet handed to a queue, all teams together.
type DispatchStatus struct {
	Waiting int64
	Oldest  time.Duration // how long the oldest has waited; 0 when none
}

// ComponentStatus says whether a dependency answered, and how fast.
type ComponentStatus struct {
	Reachable bool
	Latency   time.Duration // of the check, when reachable
}

// DatabaseStatus is the primary's reachability and each replica's state.
type DatabaseStatus struct {
	Primary  ComponentStatus
	Replicas []ReplicaStatus
}

// ReplicaStatus is a replica as the store's health checks last saw it.
type ReplicaStatus struct {
	Name        string
	Reachable   bool
	TakingReads bool          // reachable, in recovery and within the lag bounds
	LagBytes    *int64        // nil when unknown (unreachable)
	Lag         time.Duration // replay lag while behind; meaningful when LagBytes is set
	CheckedAt   *time.Time    // the last check, nil before the first
}

// QueueStatus counts one queue's tasks by state.
type QueueStatus struct {
	Name                                        string
	Pending, Active, Scheduled, Retry, Archived int64
	OldestPending                               time.Duration // age of the oldest pending task (0: none)
}

// WorkerStatus is a worker process seen recently.
type WorkerStatus struct {
	Host        string
	PID         int
	Concurrency int
	ActiveJobs  int
	Queues      []string
	StartedAt   time.Time
}
