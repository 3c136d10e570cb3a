package domain

import "errors"

// ErrJobNotRunnable refuses a job state change the state machine does not
// allow from the job's current state (or an attempt that is no longer the
// job's). The store returns it from the transaction that found the job in
// such a state.
var ErrJobNotRunnable = errors.New("job state does not allow this change")

// jobTransitions is the job state machine: for each state, the states a
// job may move to from it.
//
//	queued    → running (an attempt starts) | cancelled
//	running   → running (a re-delivered attempt) | succeeded | failed | cancelled
//	failed    → queued (retry, a new run)
//	cancelled → queued (retry, a new run)
//	succeeded → nothing
var jobTransitions = map[JobStatus][]JobStatus{
	JobQueued:    {JobRunning, JobCancelled},
	JobRunning:   {JobRunning, JobSucceeded, JobFailed, JobCancelled},
	JobFailed:    {JobQueued},
	JobCancelled: {JobQueued},
	JobSucceeded: nil,
}

// Valid reports whether s is one of the job states.
func (s JobStatus) Valid() bool {
	_, ok := jobTransitions[s]
	return ok
}

// CanTransition reports whether a job in state s may move to state to.
func (s JobStatus) CanTransition(to JobStatus) bool {
	for _, t := range jobTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// CanStart reports whether an attempt may start (or re-start) a job in s.
func (s JobStatus) CanStart() bool { return s.CanTransition(JobRunning) }

// CanCancel reports whether a job in s may be cancelled.
func (s JobStatus) CanCancel() bool { return s.CanTransition(JobCancelled) }

// CanRetry reports whether a job in s may be queued again as a new run.
func (s JobStatus) CanRetry() bool { return s.CanTransition(JobQueued) }

// JobStatusesTo lists, in a fixed order, the states from which a job may
// move to to: the status list a conditional update's WHERE must allow.
func JobStatusesTo(to JobStatus) []JobStatus {
	var out []JobStatus
	for _, from := range []JobStatus{JobQueued, JobRunning, JobSucceeded, JobFailed, JobCancelled} {
		if from.CanTransition(to) {
			out = append(out, from)
		}
	}
	return out
}
