// Package config parses Conveyor's configuration from the environment into
// one typed, validated struct. Nothing below cmd/ and this package reads the
// environment.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

// Config is the whole configuration. Each field names its variable; Settings
// defines them (default, meaning, parsing).
type Config struct {
	HTTPAddr        string        // CONVEYOR_HTTP_ADDR
	WorkerAddr      string        // CONVEYOR_WORKER_ADDR
	InternalAddr    string        // CONVEYOR_INTERNAL_ADDR
	PublicURL       string        // CONVEYOR_PUBLIC_URL; empty: derived from the listening address
	Dev             bool          // CONVEYOR_DEV
	RunDir          string        // CONVEYOR_RUN_DIR
	ShutdownTimeout time.Duration // CONVEYOR_SHUTDOWN_TIMEOUT
	LogLevel        string        // CONVEYOR_LOG_LEVEL
	LogFormat       string        // CONVEYOR_LOG_FORMAT

	DatabaseURL        string        // CONVEYOR_DATABASE_URL
	ReplicaURLs        []string      // CONVEYOR_DATABASE_REPLICA_URLS
	MigrateURL         string        // CONVEYOR_DATABASE_MIGRATE_URL
	PrimaryMaxConns    int32         // CONVEYOR_DB_PRIMARY_MAX_CONNS
	ReplicaMaxConns    int32         // CONVEYOR_DB_REPLICA_MAX_CONNS
	MaxReplicaLagBytes int64         // CONVEYOR_DB_MAX_LAG_BYTES
	MaxReplicaLag      time.Duration // CONVEYOR_DB_MAX_LAG
	ReadYourWritesTTL  time.Duration // CONVEYOR_DB_READ_YOUR_WRITES_TTL

	RedisAddr     string // CONVEYOR_REDIS_ADDR
	RedisPassword string // CONVEYOR_REDIS_PASSWORD
	RedisDB       int    // CONVEYOR_REDIS_DB

	S3Endpoint  string // CONVEYOR_S3_ENDPOINT
	S3Region    string // CONVEYOR_S3_REGION
	S3Bucket    string // CONVEYOR_S3_BUCKET
	S3AccessKey string // CONVEYOR_S3_ACCESS_KEY_ID
	S3SecretKey string // CONVEYOR_S3_SECRET_ACCESS_KEY
	S3PathStyle bool   // CONVEYOR_S3_PATH_STYLE

	WebhookAllowCIDRs []netip.Prefix // CONVEYOR_WEBHOOK_ALLOW_CIDRS

	SMTPHost     string // CONVEYOR_SMTP_HOST; empty: email off
	SMTPPort     int    // CONVEYOR_SMTP_PORT
	SMTPUsername string // CONVEYOR_SMTP_USERNAME
	SMTPPassword string // CONVEYOR_SMTP_PASSWORD
	SMTPFrom     string // CONVEYOR_SMTP_FROM
	SMTPTLS      string // CONVEYOR_SMTP_TLS: starttls, tls or none

	OIDCIssuer     string // CONVEYOR_OIDC_ISSUER
	OIDCAudience   string // CONVEYOR_OIDC_AUDIENCE
	OIDCAdminRole  string // CONVEYOR_OIDC_ADMIN_ROLE
	OIDCRolesClaim string // CONVEYOR_OIDC_ROLES_CLAIM

	ConsoleClientID string // CONVEYOR_CONSOLE_CLIENT_ID; see ConsoleClient
	ConsoleScopes   string // CONVEYOR_CONSOLE_SCOPES

	CursorSecret      string        // CONVEYOR_CURSOR_SECRET
	UploadTTL         time.Duration // CONVEYOR_UPLOAD_TTL
	JanitorInterval   time.Duration // CONVEYOR_JANITOR_INTERVAL
	RedispatchAfter   time.Duration // CONVEYOR_REDISPATCH_AFTER
	EventHeartbeat    time.Duration // CONVEYOR_EVENT_HEARTBEAT
	OrphanGrace       time.Duration // CONVEYOR_ORPHAN_GRACE
	MaxUploadBytes    int64         // CONVEYOR_MAX_UPLOAD_BYTES
	WorkerConcurrency int           // CONVEYOR_WORKER_CONCURRENCY

	// Default quotas of a team that has none of its own (teams' NULL columns).
	TeamMaxStoredBytes int64 // CONVEYOR_TEAM_MAX_STORED_BYTES
	TeamMaxFileBytes   int64 // CONVEYOR_TEAM_MAX_FILE_BYTES
	TeamMaxRunningJobs int32 // CONVEYOR_TEAM_MAX_RUNNING_JOBS
	DispatchAhead      int   // CONVEYOR_DISPATCH_AHEAD
	JobMaxRetries      int   // CONVEYOR_JOB_MAX_RETRIES
	// UsageReconcileInterval is how often the worker recounts usage.
	UsageReconcileInterval time.Duration // CONVEYOR_USAGE_RECONCILE_INTERVAL

	// RateLimits per class of operation (read, write, upload); a nil entry
	// means no limit for that class.
	RateLimits map[string]*ratelimit.Limit // CONVEYOR_RATE_LIMIT_READ, _WRITE, _UPLOAD

	// AuthFailureLimit is each client address's budget of failed
	// authentications, shared by every API process; nil: no budget.
	AuthFailureLimit *ratelimit.Limit // CONVEYOR_RATE_LIMIT_AUTH_FAILURES
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// deriving a client's address; empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix // CONVEYOR_TRUSTED_PROXIES
}

// DevConsoleClientID is the console's client id in dev mode, where the dev
// OpenID provider registers it.
const DevConsoleClientID = "conveyor-console"

// DefaultConsoleScopes are the scopes the console asks for unless
// CONVEYOR_CONSOLE_SCOPES says otherwise (offline_access: a refresh token,
// for silent renewal).
const DefaultConsoleScopes = "openid profile email offline_access"

// ConsoleClient returns the console's client id: the configured one, else
// DevConsoleClientID in dev mode, else "" (sign-in not configured).
func (c *Config) ConsoleClient() string {
	if c.ConsoleClientID == "" && c.Dev {
		return DevConsoleClientID
	}
	return c.ConsoleClientID
}

// Var describes one environment variable as documented: its name, its
// default (a literal in backticks, or a description) and its meaning.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable, with its default and meaning, from Settings.
func Vars() []Var {
	out := make([]Var, 0, len(Settings))
	for _, s := range Settings {
		def := s.Shown
		if def == "" && s.Default != "" {
			def = "`" + s.Default + "`"
		}
		out = append(out, Var{Name: s.Name, Default: def, Help: s.Help})
	}
	return out
}

// Parse reads the configuration through getenv and checks each value; an
// error names every variable that is wrong and why.
func Parse(getenv func(string) string) (*Config, error) {
	c := &Config{RateLimits: map[string]*ratelimit.Limit{}}
	var errs []error
	for _, s := range Settings {
		v := strings.TrimSpace(getenv(s.Name))
		if v == "" {
			v = s.Default
		}
		if v == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
		}
	}
	if strings.TrimSpace(getenv("CONVEYOR_S3_PATH_STYLE")) == "" {
		c.S3PathStyle = c.S3Endpoint != ""
	}
	if c.MigrateURL == "" {
		c.MigrateURL = c.DatabaseURL
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Service names what a command needs, for Validate.
type Service int

// The services Validate can check for.
const (
	NeedDatabase Service = 1 << iota
	NeedRedis
	NeedS3
	NeedIdentity
)

// Validate checks that the configuration has what the command needs and that
// its fields agree with each other.
func (c *Config) Validate(need Service) error {
	var errs []error
	if need&NeedDatabase != 0 && c.DatabaseURL == "" {
		errs = append(errs, errors.New("CONVEYOR_DATABASE_URL is required"))
	}
	if need&NeedRedis != 0 && c.RedisAddr == "" {
		errs = append(errs, errors.New("CONVEYOR_REDIS_ADDR is required"))
	}
	if need&NeedS3 != 0 && c.S3Bucket == "" {
		errs = append(errs, errors.New("CONVEYOR_S3_BUCKET is required"))
	}
	if need&NeedIdentity != 0 && !c.Dev && c.OIDCIssuer == "" {
		errs = append(errs, errors.New("CONVEYOR_OIDC_ISSUER is required outside dev mode"))
	}
	if need&NeedIdentity != 0 && !c.Dev && len(c.CursorSecret) < 32 {
		errs = append(errs, errors.New("CONVEYOR_CURSOR_SECRET of at least 32 characters is required outside dev mode"))
	}
	if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
		errs = append(errs, errors.New("CONVEYOR_S3_ACCESS_KEY_ID and CONVEYOR_S3_SECRET_ACCESS_KEY go together"))
	}
	if c.OIDCIssuer != "" {
		if u, err := url.Parse(c.OIDCIssuer); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("CONVEYOR_OIDC_ISSUER %q is not an absolute URL", c.OIDCIssuer))
		}
	}
	if c.PrimaryMaxConns < 1 || c.ReplicaMaxConns < 1 {
		errs = append(errs, errors.New("pool sizes must be at least 1"))
	}
	if c.MaxUploadBytes < 1 {
		errs = append(errs, errors.New("CONVEYOR_MAX_UPLOAD_BYTES must be positive"))
	}
	if c.WorkerConcurrency < 1 {
		errs = append(errs, errors.New("CONVEYOR_WORKER_CONCURRENCY must be at least 1"))
	}
	if !slices.Contains(strings.Fields(c.ConsoleScopes), "openid") {
		errs = append(errs, fmt.Errorf("CONVEYOR_CONSOLE_SCOPES %q: must include openid", c.ConsoleScopes))
	}
	if strings.ContainsFunc(c.ConsoleClientID, func(r rune) bool { return r <= ' ' || r > '~' }) {
		errs = append(errs, fmt.Errorf("CONVEYOR_CONSOLE_CLIENT_ID %q: want printable ASCII without spaces", c.ConsoleClientID))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("CONVEYOR_LOG_FORMAT %q: want text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}
