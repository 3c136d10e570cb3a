package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestReadYourWriteRightAfterPrimaryStops: a principal writes, the primary
// stops at once (before the replica checker has seen the replicas pass the
// write), and the principal's next read still answers 200 with the write:
// the router asks the replicas how far they have replayed instead of
// insisting on the primary it cannot reach (issue 18 item 1).
func TestReadYourWriteRightAfterPrimaryStops(t *testing.T) {
	env := shared.Env(t)
	w := newCaller(t, env.URL, "ryw-outage", true)
	w.createTeam("warm-up") // provisions the principal
	catchUp(t)

	team := w.createTeam("written-just-before-the-outage")
	if err := env.Stack.StopPrimary(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stack.StartPrimary(context.Background()); err != nil {
			t.Errorf("restart primary: %v", err)
		}
	}()
	start := time.Now()
	code, body, _, err := w.do("GET", "/teams/"+team, "")
	took := time.Since(start)
	if err != nil || code != 200 {
		t.Fatalf("read of own write with the primary just stopped: %d %s %v (after %s)", code, body, err, took)
	}
	var got struct{ ID, Name string }
	if err := json.Unmarshal(body, &got); err != nil || got.ID != team || got.Name != "written-just-before-the-outage" {
		t.Fatalf("read = %s (%v); want the team just written", body, err)
	}
	t.Logf("read answered in %s", took.Round(time.Millisecond))
	for i := range 10 {
		if code, body, _, err := w.do("GET", "/teams/"+team, ""); err != nil || code != 200 {
			t.Fatalf("read %d with the primary down: %d %s %v", i, code, body, err)
		}
	}
}
