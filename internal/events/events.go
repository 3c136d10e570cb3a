// Package events publishes what happens in a team through Redis and serves
// it to subscribers in any API process.
//
// Each event is appended to its team's Redis stream (a bounded backlog that
// gives every event an ordered id) and announced on one pub/sub channel, in
// one script, so the announcement never precedes the backlog entry. Each API
// process runs one Hub: a single subscription to the channel that fans
// events out to the local subscribers of their team, and fills any gap from
// the stream (after a reconnect, or from a client's Last-Event-ID).
package events

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/breaker"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// Channel is the pub/sub channel announcing every event.
const Channel = "conveyor:events"

// Backlog bounds each team's stream: about this many recent events,
// kept for BacklogTTL after the last one.
const (
	Backlog    = 1000
	BacklogTTL = 24 * time.Hour
)

func streamKey(team uuid.UUID) string { return "conveyor:events:" + team.String() }

// publish appends the event to the team's stream, trims it, refreshes its
// expiry and announces "team id payload" on the channel; it returns the id.
//
// A job's snapshots come from several processes (the API, workers), each
// publishing after its own commit, so they may arrive out of order: with
// KEYS[2] (the job's version key) and ARGV[6] (the snapshot's version, its
// updated_at in microseconds), a snapshot older than one already published
// is dropped, and the script returns false.
var publish = redis.NewScript(`
if KEYS[2] then
  local cur = redis.call('GET', KEYS[2])
  if cur and tonumber(cur) > tonumber(ARGV[6]) then return false end
  redis.call('SET', KEYS[2], ARGV[6], 'EX', 3600)
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. id .. ' ' .. ARGV[2])
return id
`)

// Publisher publishes events. Publishing is best effort: a client that
// misses an event (Redis down) re-reads the resource, which is the truth.
type Publisher struct {
	Redis  *redis.Client
	Logger *slog.Logger
}

// Publish publishes e and returns its id, or the error (also logged).
func (p *Publisher) Publish(ctx context.Context, e domain.Event) (string, error) {
	b, err := encode(e)
	if err != nil {
		return "", err
	}
	// Publishing outlives a cancelled request: the change it reports is made.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	keys := []string{streamKey(e.TeamID)}
	args := []any{Backlog, string(b), int(BacklogTTL / time.Second), Channel, e.TeamID.String()}
	if e.Job != nil {
		keys = append(keys, "conveyor:events:jobversion:"+e.Job.ID.String())
		args = append(args, e.Job.UpdatedAt.UnixMicro())
	}
	id, err := publish.Run(ctx, p.Redis, keys, args...).Text()
	if errors.Is(err, redis.Nil) {
		return "", nil // a newer snapshot of the job went out already
	}
	if err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, breaker.ErrUnavailable) {
			lvl = slog.LevelDebug // the breaker logs the outage, not once per event
		}
		p.Logger.Log(ctx, lvl, "events: publish failed; clients re-read on reconnect", "type", e.Type, "team", e.TeamID, "err", err)
		return "", err
	}
	return id, nil
}

// Notify publishes e, logging a failure: for services, whose change is
// made whether or not the event goes out.
func (p *Publisher) Notify(ctx context.Context, e domain.Event) { _, _ = p.Publish(ctx, e) }

// ID is a stream entry id: milliseconds and a sequence number.
type ID struct{ MS, Seq uint64 }

// ParseID parses "ms-seq".
func ParseID(s string) (ID, bool) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return ID{}, false
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return ID{}, false
	}
	return ID{a, b}, true
}

// Less orders ids.
func (a ID) Less(b ID) bool { return a.MS < b.MS || a.MS == b.MS && a.Seq < b.Seq }

func (a ID) String() string {
	return strconv.FormatUint(a.MS, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}
