package domain_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// TestJobQueriesFollowTheStateMachine: each conditional update that moves
// a job to a state allows, in its WHERE, exactly the states the domain's
// state machine allows that move from — so the store's guards are the
// domain's rule, not a second copy that can drift from it.
func TestJobQueriesFollowTheStateMachine(t *testing.T) {
	b, err := os.ReadFile("../../sql/queries/jobs.sql")
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{}
	for _, part := range strings.Split(string(b), "-- name: ")[1:] {
		name, body, _ := strings.Cut(part, " ")
		queries[name] = body
	}
	moves := map[string]domain.JobStatus{
		"StartJobAttempt": domain.JobRunning,
		"SucceedJob":      domain.JobSucceeded,
		"FailJob":         domain.JobFailed,
		"CancelJob":       domain.JobCancelled,
		"RetryJob":        domain.JobQueued,
	}
	in := regexp.MustCompile(`WHERE[^;]*?\bstatus\s+IN\s*\(([^)]*)\)`)
	eq := regexp.MustCompile(`WHERE[^;]*?\bstatus\s*=\s*'(\w+)'`)
	set := regexp.MustCompile(`SET status = '(\w+)'`)
	for name, to := range moves {
		body, ok := queries[name]
		if !ok {
			t.Errorf("query %s not found", name)
			continue
		}
		if m := set.FindStringSubmatch(body); m == nil || domain.JobStatus(m[1]) != to {
			t.Errorf("%s sets status %v; want %s", name, m, to)
		}
		var from []domain.JobStatus
		if m := in.FindStringSubmatch(body); m != nil {
			for _, s := range strings.Split(m[1], ",") {
				from = append(from, domain.JobStatus(strings.Trim(strings.TrimSpace(s), "'")))
			}
		} else if m := eq.FindStringSubmatch(body); m != nil {
			from = []domain.JobStatus{domain.JobStatus(m[1])}
		}
		want := domain.JobStatusesTo(to)
		slices.Sort(from)
		slices.Sort(want)
		if !slices.Equal(from, want) {
			t.Errorf("%s allows moving to %s from %v; the domain allows it from %v", name, to, from, want)
		}
	}
}
