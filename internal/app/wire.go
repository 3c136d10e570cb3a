package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/blob"
	"github.com/conveyorhq/conveyor/internal/breaker"
	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/processors"
	"github.com/conveyorhq/conveyor/internal/store"
)

// deps are the connections serve and worker share.
type deps struct {
	store      *store.Store
	redis      *redis.Client
	redisOpt   asynq.RedisClientOpt
	blobs      *blob.Store
	processors *processors.Registry
	// relay, in a worker, is woken at once by the worker's own commits
	// that log events; elsewhere (the API) they wake the relays over
	// Redis.
	relay *events.Relay
	// notifier, in a worker, is the log's notify consumer, woken the same
	// way.
	notifier *events.Notifier
	// deliveriesDue, in a worker, wakes its webhook sender.
	deliveriesDue func()
}

// eventsLogged wakes an events relay after a commit that logged events;
// best effort: a relay looks within its interval anyway.
func (d *deps) eventsLogged(ctx context.Context) {
	if d.relay != nil {
		d.relay.Wake()
		if d.notifier != nil {
			d.notifier.Wake()
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	_ = d.redis.Publish(ctx, events.WakeChannel, "").Err()
}

func (d *deps) close() {
	if d.store != nil {
		d.store.Close()
	}
	if d.redis != nil {
		_ = d.redis.Close()
	}
}

func openDeps(ctx context.Context, cfg *config.Config, log *slog.Logger) (*deps, error) {
	d := &deps{}
	d.redisOpt = asynq.RedisClientOpt{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB}
	// This client is on the request path (read positions, rate limits):
	// short timeouts, so an unreachable Redis costs a read a fraction of a
	// second (it then goes to the primary) rather than go-redis' 5 s.
	d.redis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB,
		DialTimeout: time.Second, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		PoolTimeout: time.Second,
		// One retry (a pooled connection Redis dropped gets a fresh one);
		// go-redis' defaults (3 retries, 5 dials each) made a command
		// with Redis stopped take 1.7 s.
		MaxRetries: 1, DialerRetries: 1})
	// While Redis is down, its users on the request path (rate limits,
	// read-your-writes marks, events) fail at once rather than each pay
	// a connection attempt per request, and the outage is logged a few
	// times, not once per request.
	d.redis.AddHook(breaker.New(breaker.Options{Logger: log}))
	// With tracing on, a span per statement, command and S3 operation
	// (Redis: no arguments recorded, keys name principals); off, the
	// clients run with no instrumentation at all.
	trace := observe.TracingOn()
	if trace {
		if err := redisotel.InstrumentTracing(d.redis, redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
			d.close()
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	var err error
	d.store, err = store.Open(ctx, store.Options{
		PrimaryURL: cfg.DatabaseURL, ReplicaURLs: cfg.ReplicaURLs,
		PrimaryMaxConns: cfg.PrimaryMaxConns, ReplicaMaxConns: cfg.ReplicaMaxConns,
		MaxLagBytes: cfg.MaxReplicaLagBytes, MaxLagTime: cfg.MaxReplicaLag,
		ReadYourWritesTTL: cfg.ReadYourWritesTTL, Marks: store.RedisMarks{Client: d.redis},
		EventsLogged: d.eventsLogged,
		Logger:       observe.Throttle(log, 10*time.Second), // it warns per request while a dependency is down
		Trace:        trace,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	d.blobs, err = blob.Open(ctx, blob.Options{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, PathStyle: cfg.S3PathStyle, Trace: trace})
	if err != nil {
		d.close()
		return nil, err
	}
	d.processors, err = processors.Default()
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// devIssuerURL is where the dev issuer lives for an API at publicURL.
func devIssuerURL(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + auth.DevIssuerPath
}

// checkIdentity refuses a dev issuer outside dev mode.
func checkIdentity(cfg *config.Config) error {
	if !cfg.Dev && strings.HasSuffix(cfg.OIDCIssuer, auth.DevIssuerPath) {
		return errors.New("the dev issuer is refused outside dev mode: set CONVEYOR_OIDC_ISSUER to your identity provider")
	}
	return nil
}

func parseConfig(getenv func(string) string, need config.Service) (*config.Config, error) {
	cfg, err := config.Parse(getenv)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(need); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// cursorKey is the key that signs pagination cursors: the configured
// secret, or in dev mode a random one kept under the run folder (so every
// local API process agrees).
func cursorKey(cfg *config.Config) ([]byte, error) {
	if cfg.CursorSecret != "" {
		return []byte(cfg.CursorSecret), nil
	}
	if !cfg.Dev {
		return nil, errors.New("CONVEYOR_CURSOR_SECRET is required outside dev mode")
	}
	path := filepath.Join(cfg.RunDir, "cursor-secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(b[:]))
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(cfg.RunDir, "cursor-secret-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link, not rename: when two processes race, the first key wins and
	// both use it.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	return os.ReadFile(path)
}

// quotaDefaults are the limits of a team that has none of its own.
func quotaDefaults(cfg *config.Config) domain.QuotaDefaults {
	return domain.QuotaDefaults{MaxStoredBytes: cfg.TeamMaxStoredBytes, MaxFileBytes: cfg.TeamMaxFileBytes,
		MaxRunningJobs: cfg.TeamMaxRunningJobs}
}
