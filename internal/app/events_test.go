package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/events"
)

// TestEventStream: events published while a client listens on another API
// process arrive there in order with ids; reconnecting with Last-Event-ID
// replays what was missed; an id older than the backlog gets a reset;
// idle streams carry heartbeats.
func TestEventStream(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "events-admin", "Events")
	other := e.StartAPI(t, map[string]string{"CONVEYOR_EVENT_HEARTBEAT": "300ms"})
	auth := http.Header{"Authorization": {"Bearer " + jc.token}}
	streamURL := other + "/api/v1/teams/" + jc.team + "/events"
	s := e.OpenStream(t, streamURL, auth)
	if s.Resp.StatusCode != 200 || s.Resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", s.Resp.StatusCode, s.Resp.Header.Get("Content-Type"))
	}

	file := jc.upload("dot.png", tinyPNG(t, 5, 5))
	j := jc.createJob(file, "inspect", "")
	var seen []apptest.Frame
	lastID := events.ID{}
	next := func() apptest.Frame {
		t.Helper()
		f, ok := s.NextEvent(30 * time.Second)
		if !ok {
			t.Fatalf("no event; so far %+v", seen)
		}
		id, okID := events.ParseID(f.ID)
		if !okID || !lastID.Less(id) {
			t.Fatalf("event id %q does not follow %v", f.ID, lastID)
		}
		lastID = id
		seen = append(seen, f)
		return f
	}
	f := next()
	if f.Event != "file.created" || !strings.Contains(f.Data, file) {
		t.Fatalf("first event = %+v", f)
	}
	var statuses []string
	for {
		f := next()
		if f.Event != "job.updated" {
			t.Fatalf("unexpected event %+v", f)
		}
		var ev struct{ Job jobView }
		if err := json.Unmarshal([]byte(f.Data), &ev); err != nil || ev.Job.ID != j.ID {
			t.Fatalf("job event = %s (%v)", f.Data, err)
		}
		if len(statuses) == 0 || statuses[len(statuses)-1] != ev.Job.Status {
			statuses = append(statuses, ev.Job.Status)
		}
		if final(ev.Job) {
			break
		}
	}
	if got := strings.Join(statuses, ","); got != "queued,running,succeeded" {
		t.Fatalf("job states seen = %s", got)
	}
	// Heartbeats on an idle stream.
	if f, ok := s.Next(3 * time.Second); !ok || f.Comment != "heartbeat" {
		t.Fatalf("no heartbeat on an idle stream: %+v %v", f, ok)
	}
	s.Close()

	// Missed while disconnected: replayed on reconnect with Last-Event-ID.
	if r, b := jc.send("DELETE", "/teams/"+jc.team+"/files/"+file, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete: %d %s", r.StatusCode, b)
	}
	s2 := e.OpenStream(t, e.URL+"/api/v1/teams/"+jc.team+"/events", http.Header{
		"Authorization": {"Bearer " + jc.token}, "Last-Event-ID": {lastID.String()}})
	if f, ok := s2.NextEvent(10 * time.Second); !ok || f.Event != "file.deleted" || !strings.Contains(f.Data, file) {
		t.Fatalf("after reconnect: %+v %v", f, ok)
	}
	s2.Close()

	// An id older than the backlog: reset first.
	s3 := e.OpenStream(t, streamURL, http.Header{"Authorization": {"Bearer " + jc.token}, "Last-Event-ID": {"1-0"}})
	if f, ok := s3.NextEvent(10 * time.Second); !ok || f.Event != "reset" {
		t.Fatalf("resume from before the backlog: %+v %v", f, ok)
	}
	s3.Close()

	// A malformed Last-Event-ID is a 400; a stranger gets 404.
	for _, id := range []string{"yesterday", "18446744073709551615-18446744073709551615"} {
		bad := e.OpenStream(t, streamURL, http.Header{"Authorization": {"Bearer " + jc.token}, "Last-Event-ID": {id}})
		if bad.Resp.StatusCode != 400 {
			t.Fatalf("Last-Event-ID %q: %d", id, bad.Resp.StatusCode)
		}
	}
	stranger := e.OpenStream(t, streamURL, http.Header{"Authorization": {"Bearer " + e.Token(t, "events-stranger", false)}})
	if stranger.Resp.StatusCode != 404 {
		t.Fatalf("stranger: %d", stranger.Resp.StatusCode)
	}
}

// TestEventStreamEndsOnShutdown: stopping an API process ends its streams
// promptly (clients reconnect elsewhere), rather than holding the drain.
func TestEventStreamEndsOnShutdown(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "events-stop-admin", "Events stop")
	ctx, cancel := context.WithCancel(context.Background())
	url := e.StartAPIWithContext(t, ctx, nil)
	s := e.OpenStream(t, url+"/api/v1/teams/"+jc.team+"/events", http.Header{"Authorization": {"Bearer " + jc.token}})
	if s.Resp.StatusCode != 200 {
		t.Fatalf("stream: %d", s.Resp.StatusCode)
	}
	start := time.Now()
	cancel()
	for {
		if _, ok := s.Next(10 * time.Second); !ok {
			break
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the stream outlived shutdown by %s", d)
	}
}
