package conveyor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// sseServer answers GET .../events with handle(n, lastEventID, w, hold), n
// counting connections from 1; it records each Last-Event-ID sent.
type sseServer struct {
	*httptest.Server
	team uuid.UUID
	mu   sync.Mutex
	ids  []string
}

func newSSEServer(t *testing.T, handle func(n int, last string, w http.ResponseWriter, hold func())) *sseServer {
	t.Helper()
	s := &sseServer{team: uuid.New()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/teams/"+s.team.String()+"/events" {
			problem(w, http.StatusNotFound, "Not found.")
			return
		}
		if r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("Accept") != "text/event-stream" {
			t.Errorf("headers %v", r.Header)
		}
		s.mu.Lock()
		s.ids = append(s.ids, r.Header.Get("Last-Event-ID"))
		n := len(s.ids)
		s.mu.Unlock()
		// hold flushes what was written and keeps the stream open until
		// the client goes.
		hold := func() {
			_ = http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}
		handle(n, r.Header.Get("Last-Event-ID"), w, hold)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sseServer) lastEventIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

func streamHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
}

// event is one SSE frame of an Event of the given type.
func event(team uuid.UUID, id string, typ conveyor.EventType, extra string) string {
	data := fmt.Sprintf(`{"id":%q,"type":%q,"team_id":%q,"occurred_at":"2026-01-01T00:00:00Z"%s}`, id, typ, team, extra)
	return "id: " + id + "\nevent: " + string(typ) + "\ndata: " + data + "\n\n"
}

func client(t *testing.T, url string) *conveyor.Client {
	t.Helper()
	c, err := conveyor.New(url, conveyor.WithToken("t"), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func next(t *testing.T, s *conveyor.EventStream) *conveyor.Event {
	t.Helper()
	ev, err := s.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

// TestEventsParseServerSentEvents: the SSE rules (CRLF, CR and LF line
// ends, a byte order mark, comments, data over several lines, a field
// without a space, an id-only frame, unknown fields) give typed events.
func TestEventsParseServerSentEvents(t *testing.T) {
	var team uuid.UUID
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		streamHeaders(w)
		file := fmt.Sprintf(`{"id":%q,"team_id":%q,"name":"a.png","size":3,"sha256":"%s","content_type":"image/png","created_at":"2026-01-01T00:00:00Z"}`,
			uuid.New(), team, strings.Repeat("0", 64))
		frames := "\xEF\xBB\xBFretry: 2000\r\n: stream open\r\n\r\n" +
			"id: 1-0\revent: file.created\rdata: {\"id\":\"1-0\",\"type\":\"file.created\",\r" +
			"data: \"team_id\":\"" + team.String() + "\",\"occurred_at\":\"2026-01-01T00:00:00Z\",\"file\":" + file + "}\r\r" +
			": heartbeat\n\n" +
			"id:2-0\nunknown: field\n\n" + // no data: not an event, but the id counts
			event(team, "3-0", conveyor.EventTypeJobUpdated, `,"job":`+jobJSON(uuid.New(), team, "running", 40, 1))
		// Byte by byte, so that every line end is split across reads.
		for i := range len(frames) {
			_, _ = io.WriteString(w, frames[i:i+1])
			_ = http.NewResponseController(w).Flush()
		}
		hold()
	})
	team = srv.team
	s, err := client(t, srv.URL).Events(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := next(t, s)
	if ev.Type != conveyor.EventTypeFileCreated || ev.Id != "1-0" || ev.TeamId != team || ev.File == nil || ev.File.Name != "a.png" {
		t.Fatalf("first event %+v", ev)
	}
	ev = next(t, s)
	if ev.Type != conveyor.EventTypeJobUpdated || ev.Id != "3-0" || ev.Job == nil || ev.Job.Status != conveyor.JobStatusRunning || ev.Job.Progress != 40 {
		t.Fatalf("second event %+v", ev)
	}
	if s.LastEventID() != "3-0" {
		t.Fatalf("LastEventID = %q", s.LastEventID())
	}
}

// TestEventsReconnectWithLastEventID: when the server ends the stream (it
// shuts down, say), the stream reconnects after the server's retry time,
// sending the last id it received, and carries on.
func TestEventsReconnectWithLastEventID(t *testing.T) {
	var team uuid.UUID
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		streamHeaders(w)
		switch n {
		case 1:
			_, _ = io.WriteString(w, "retry: 5\n\n"+event(team, "1-0", conveyor.EventTypeFileDeleted, "")+
				event(team, "2-0", conveyor.EventTypeFileDeleted, "")+"id: 2-1\ndata: {\"cut\":")
		case 2:
			_, _ = io.WriteString(w, event(team, "3-0", conveyor.EventTypeFileDeleted, ""))
			hold()
		}
	})
	team = srv.team
	var reasons []error
	var waits []time.Duration
	s, err := client(t, srv.URL).Events(context.Background(), team, conveyor.WithReconnectHook(func(err error, wait time.Duration) {
		reasons = append(reasons, err)
		waits = append(waits, wait)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for range 3 {
		got = append(got, next(t, s).Id)
	}
	if strings.Join(got, " ") != "1-0 2-0 3-0" {
		t.Fatalf("events %v", got)
	}
	if ids := srv.lastEventIDs(); len(ids) != 2 || ids[0] != "" || ids[1] != "2-0" {
		t.Fatalf("Last-Event-ID sent: %q; want none, then 2-0 (the cut event does not count)", ids)
	}
	if len(reasons) != 1 || !strings.Contains(reasons[0].Error(), "ended by the server") || waits[0] > 5*time.Millisecond {
		t.Fatalf("reconnect hook saw %v after %v", reasons, waits)
	}
}

// TestEventsResumeAndReset: WithLastEventID resumes; a reset event (the
// id was older than the server's backlog) is handed to the caller.
func TestEventsResumeAndReset(t *testing.T) {
	var team uuid.UUID
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		streamHeaders(w)
		if last == "1-0" {
			_, _ = io.WriteString(w, event(team, "9-0", conveyor.EventTypeReset, "")+event(team, "9-1", conveyor.EventTypeFileDeleted, ""))
		}
		hold()
	})
	team = srv.team
	s, err := client(t, srv.URL).Events(context.Background(), team, conveyor.WithLastEventID("1-0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for ev, err := range s.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(ev.Type))
		if len(got) == 2 {
			break
		}
	}
	if strings.Join(got, " ") != "reset file.deleted" {
		t.Fatalf("events %v", got)
	}
}

// TestEventsReconnectAfterSilenceAndFailures: a connection that goes quiet
// is dropped and reopened; 503 and network failures are retried with
// backoff; a 404 on reconnection ends the stream with the *Problem.
func TestEventsReconnectAfterSilenceAndFailures(t *testing.T) {
	var team uuid.UUID
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		switch n {
		case 1:
			streamHeaders(w)
			_, _ = io.WriteString(w, "retry: 1\n: open\n\n")
			hold() // silence: the client gives up on it
		case 2:
			streamHeaders(w)
			_, _ = io.WriteString(w, event(team, "1-0", conveyor.EventTypeFileDeleted, ""))
		case 3, 4, 5, 6: // 503s, retried by the client's policy, then by the stream
			w.Header().Set("Retry-After", "0")
			problem(w, http.StatusServiceUnavailable, "Unavailable.")
		case 7:
			w.Header().Set("Content-Type", "text/event-stream") // a 200 cut short: retried
			panic(http.ErrAbortHandler)
		case 8:
			streamHeaders(w)
			_, _ = io.WriteString(w, event(team, "2-0", conveyor.EventTypeFileDeleted, ""))
		default:
			problem(w, http.StatusNotFound, "Not found.")
		}
	})
	team = srv.team
	var reasons []string
	s, err := client(t, srv.URL).Events(context.Background(), team,
		conveyor.WithIdleTimeout(100*time.Millisecond),
		conveyor.WithReconnectHook(func(err error, _ time.Duration) { reasons = append(reasons, err.Error()) }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev := next(t, s); ev.Id != "1-0" {
		t.Fatalf("event %s", ev.Id)
	}
	if ev := next(t, s); ev.Id != "2-0" {
		t.Fatalf("event %s", ev.Id)
	}
	_, err = s.Next()
	var p *conveyor.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Fatalf("Next after a 404: %v; want the *Problem", err)
	}
	if _, again := s.Next(); again != err {
		t.Fatalf("Next again: %v; want the same error", again)
	}
	if ids := srv.lastEventIDs(); strings.Join(ids, ",") != ",,1-0,1-0,1-0,1-0,1-0,1-0,2-0" {
		t.Fatalf("Last-Event-ID sent: %q", ids)
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{"idle", "ended by the server", "503"} {
		if !strings.Contains(joined, want) {
			t.Errorf("reconnect reasons lack %q:\n%s", want, joined)
		}
	}
}

// TestEventsRefusedOrNotAStream: opening fails with the server's problem,
// or with an error for an answer that is not an event stream.
func TestEventsRefusedOrNotAStream(t *testing.T) {
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>a login page</html>")
	})
	c := client(t, srv.URL)
	_, err := c.Events(context.Background(), uuid.New())
	var p *conveyor.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Fatalf("Events of an unknown team: %v; want a 404 *Problem", err)
	}
	_, err = c.Events(context.Background(), srv.team)
	if err == nil || !strings.Contains(err.Error(), "not text/event-stream") {
		t.Fatalf("Events answered by HTML: %v", err)
	}
}

// TestEventsUndecodableEventEndsTheStream: data that is not an Event is
// an error, and the stream does not reconnect over it.
func TestEventsUndecodableEventEndsTheStream(t *testing.T) {
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		streamHeaders(w)
		_, _ = io.WriteString(w, "id: 1-0\ndata: {not json\n\n")
	})
	s, err := client(t, srv.URL).Events(context.Background(), srv.team)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), `event "1-0"`) {
		t.Fatalf("Next: %v", err)
	}
	if s.LastEventID() != "1-0" || len(srv.lastEventIDs()) != 1 {
		t.Fatalf("LastEventID %q after %d connections", s.LastEventID(), len(srv.lastEventIDs()))
	}
}

// TestEventsStopOnCloseAndContext: Close from another goroutine unblocks
// Next (All then just ends); ctx ending ends the stream with ctx's error.
func TestEventsStopOnCloseAndContext(t *testing.T) {
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		streamHeaders(w)
		hold()
	})
	c := client(t, srv.URL)
	s, err := c.Events(context.Background(), srv.team)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, func() { s.Close() })
	for ev, err := range s.All() {
		t.Fatalf("All yielded %v, %v after Close", ev, err)
	}
	if _, err := s.Next(); !errors.Is(err, conveyor.ErrStreamClosed) {
		t.Fatalf("Next after Close: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s, err = c.Events(ctx, srv.team)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range s.All() {
		n++
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("All yielded %v; want the deadline", err)
		}
	}
	if n != 1 {
		t.Fatalf("All yielded %d times", n)
	}
}

// TestWatchJob: the job as read, then its changes from the stream (others'
// and stale events skipped), up to a final state.
func TestWatchJob(t *testing.T) {
	job, other := uuid.New(), uuid.New()
	var team uuid.UUID
	var mux http.ServeMux
	srv := newSSEServer(t, func(n int, last string, w http.ResponseWriter, hold func()) {
		streamHeaders(w)
		for _, f := range []string{
			event(team, "1-0", conveyor.EventTypeJobUpdated, `,"job":`+jobJSON(other, team, "running", 10, 1)),
			event(team, "2-0", conveyor.EventTypeJobUpdated, `,"job":`+jobJSON(job, team, "queued", 0, 0)), // older than the read
			event(team, "3-0", conveyor.EventTypeJobUpdated, `,"job":`+jobJSON(job, team, "running", 50, 2)),
			event(team, "4-0", conveyor.EventTypeJobUpdated, `,"job":`+jobJSON(job, team, "succeeded", 100, 3)),
		} {
			_, _ = io.WriteString(w, f)
		}
		hold()
	})
	team = srv.team
	mux.Handle("/api/v1/teams/"+team.String()+"/events", srv.Config.Handler)
	mux.HandleFunc("/api/v1/teams/"+team.String()+"/jobs/"+job.String(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, jobJSON(job, team, "running", 0, 1))
	})
	api := httptest.NewServer(&mux)
	defer api.Close()
	var got []string
	for j, err := range client(t, api.URL).WatchJob(context.Background(), team, job) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d", j.Status, j.Progress))
	}
	if strings.Join(got, ", ") != "running 0, running 50, succeeded 100" {
		t.Fatalf("watched %v", got)
	}
}
