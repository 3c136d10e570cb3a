package domain_test

import (
	"slices"
	"testing"

	"github.com/conveyorhq/conveyor/internal/domain"
)

func TestJobTransitions(t *testing.T) {
	q, r, s, f, c := domain.JobQueued, domain.JobRunning, domain.JobSucceeded, domain.JobFailed, domain.JobCancelled
	all := []domain.JobStatus{q, r, s, f, c}
	allowed := map[[2]domain.JobStatus]bool{
		{q, r}: true, {q, c}: true,
		{r, r}: true, {r, s}: true, {r, f}: true, {r, c}: true,
		{f, q}: true,
		{c, q}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := from.CanTransition(to), allowed[[2]domain.JobStatus{from, to}]; got != want {
				t.Errorf("%s.CanTransition(%s) = %v; want %v", from, to, got, want)
			}
		}
	}
	if domain.JobStatus("paused").CanTransition(q) || domain.JobStatus("paused").Valid() || domain.JobStatus("").CanCancel() {
		t.Error("an unknown state allows a transition")
	}
}

func TestJobStatusRules(t *testing.T) {
	tests := []struct {
		s                         domain.JobStatus
		start, cancel, retry, fin bool
	}{
		{domain.JobQueued, true, true, false, false},
		{domain.JobRunning, true, true, false, false},
		{domain.JobSucceeded, false, false, false, true},
		{domain.JobFailed, false, false, true, true},
		{domain.JobCancelled, false, false, true, true},
		{"bogus", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			if got := tt.s.CanStart(); got != tt.start {
				t.Errorf("CanStart = %v; want %v", got, tt.start)
			}
			if got := tt.s.CanCancel(); got != tt.cancel {
				t.Errorf("CanCancel = %v; want %v", got, tt.cancel)
			}
			if got := tt.s.CanRetry(); got != tt.retry {
				t.Errorf("CanRetry = %v; want %v", got, tt.retry)
			}
			if got := tt.s.Final(); got != tt.fin {
				t.Errorf("Final = %v; want %v", got, tt.fin)
			}
			// A final state is left only by a retry.
			if tt.s.Final() && (tt.s.CanStart() || tt.s.CanCancel()) {
				t.Error("a final state can start or be cancelled")
			}
		})
	}
}

func TestJobStatusesTo(t *testing.T) {
	tests := []struct {
		to   domain.JobStatus
		want []domain.JobStatus
	}{
		{domain.JobRunning, []domain.JobStatus{domain.JobQueued, domain.JobRunning}},
		{domain.JobCancelled, []domain.JobStatus{domain.JobQueued, domain.JobRunning}},
		{domain.JobSucceeded, []domain.JobStatus{domain.JobRunning}},
		{domain.JobFailed, []domain.JobStatus{domain.JobRunning}},
		{domain.JobQueued, []domain.JobStatus{domain.JobFailed, domain.JobCancelled}},
	}
	for _, tt := range tests {
		if got := domain.JobStatusesTo(tt.to); !slices.Equal(got, tt.want) {
			t.Errorf("JobStatusesTo(%s) = %v; want %v", tt.to, got, tt.want)
		}
	}
}
