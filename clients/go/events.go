package conveyor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// ErrStreamClosed is what EventStream.Next returns after Close.
var ErrStreamClosed = errors.New("conveyor: event stream closed")

// errIdle is why a connection that went quiet is dropped.
var errIdle = errors.New("conveyor: event stream idle")

const (
	// defaultRetry is the wait before reconnecting until the server says
	// otherwise (its `retry:` field).
	defaultRetry = 2 * time.Second
	// maxReconnectWait caps the backoff between failed reconnections.
	maxReconnectWait = 30 * time.Second
	// defaultIdleTimeout is three of the server's 15 s heartbeats.
	defaultIdleTimeout = 45 * time.Second
	// maxEventSize bounds one event (a line, or an event's data lines
	// together), so a broken stream cannot exhaust memory.
	maxEventSize = 16 << 20
)

// EventsOption tunes Events.
type EventsOption func(*eventsOptions)

type eventsOptions struct {
	lastID      string
	idle        time.Duration
	onReconnect func(err error, wait time.Duration)
}

// WithLastEventID resumes the stream after the event with this id (an
// Event's Id, or EventStream.LastEventID of an earlier stream): the events
// since then are delivered first, or an EventTypeReset event when the
// server no longer has them all.
func WithLastEventID(id string) EventsOption { return func(o *eventsOptions) { o.lastID = id } }

// WithIdleTimeout drops and reopens a connection on which nothing (not
// even the server's heartbeat, sent every 15 s) arrived for d; the default
// is 45 s, and zero or less turns the check off.
func WithIdleTimeout(d time.Duration) EventsOption { return func(o *eventsOptions) { o.idle = d } }

// WithReconnectHook calls fn before each reconnection, with why the
// connection ended and how long the stream waits before the next attempt
// (to log it, say). fn runs on the goroutine that called Next; it may
// Close the stream to give up.
func WithReconnectHook(fn func(err error, wait time.Duration)) EventsOption {
	return func(o *eventsOptions) { o.onReconnect = fn }
}

// EventStream is a team's live stream of events, opened by Client.Events.
// It reconnects by itself whenever the connection drops, the server shuts
// down or goes quiet: it waits (what the server asked with `retry:`, then
// doubling with each failed attempt, up to 30 s), and resumes with
// Last-Event-ID, so no event is missed or repeated. When the server no
// longer has the missed events, it yields one of type EventTypeReset
// instead: re-read the resources, then carry on.
//
// Next and All are for one goroutine; Close may be called from any.
type EventStream struct {
	c      *Client
	teamID uuid.UUID
	opts   eventsOptions
	ctx    context.Context
	cancel context.CancelCauseFunc

	// The current connection; body is nil between connections.
	body     io.ReadCloser
	lines    *lineReader
	idle     *time.Timer
	stopConn context.CancelCauseFunc
	connCtx  context.Context

	lastID     string        // the id of the last event dispatched
	idBuf      string        // the id field seen since, per the SSE rules
	retry      time.Duration // the reconnection time
	retryAfter time.Duration // what a 429 or 503 asked for
	failures   int           // failed attempts in a row
	reason     error         // why the last connection ended
	err        error         // the error that ended the stream
}

// Events opens the team's event stream (GET /teams/{team_id}/events) and
// returns once the server has accepted it, so anything that happens in the
// team from then on is delivered. A refusal is a *Problem (401, or 404 for
// a team the caller is not in); a network failure (after the client's
// retries) is returned as it is. Once open, the stream reconnects without
// end, until ctx ends or Close. Close the stream when done with it.
//
// The client's HTTP client must not have a Timeout (it would cut the
// stream); WithIdleTimeout detects a dead connection instead.
func (c *Client) Events(ctx context.Context, teamID uuid.UUID, opts ...EventsOption) (*EventStream, error) {
	o := eventsOptions{idle: defaultIdleTimeout}
	for _, f := range opts {
		f(&o)
	}
	sctx, cancel := context.WithCancelCause(ctx)
	s := &EventStream{c: c, teamID: teamID, opts: o, ctx: sctx, cancel: cancel, lastID: o.lastID, retry: defaultRetry}
	if err := s.connect(); err != nil {
		cancel(ErrStreamClosed)
		return nil, err
	}
	return s, nil
}

// LastEventID returns the id of the last event the stream delivered (or
// the one it was opened with): keep it to resume later, with
// WithLastEventID, from where this stream stopped.
func (s *EventStream) LastEventID() string { return s.lastID }

// Close ends the stream and its connection; a Next blocked on another
// goroutine returns ErrStreamClosed. It always returns nil.
func (s *EventStream) Close() error {
	s.cancel(ErrStreamClosed)
	return nil
}

// Next returns the next event, waiting for it and reconnecting as needed.
// It returns an error only when the stream is over: ErrStreamClosed after
// Close, ctx's error when ctx ended, a *Problem when the server refused a
// reconnection (the caller lost access to the team, say), or an error
// saying the server sent something that is not a valid event stream. Every
// later call returns the same error.
func (s *EventStream) Next() (*Event, error) {
	for s.err == nil {
		if err := s.ctx.Err(); err != nil {
			return nil, s.fail(context.Cause(s.ctx))
		}
		if s.body == nil {
			if err := s.reconnect(); err != nil {
				return nil, s.fail(err)
			}
		}
		ev, err := s.read()
		if err == nil {
			return ev, nil
		}
		cause := context.Cause(s.connCtx)
		s.disconnect()
		switch {
		case s.ctx.Err() != nil:
			return nil, s.fail(context.Cause(s.ctx))
		case errors.Is(cause, errIdle):
			s.reason = fmt.Errorf("%w: nothing received for %s", errIdle, s.opts.idle)
		case errors.As(err, new(*protocolError)):
			return nil, s.fail(err)
		case errors.Is(err, io.EOF):
			s.reason = errors.New("conveyor: event stream ended by the server")
		default:
			s.reason = fmt.Errorf("conveyor: event stream broken: %w", err)
		}
	}
	return nil, s.err
}

// All iterates over the stream's events (see Next), reconnecting as
// needed. An error ends it, yielded once with a nil event, except after
// Close, when it just ends. Breaking out of the loop leaves the stream
// open: range over All again to go on, or Close it.
func (s *EventStream) All() iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for {
			ev, err := s.Next()
			if errors.Is(err, ErrStreamClosed) {
				return
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

func (s *EventStream) fail(err error) error {
	s.disconnect()
	s.err = err
	s.cancel(err)
	return err
}

// connect opens one connection, resuming after lastID.
func (s *EventStream) connect() error {
	cctx, stop := context.WithCancelCause(s.ctx)
	var params StreamTeamEventsParams
	if s.lastID != "" {
		id := s.lastID
		params.LastEventID = &id
	}
	resp, err := s.c.StreamTeamEvents(cctx, s.teamID, &params, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		return nil
	})
	if err != nil {
		stop(err)
		return err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		stop(nil)
		s.retryAfter = 0
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			s.retryAfter = min(time.Duration(secs)*time.Second, time.Minute)
		}
		return problemFrom(resp, body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		stop(nil)
		return &protocolError{fmt.Sprintf("the events answer is %q, not text/event-stream", resp.Header.Get("Content-Type"))}
	}
	var r io.Reader = resp.Body
	if s.opts.idle > 0 {
		s.idle = time.AfterFunc(s.opts.idle, func() { stop(errIdle) })
		r = &idleReader{r: resp.Body, timer: s.idle, d: s.opts.idle}
	}
	s.body, s.connCtx, s.stopConn = resp.Body, cctx, stop
	s.lines = newLineReader(r)
	s.idBuf = s.lastID
	s.failures = 0
	return nil
}

func (s *EventStream) disconnect() {
	if s.body == nil {
		return
	}
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	s.stopConn(nil)
	s.body.Close()
	s.body, s.lines = nil, nil
}

// reconnect waits and connects until it succeeds, the stream ends, or the
// server refuses for good.
func (s *EventStream) reconnect() error {
	for {
		d := min(s.retry<<min(s.failures, 16), maxReconnectWait)
		wait := d/2 + rand.N(d/2+1)
		wait = max(wait, s.retryAfter)
		s.retryAfter = 0
		if s.opts.onReconnect != nil {
			s.opts.onReconnect(s.reason, wait)
			if s.ctx.Err() != nil {
				return context.Cause(s.ctx)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return context.Cause(s.ctx)
		case <-t.C:
		}
		err := s.connect()
		if err == nil {
			return nil
		}
		if s.ctx.Err() != nil {
			return context.Cause(s.ctx)
		}
		if !transient(err) {
			return err
		}
		s.failures++
		s.reason = err
	}
}

// transient reports whether a failed connection attempt is worth
// repeating: a network error, a timeout, a 429 or a 5xx.
func transient(err error) bool {
	var p *Problem
	if errors.As(err, &p) {
		return p.Status == http.StatusRequestTimeout || p.Status == http.StatusTooManyRequests || p.Status >= 500
	}
	var pe *protocolError
	return !errors.As(err, &pe)
}

// read reads lines up to the next event, per the Server-Sent Events
// rules: fields data, event, id and retry; comments and unknown fields
// ignored; an event without data is not dispatched.
func (s *EventStream) read() (*Event, error) {
	var data []byte
	hasData := false
	for {
		line, err := s.lines.next()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			s.lastID = s.idBuf
			if !hasData {
				continue
			}
			var ev Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return nil, &protocolError{fmt.Sprintf("event %q: %v", s.lastID, err)}
			}
			if ev.Id != "" {
				s.lastID, s.idBuf = ev.Id, ev.Id
			}
			return &ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if len(data)+len(value) > maxEventSize {
				return nil, &protocolError{fmt.Sprintf("an event over %d bytes", maxEventSize)}
			}
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				s.idBuf = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 32); err == nil {
				s.retry = max(time.Duration(ms)*time.Millisecond, time.Millisecond)
			}
		}
	}
}

// protocolError says that the server sent something that is not a valid
// event stream; reconnecting would not help.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "conveyor: event stream: " + e.msg }

// lineReader splits a stream into lines ending in CRLF, LF or CR, each at
// most maxEventSize bytes, after a leading byte order mark.
type lineReader struct {
	r       *bufio.Reader
	line    []byte
	skipLF  bool // the last line ended in CR: an LF next belongs to it
	started bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(r, 32<<10)} }

// next returns the next line, valid until the following call. A line cut
// by the end of the stream is dropped (and with it an incomplete event).
func (l *lineReader) next() ([]byte, error) {
	l.line = l.line[:0]
	for {
		if l.r.Buffered() == 0 {
			if _, err := l.r.Peek(1); err != nil {
				return nil, err
			}
		}
		buf, _ := l.r.Peek(l.r.Buffered())
		if l.skipLF {
			l.skipLF = false
			if buf[0] == '\n' {
				_, _ = l.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			l.line = append(l.line, buf...)
			_, _ = l.r.Discard(len(buf))
			if len(l.line) > maxEventSize {
				return nil, &protocolError{fmt.Sprintf("a line over %d bytes", maxEventSize)}
			}
			continue
		}
		l.line = append(l.line, buf[:i]...)
		l.skipLF = buf[i] == '\r'
		_, _ = l.r.Discard(i + 1)
		if !l.started {
			l.started = true
			l.line = bytes.TrimPrefix(l.line, []byte("\xEF\xBB\xBF"))
		}
		return l.line, nil
	}
}

// idleReader pushes back the idle deadline whenever bytes arrive.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.d)
	}
	return n, err
}

// WatchJob follows a job on the team's event stream: it yields the job as
// it is now, then each change of its status or progress, and ends after a
// final state (succeeded, failed or cancelled). An error is yielded once
// and ends it; ctx ending is one. No polling: one stream, plus a read of
// the job at the start and after a reset.
//
//	var job *conveyor.Job
//	for j, err := range c.WatchJob(ctx, teamID, jobID) {
//		if err != nil {
//			return err
//		}
//		fmt.Printf("%s %d%%\n", j.Status, j.Progress)
//		job = j
//	}
func (c *Client) WatchJob(ctx context.Context, teamID, jobID uuid.UUID) iter.Seq2[*Job, error] {
	return func(yield func(*Job, error) bool) {
		// The stream first, then the job: a change in between is then on
		// the stream, not lost.
		s, err := c.Events(ctx, teamID)
		if err != nil {
			yield(nil, err)
			return
		}
		defer s.Close()
		job, err := c.Job(ctx, teamID, jobID)
		if err != nil {
			yield(nil, err)
			return
		}
		if !yield(job, nil) || job.Final() {
			return
		}
		for {
			ev, err := s.Next()
			if err != nil {
				yield(nil, err)
				return
			}
			next := job
			switch {
			case ev.Type == EventTypeReset:
				if next, err = c.Job(ctx, teamID, jobID); err != nil {
					yield(nil, err)
					return
				}
			case ev.Type == EventTypeJobUpdated && ev.Job != nil && ev.Job.Id == jobID:
				next = ev.Job
			}
			if !newer(next, job) {
				continue
			}
			job = next
			if !yield(job, nil) || job.Final() {
				return
			}
		}
	}
}

// newer reports whether b is a later state of the job than a.
func newer(b, a *Job) bool {
	if b == a || b.UpdatedAt.Before(a.UpdatedAt) {
		return false
	}
	return b.UpdatedAt.After(a.UpdatedAt) || b.Status != a.Status || b.Progress != a.Progress || b.Attempts != a.Attempts
}
