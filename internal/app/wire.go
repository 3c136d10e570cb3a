package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/blob"
	"github.com/conveyorhq/conveyor/internal/config"
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
	d.redis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, Password: cfg.RedisPassword, DB: cfg.RedisDB})
	var err error
	d.store, err = store.Open(ctx, store.Options{
		PrimaryURL: cfg.DatabaseURL, ReplicaURLs: cfg.ReplicaURLs,
		PrimaryMaxConns: cfg.PrimaryMaxConns, ReplicaMaxConns: cfg.ReplicaMaxConns,
		MaxLagBytes: cfg.MaxReplicaLagBytes, MaxLagTime: cfg.MaxReplicaLag,
		ReadYourWritesTTL: cfg.ReadYourWritesTTL, Marks: store.RedisMarks{Client: d.redis}, Logger: log,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	d.blobs, err = blob.Open(ctx, blob.Options{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, PathStyle: cfg.S3PathStyle})
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
