package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
)

// EventHub subscribes to a team's events.
type EventHub interface {
	Subscribe(ctx context.Context, team uuid.UUID, lastID string) (*events.Subscription, error)
}

func eventOut(e domain.Event) api.Event {
	out := api.Event{Id: e.ID, Type: api.EventType(e.Type), TeamId: e.TeamID, OccurredAt: e.OccurredAt}
	if e.Job != nil {
		j := jobOut(*e.Job)
		out.Job = &j
	}
	if e.File != nil {
		f := fileOut(*e.File)
		out.File = &f
	}
	if e.Member != nil {
		m := memberOut(*e.Member)
		out.Member = &m
	}
	if e.APIKey != nil {
		k := apiKeyOut(*e.APIKey)
		out.ApiKey = &k
	}
	return out
}

// StreamTeamEvents implements api.StrictServerInterface. The subscription
// is made here, so a failure is a problem document; the stream is written
// by the response.
func (s *Server) StreamTeamEvents(ctx context.Context, req api.StreamTeamEventsRequestObject) (api.StreamTeamEventsResponseObject, error) {
	last := ""
	if req.Params.LastEventID != nil {
		last = *req.Params.LastEventID
	}
	sub, err := s.deps.Events.Subscribe(ctx, req.TeamId, last)
	if err != nil {
		return nil, err
	}
	return eventStream{sub: sub, ctx: ctx, heartbeat: s.deps.EventHeartbeat}, nil
}

// eventStream writes a subscription as Server-Sent Events until the client
// goes, the subscription ends (the server is stopping, or the client fell
// too far behind), flushing each event; a comment every heartbeat keeps
// proxies from closing an idle stream.
type eventStream struct {
	sub       *events.Subscription
	ctx       context.Context
	heartbeat time.Duration
}

func (e eventStream) VisitStreamTeamEventsResponse(w http.ResponseWriter) error {
	defer e.sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	every := e.heartbeat
	if every <= 0 {
		every = 15 * time.Second
	}
	var buf bytes.Buffer
	buf.WriteString("retry: 2000\n: stream open\n\n")
	write := func() error {
		// Each write has its own deadline: a client that stops reading
		// frees the handler (and lets shutdown finish) instead of
		// blocking it for ever.
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		buf.Reset()
		return rc.Flush()
	}
	if err := write(); err != nil {
		return nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return nil
		case <-e.sub.Done():
			// Drain what was queued before the end, then let the client
			// reconnect (with Last-Event-ID) to another replica.
			for {
				select {
				case ev := <-e.sub.Events():
					writeEvent(&buf, ev)
				default:
					_ = write()
					return nil
				}
			}
		case ev := <-e.sub.Events():
			writeEvent(&buf, ev)
			// Coalesce a burst into one write.
			for more := true; more && buf.Len() < 32<<10; {
				select {
				case ev := <-e.sub.Events():
					writeEvent(&buf, ev)
				default:
					more = false
				}
			}
			if err := write(); err != nil {
				return nil
			}
		case <-tick.C:
			buf.WriteString(": heartbeat\n\n")
			if err := write(); err != nil {
				return nil
			}
		}
	}
}

// writeTimeout bounds one write of the stream.
const writeTimeout = 10 * time.Second

func writeEvent(buf *bytes.Buffer, ev domain.Event) {
	b, err := json.Marshal(eventOut(ev))
	if err != nil {
		return
	}
	buf.WriteString("id: ")
	buf.WriteString(ev.ID)
	buf.WriteString("\nevent: ")
	buf.WriteString(string(ev.Type))
	buf.WriteString("\ndata: ")
	buf.Write(b) // JSON has no raw newlines
	buf.WriteString("\n\n")
}
