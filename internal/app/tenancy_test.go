package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// eventually polls check until it returns "" (done) or fails the test with
// its last answer after limit.
func eventually(t *testing.T, limit time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func usageOf(t *testing.T, c *conveyor.Client, team uuid.UUID) conveyor.TeamUsage {
	t.Helper()
	got, err := c.Team(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	return got.Usage
}

// TestTeamUsage: a team's usage counts its live files, its jobs' recorded
// outputs and its jobs by state, in the team and in the list, and is
// exact again right after a file (and with it its jobs' outputs) is
// deleted.
func TestTeamUsage(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "usage-admin", true))
	team, err := admin.CreateTeam(ctx, "Usage")
	if err != nil {
		t.Fatal(err)
	}
	if team.Usage != (conveyor.TeamUsage{}) {
		t.Fatalf("a new team's usage: %+v", team.Usage)
	}
	img := tinyPNG(t, 640, 480)
	notes := []byte("notes that stay")
	fImg, err := admin.UploadFile(ctx, team.Id, "photo.png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UploadFile(ctx, team.Id, "notes.txt", bytes.NewReader(notes)); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, admin, team.Id); u.FileCount != 2 || u.StoredBytes != int64(len(img)+len(notes)) {
		t.Fatalf("after two uploads (read your writes): %+v", u)
	}
	job, err := admin.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &fImg.Id, Processor: "thumbnail"})
	if err != nil {
		t.Fatal(err)
	}
	if job, err = admin.WaitForJob(ctx, team.Id, job.Id, 20*time.Millisecond); err != nil || job.Status != conveyor.JobStatusSucceeded {
		t.Fatalf("thumbnail: %+v %v", job, err)
	}
	outs, err := admin.JobOutputs(ctx, team.Id, job.Id)
	if err != nil || len(outs) == 0 {
		t.Fatalf("outputs: %+v %v", outs, err)
	}
	var outBytes int64
	for _, o := range outs {
		outBytes += o.Size
	}
	want := conveyor.TeamUsage{StoredBytes: int64(len(img)+len(notes)) + outBytes, FileCount: 2,
		Jobs: conveyor.JobCounts{Succeeded: 1}}
	eventually(t, 10*time.Second, func() string {
		if u := usageOf(t, admin, team.Id); u != want {
			return "usage " + jsonOf(u) + ", want " + jsonOf(want)
		}
		return ""
	})
	var listed *conveyor.Team
	for tm, err := range admin.Teams(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if tm.Id == team.Id {
			listed = &tm
			break
		}
	}
	if listed == nil || listed.Usage != want {
		t.Fatalf("the team in the list: %+v, want usage %+v", listed, want)
	}

	if r, err := admin.DeleteFileWithResponse(ctx, team.Id, fImg.Id); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %v %v", r, err)
	}
	want = conveyor.TeamUsage{StoredBytes: int64(len(notes)), FileCount: 1, Jobs: conveyor.JobCounts{Succeeded: 1}}
	if u := usageOf(t, admin, team.Id); u != want {
		t.Fatalf("right after deleting the image (its thumbnail goes too): %+v, want %+v", u, want)
	}
}
