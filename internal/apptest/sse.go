package apptest

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Frame is one Server-Sent Events frame: an event, or a comment line.
type Frame struct {
	ID, Event, Data string
	Comment         string
}

// Stream reads an event stream; Next returns frames as they arrive.
type Stream struct {
	Resp   *http.Response
	frames chan Frame
	cancel context.CancelFunc
	tb     testing.TB
}

// OpenStream opens GET url (an event stream) with the given headers
// through the conformance-checking client; every event's data is checked
// against the Event schema. The stream closes at the end of the test.
func (e *Env) OpenStream(tb testing.TB, url string, header http.Header) *Stream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.Client(tb).Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	s := &Stream{Resp: resp, frames: make(chan Frame, 1024), cancel: cancel, tb: tb}
	tb.Cleanup(s.Close)
	if resp.StatusCode != http.StatusOK {
		close(s.frames)
		return s
	}
	go s.read()
	return s
}

func (s *Stream) read() {
	defer close(s.frames)
	sc := bufio.NewScanner(s.Resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var f Frame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if f.Event != "" || f.Data != "" || f.ID != "" {
				if err := CheckEvent([]byte(f.Data)); err != nil {
					s.tb.Errorf("event outside the spec: %v: %s", err, f.Data)
				}
				s.frames <- f
			}
			f = Frame{}
		case strings.HasPrefix(line, ":"):
			s.frames <- Frame{Comment: strings.TrimSpace(line[1:])}
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				f.ID = v
			case "event":
				f.Event = v
			case "data":
				f.Data += v
			}
		}
	}
}

// Next returns the next frame, or false when the stream ended or nothing
// came within d.
func (s *Stream) Next(d time.Duration) (Frame, bool) {
	select {
	case f, ok := <-s.frames:
		return f, ok
	case <-time.After(d):
		return Frame{}, false
	}
}

// NextEvent returns the next event, skipping comments.
func (s *Stream) NextEvent(d time.Duration) (Frame, bool) {
	deadline := time.Now().Add(d)
	for {
		f, ok := s.Next(time.Until(deadline))
		if !ok || f.Comment == "" {
			return f, ok
		}
	}
}

// Close closes the stream.
func (s *Stream) Close() {
	s.cancel()
	_ = s.Resp.Body.Close()
}

// Ended reports whether the stream ends (the server closes it) within d;
// frames that arrive meanwhile are dropped.
func (s *Stream) Ended(d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
