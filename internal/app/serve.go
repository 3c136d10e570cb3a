package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/console"
	"github.com/conveyorhq/conveyor/gen/docs"
	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/devoidc"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/events"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/httpapi"
	"github.com/conveyorhq/conveyor/internal/idempotency"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/platform"
	"github.com/conveyorhq/conveyor/internal/queue"
	"github.com/conveyorhq/conveyor/internal/ratelimit"
	"github.com/conveyorhq/conveyor/internal/store"
	"github.com/conveyorhq/conveyor/internal/teams"
	"github.com/conveyorhq/conveyor/internal/users"
	"github.com/conveyorhq/conveyor/openapi"
)

func runServe(ctx context.Context, _ []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(getenv, config.NeedDatabase|config.NeedRedis|config.NeedS3|config.NeedIdentity)
	if err != nil {
		return err
	}
	log := observe.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	stopTracing, err := startTracing(ctx, getenv, "conveyor-serve", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	return serve(ctx, cfg, ln, log, stdout)
}

// serve runs the API on ln until ctx is done, then drains it.
func serve(ctx context.Context, cfg *config.Config, ln net.Listener, log *slog.Logger, stdout io.Writer) error {
	defer ln.Close()
	if err := checkIdentity(cfg); err != nil {
		return err
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()

	var devIssuer *auth.DevIssuer
	issuer := cfg.OIDCIssuer
	if cfg.Dev {
		devIssuer, err = auth.LoadDevIssuer(auth.DevKeyFile(cfg.RunDir), devIssuerURL(publicURL), cfg.OIDCAudience)
		if err != nil {
			return err
		}
		if issuer == "" {
			issuer = devIssuer.Issuer()
		}
	}
	ckey, err := cursorKey(cfg)
	if err != nil {
		return err
	}
	metrics := observe.NewMetrics()
	metrics.Registry.MustRegister(d.store)
	// The role table the API description declares, once: the services
	// check each call against it (the HTTP layer checks early too).
	roles, err := authz.FromYAML(openapi.V1YAML)
	if err != nil {
		return err
	}
	authorizer := &auth.Authorizer{Memberships: d.store, Teams: d.store}
	policy := authz.New(roles, authorizer)
	// Who is disabled, in memory: read now and every few seconds, and
	// changed at once through the hub's control channel.
	gate := &users.Gate{Store: d.store, Logger: log}
	gctx, gcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := gate.Reload(gctx); err != nil {
		log.Warn("users: could not read the disabled users at start; retrying in the background", "err", err)
	}
	gcancel()
	control := &events.Control{Redis: d.redis, Logger: log}
	hub := &events.Hub{Redis: d.redis, Logger: log, Policy: policy,
		Hooks: events.ControlHooks{UserChanged: gate.Apply, Resync: gate.Reload, Disabled: gate.Disabled,
			TeamLive: func(ctx context.Context, id uuid.UUID) (bool, error) {
				_, err := d.store.Team(ctx, id)
				if domain.IsNotFound(err) {
					return false, nil
				}
				return err == nil, err
			}}}
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	go hub.Run(hubCtx)
	go gate.Run(hubCtx)
	queueClient := queue.NewClient(d.redisOpt, d.processors)
	queueClient.MaxRetry = cfg.JobMaxRetries
	defer queueClient.Close()
	consoleFiles, err := fs.Sub(console.FS, "dist")
	if err != nil {
		return err
	}
	consoleConfig := httpapi.ConsoleConfig{Authority: issuer, ClientID: cfg.ConsoleClient(), Scope: cfg.ConsoleScopes,
		Storage: storageOrigin(ctx, d.blobs.PresignGet, log)}
	admitter := &queue.Admitter{Client: queueClient, Store: d.store, DefaultCap: int(cfg.TeamMaxRunningJobs), Ahead: cfg.DispatchAhead, Wakes: d.redis, Logger: log}
	jobsService := &jobs.Service{Policy: policy, Store: d.store, Processors: d.processors, Queue: admitter, Blobs: d.blobs,
		Logger: log, NotRunnable: store.ErrJobNotRunnable}
	queueStatus := queue.NewStatus(d.redisOpt)
	defer queueStatus.Close()
	seen := &users.Seen{Store: d.store} // last-seen times, at most a write a minute per user
	defer seen.Wait()                   // before the pools close
	// API keys' last use: noted in memory, written in batches.
	keyUse := auth.NewKeyUse(d.store, auth.KeyUseOptions{Logger: log})
	defer keyUse.Close() // before the pools close
	deps := httpapi.Deps{
		Teams: &teams.Service{Store: d.store, Policy: policy, Jobs: jobsService, Streams: control, Defaults: quotaDefaults(cfg)},
		Users: &users.Service{Store: d.store, Policy: policy, Gate: gate, Announcer: control},
		Platform: &platform.Service{Policy: policy, Database: d.store, S3: d.blobs.Ready, Queues: queueStatus, Backlog: d.store.DispatchBacklog,
			Redis: func(ctx context.Context) error { return d.redis.Ping(ctx).Err() }, Logger: log},
		Files: &files.Service{Policy: policy, Store: d.store, Blobs: d.blobs, Quotas: d.store, Aborts: d.store, Defaults: quotaDefaults(cfg),
			MaxBytes: cfg.MaxUploadBytes, UploadTTL: cfg.UploadTTL,
			Logger: log},
		Jobs:       jobsService,
		Processors: d.processors,
		// A disabled user is refused before being counted as seen.
		Authenticator: seen.Wrap(gate.Wrap(auth.NewVerifier(context.WithoutCancel(ctx), auth.VerifierOptions{
			Issuer: issuer, Audience: cfg.OIDCAudience, AdminRole: cfg.OIDCAdminRole, RolesClaim: cfg.OIDCRolesClaim,
		}, d.store))),
		APIKeys:    &auth.APIKeyAuthenticator{Keys: d.store, Uses: keyUse},
		Authorizer: authorizer,
		ReadyChecks: []httpapi.Check{
			{Name: "database", Fn: d.store.Ready},
			{Name: "redis", Fn: func(ctx context.Context) error { return d.redis.Ping(ctx).Err() }},
			{Name: "s3", Fn: d.blobs.Ready},
		},
		Metrics:        metrics,
		Logger:         log,
		Docs:           docs.FS,
		Console:        consoleFiles,
		ConsoleConfig:  consoleConfig,
		MaxUploadBytes: cfg.MaxUploadBytes,
		CursorKey:      ckey,
		Idempotency:    &idempotency.Service{Store: d.store, Background: ctx},
		Limiter:        ratelimit.New(d.redis, "conveyor:rl:"),
		RateLimits:     cfg.RateLimits,
		Events:         hub,
		EventHeartbeat: cfg.EventHeartbeat,
	}
	deps.AuthFailureLimit, deps.TrustedProxies = cfg.AuthFailureLimit, cfg.TrustedProxies
	if devIssuer != nil {
		provider, err := devoidc.New(devoidc.Options{Issuer: devIssuer, PublicURL: publicURL, ClientID: cfg.ConsoleClient(),
			AdminRole: cfg.OIDCAdminRole, RolesClaim: cfg.OIDCRolesClaim, ExtraScopes: strings.Fields(cfg.ConsoleScopes)})
		if err != nil {
			return err
		}
		deps.DevIssuer = provider
	}
	h, err := httpapi.NewHandler(deps)
	if err != nil {
		return err
	}
	internal, err := startInternal(cfg.InternalAddr, metrics)
	if err != nil {
		return err
	}
	defer internal.stop()
	srv := &http.Server{
		Handler:           observe.TraceHTTP(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    httpapi.ServerMaxHeaderBytes, // httpapi answers past httpapi.MaxHeaderBytes with a problem
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Event streams never go idle: end them when shutdown begins, so the
	// drain can finish; clients reconnect elsewhere with Last-Event-ID.
	srv.RegisterOnShutdown(hub.Close)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "url", publicURL, "docs", publicURL+"/docs/", "dev", cfg.Dev)
	fmt.Fprintf(stdout, "listening on %s\n", publicURL)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case err := <-internal.errc:
		_ = srv.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	log.Info("shutting down: draining requests", "timeout", cfg.ShutdownTimeout)
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// The drain ran out of time (a long upload, say): close what is
		// left. A stop on schedule is not a failure of the process.
		log.Warn("shutdown: drain timed out; closing the remaining connections", "err", err)
		_ = srv.Close()
	}
	return nil
}
