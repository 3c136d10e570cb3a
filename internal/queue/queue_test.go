package queue

import (
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

func TestPayloadCarriesTheRun(t *testing.T) {
	id := uuid.New()
	got, run, err := parsePayload(payload(domain.Dispatch{JobID: id, Run: 3}))
	if err != nil || got != id || run != 3 {
		t.Fatalf("round trip = %v %d %v", got, run, err)
	}
	// Tasks enqueued before runs existed carry the bare id: any run.
	if got, run, err := parsePayload([]byte(id.String())); err != nil || got != id || run != 0 {
		t.Fatalf("bare id = %v %d %v", got, run, err)
	}
	for _, bad := range []string{"", "nope", id.String() + " 0", id.String() + " x", id.String() + " -1"} {
		if _, _, err := parsePayload([]byte(bad)); err == nil {
			t.Errorf("payload %q accepted", bad)
		}
	}
	if TaskID(domain.Dispatch{JobID: id, Run: 1}) != id.String() || TaskID(domain.Dispatch{JobID: id, Run: 2}) != id.String()+".r2" {
		t.Fatal("task ids: the first run keeps the job id, later runs get their own")
	}
}
