package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisMarks keeps write positions in Redis, so read-your-writes holds
// whichever API process serves a principal's next read.
type RedisMarks struct {
	Client *redis.Client
}

func markKey(key string) string { return "conveyor:ryw:" + key }

// Get returns the principal's last write position, or 0 when there is none.
func (m RedisMarks) Get(ctx context.Context, key string) (uint64, error) {
	v, err := m.Client.Get(ctx, markKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 10, 64)
}

// raiseScript sets the key to the new position only if it is higher, so
// concurrent writes never move a principal's mark backwards.
var raiseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`)

// Set raises the principal's write position to lsn and renews its TTL.
func (m RedisMarks) Set(ctx context.Context, key string, lsn uint64, ttl time.Duration) error {
	return raiseScript.Run(ctx, m.Client, []string{markKey(key)}, strconv.FormatUint(lsn, 10), ttl.Milliseconds()).Err()
}
