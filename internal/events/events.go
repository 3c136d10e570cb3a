// Package events carries what happens in a team from the event log in
// PostgreSQL to subscribers in any API process.
//
// Each event is logged in the transaction of the change it reports (the
// store does it), with an id ordered within its team. A Relay (in the
// workers) appends logged events to their team's Redis stream (a bounded
// backlog) under those ids and announces each on one pub/sub channel, in
// one script, so the announcement never precedes the backlog entry. Each API
// process runs one Hub: a single subscription to the channel that fans
// events out to the local subscribers of their team, and fills any gap from
// the stream (after a reconnect, or from a client's Last-Event-ID).
//
// The log has two consumers, each with its own cursor per team, so neither
// waits on the other: the Relay (to Redis, as above) and the Notifier
// (PostgreSQL only: no Redis, no asynq), which fans each batch of a team's
// events out, in the transaction that moves its cursor, into the rows the
// senders work from. The fan-outs are registered with the store: webhook
// deliveries are built in, and another, say email, joins the same
// transaction with
//
//	st.RegisterFanout("email", store.FanoutFunc(func(ctx context.Context, q *db.Queries, recs []events.Record) error {
//		// insert outbox rows with q (sqlc queries run in the notify transaction)
//	}))
//
// at wiring time (see store.Fanout for the contract). An event is deleted
// from the log once both consumers have passed it.
package events

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
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

// appendBatch appends a team's events, logged in PostgreSQL, to its
// stream under their own ids, trims the stream, refreshes its expiry and
// announces each "team id payload" on the channel; it returns how many it
// appended. KEYS[1] is the stream; ARGV: the backlog length, the expiry
// in seconds, the channel, the team, then (id, payload) pairs in id order.
//
// Delivery is at least once (a relay that dies before recording what it
// delivered delivers it again), and this is where the repeat stops: an id
// not after the stream's newest is there already and is skipped, so a
// stream holds each event once. The one exception is an id the stream
// does not hold although a newer one is there: an older release appended
// an entry under a Redis-assigned id meanwhile (a rolling upgrade); the
// event then goes in under a new id rather than be lost.
var appendBatch = redis.NewScript(`
local function after(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
  return ams > bms or (ams == bms and aseq > bseq)
end
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local newest = top[1] and top[1][1]
local added = 0
for i = 5, #ARGV, 2 do
  local id, p = ARGV[i], ARGV[i + 1]
  local new = nil
  if not newest or after(id, newest) then
    new = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id, 'e', p)
  elseif #redis.call('XRANGE', KEYS[1], id, id) == 0 then
    new = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', p)
  end
  if new then
    newest = new
    added = added + 1
    redis.call('PUBLISH', ARGV[3], ARGV[4] .. ' ' .. new .. ' ' .. p)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return added
`)

// appendToStream appends recs, all of team, to the team's stream (see
// appendBatch) and returns how many were new there.
func appendToStream(ctx context.Context, rdb redis.Scripter, team uuid.UUID, recs []Record) (int, error) {
	args := make([]any, 0, 4+2*len(recs))
	args = append(args, Backlog, int(BacklogTTL/time.Second), Channel, team.String())
	for _, r := range recs {
		args = append(args, r.ID.String(), string(r.Payload))
	}
	return appendBatch.Run(ctx, rdb, []string{streamKey(team)}, args...).Int()
}

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
