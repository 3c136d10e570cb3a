package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	team    = uuid.MustParse("0190c0de-0000-7000-8000-000000000001")
	jobID   = uuid.MustParse("0190c0de-0000-7000-8000-000000000002")
	fileID  = uuid.MustParse("0190c0de-0000-7000-8000-000000000003")
	userID  = uuid.MustParse("0190c0de-0000-7000-8000-000000000004")
	created = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
)

func jobEvent() domain.Event {
	started, finished := created.Add(time.Second), created.Add(3*time.Second)
	return domain.Event{Type: domain.EventJobUpdated, TeamID: team, OccurredAt: finished, Job: &domain.Job{
		ID: jobID, TeamID: team, FileID: &fileID, Processor: "thumbnail", Params: json.RawMessage(`{"max_size":256}`),
		Status: domain.JobFailed, Progress: 40, Attempts: 2, Runs: 1,
		Error:     &domain.JobError{Code: "unsupported_image", Message: "not an image", Retryable: false},
		CreatedBy: &userID, CreatedAt: created, UpdatedAt: finished, StartedAt: &started, FinishedAt: &finished,
	}}
}

func fileEvent() domain.Event {
	return domain.Event{Type: domain.EventFileCreated, TeamID: team, OccurredAt: created, File: &domain.File{
		ID: fileID, TeamID: team, Name: "photo.png", Size: 1234, SHA256: strings.Repeat("ab", 32),
		ContentType: "image/png", CreatedBy: &userID, CreatedAt: created,
	}}
}

// TestWireGolden pins the version 1 encoding byte for byte: a change here
// is a change of the wire format that processes of another release read.
func TestWireGolden(t *testing.T) {
	for name, e := range map[string]domain.Event{"job_updated_v1": jobEvent(), "file_created_v1": fileEvent()} {
		t.Run(name, func(t *testing.T) {
			got, err := events.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bytes.TrimSpace(want)) {
				t.Errorf("encoding changed:\n got %s\nwant %s", got, bytes.TrimSpace(want))
			}
			back, err := events.Decode("1-0", string(got))
			if err != nil {
				t.Fatal(err)
			}
			e.ID = "1-0"
			if !reflect.DeepEqual(back, e) {
				t.Errorf("round trip:\n got %+v\nwant %+v", back, e)
			}
		})
	}
}

// TestDecodeTolerates reads what a newer release of the same major
// version may write: fields this one does not know, at every level.
func TestDecodeTolerates(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "job_updated_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(golden, &doc); err != nil {
		t.Fatal(err)
	}
	doc["trace_id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
	doc["job"].(map[string]any)["priority"] = "high"
	doc["job"].(map[string]any)["error"].(map[string]any)["hint"] = "try a PNG"
	extra, _ := json.Marshal(doc)
	got, err := events.Decode("7-1", string(extra))
	if err != nil {
		t.Fatalf("a v1 payload with extra fields: %v", err)
	}
	want := jobEvent()
	want.ID = "7-1"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded:\n got %+v\nwant %+v", got, want)
	}
}

// TestDecodeRefusesUnknownMajor skips a newer major version (its fields
// may mean something else) with a log line saying so.
func TestDecodeRefusesUnknownMajor(t *testing.T) {
	for _, payload := range []string{
		`{"v":2,"type":"job.updated","team_id":"` + team.String() + `","occurred_at":"2026-03-01T12:00:00Z"}`,
		`{"v":0,"type":"job.updated"}`,
	} {
		_, err := events.Decode("9-0", payload)
		if !errors.Is(err, events.ErrUnknownVersion) {
			t.Errorf("Decode(%s) = %v, want ErrUnknownVersion", payload, err)
		}
		var log bytes.Buffer
		h := &events.Hub{Logger: slog.New(slog.NewTextHandler(&log, nil))}
		h.LogSkip("message", err)
		if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "newer wire version") ||
			!strings.Contains(log.String(), "9-0") {
			t.Errorf("log = %q, want a warning naming the skipped event and why", log.String())
		}
	}
	if _, err := events.Decode("9-1", `{"v":"1"}`); err == nil || errors.Is(err, events.ErrUnknownVersion) {
		t.Errorf(`a malformed "v": %v, want a decode error`, err)
	}
}

// TestDecodeLegacy reads the untagged encoding of releases before
// version 1, still in Redis (and still written by old processes) during a
// rollout.
func TestDecodeLegacy(t *testing.T) {
	payload := `{"type":"file.deleted","team_id":"` + team.String() + `","occurred_at":"2026-03-01T12:00:00.123456Z",` +
		`"file":{"ID":"` + fileID.String() + `","TeamID":"` + team.String() + `","Name":"photo.png","Size":1234,` +
		`"SHA256":"","ContentType":"image/png","ObjectKey":"k","CreatedBy":null,"CreatedAt":"2026-03-01T12:00:00.123456Z"}}`
	got, err := events.Decode("3-0", payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != domain.EventFileDeleted || got.File == nil || got.File.ID != fileID || got.File.Name != "photo.png" ||
		got.File.Size != 1234 || !got.OccurredAt.Equal(created) {
		t.Errorf("legacy event = %+v (file %+v)", got, got.File)
	}
}
