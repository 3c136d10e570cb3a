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
	"strconv"
	"strings"
	"time"

	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

// Config is the whole configuration. Var documents every field's variable.
type Config struct {
	HTTPAddr        string        // CONVEYOR_HTTP_ADDR
	WorkerAddr      string        // CONVEYOR_WORKER_ADDR
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
	JobMaxRetries     int           // CONVEYOR_JOB_MAX_RETRIES

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

// Var describes one environment variable.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable, with its default and meaning; the README's
// table is written from it.
var Vars = []Var{
	{"CONVEYOR_HTTP_ADDR", "127.0.0.1:8080", "Address the API listens on."},
	{"CONVEYOR_WORKER_ADDR", "127.0.0.1:9091", "Address the worker serves /healthz, /readyz and /metrics on."},
	{"CONVEYOR_PUBLIC_URL", "", "The URL clients reach the API at (issuer of dev tokens, links). Empty: http:// plus the listening address."},
	{"CONVEYOR_DEV", "false", "Dev mode: hosts the built-in OIDC issuer (refused otherwise). Set by `conveyor dev`."},
	{"CONVEYOR_RUN_DIR", ".run", "Folder for local state: the dev stack's data and the dev issuer's key."},
	{"CONVEYOR_SHUTDOWN_TIMEOUT", "20s", "How long serve and worker wait for in-flight work on SIGTERM."},
	{"CONVEYOR_LOG_LEVEL", "info", "debug, info, warn or error."},
	{"CONVEYOR_LOG_FORMAT", "text", "text or json."},
	{"CONVEYOR_DATABASE_URL", "", "PostgreSQL primary (through PgBouncer). Required for serve, worker and migrate."},
	{"CONVEYOR_DATABASE_REPLICA_URLS", "", "Comma-separated PostgreSQL replica URLs (through PgBouncer). Empty: reads go to the primary."},
	{"CONVEYOR_DATABASE_MIGRATE_URL", "", "Direct URL to the primary for migrations (PgBouncer's transaction mode does not suit them). Empty: CONVEYOR_DATABASE_URL."},
	{"CONVEYOR_DB_PRIMARY_MAX_CONNS", "20", "Pool size for the primary, per process."},
	{"CONVEYOR_DB_REPLICA_MAX_CONNS", "20", "Pool size for each replica, per process."},
	{"CONVEYOR_DB_MAX_LAG_BYTES", "16777216", "A replica further behind the primary than this many WAL bytes takes no reads."},
	{"CONVEYOR_DB_MAX_LAG", "10s", "A replica whose replay is older than this while behind takes no reads."},
	{"CONVEYOR_DB_READ_YOUR_WRITES_TTL", "5m", "How long a principal's last write position is remembered (in Redis)."},
	{"CONVEYOR_REDIS_ADDR", "", "Redis host:port (queue, events, read-your-writes marks). Required."},
	{"CONVEYOR_REDIS_PASSWORD", "", "Redis password."},
	{"CONVEYOR_REDIS_DB", "0", "Redis database number."},
	{"CONVEYOR_S3_ENDPOINT", "", "S3 endpoint URL for S3-compatible stores. Empty: AWS."},
	{"CONVEYOR_S3_REGION", "us-east-1", "S3 region."},
	{"CONVEYOR_S3_BUCKET", "", "Bucket for files and job outputs. Required."},
	{"CONVEYOR_S3_ACCESS_KEY_ID", "", "S3 access key. Empty: the AWS default credential chain."},
	{"CONVEYOR_S3_SECRET_ACCESS_KEY", "", "S3 secret key."},
	{"CONVEYOR_S3_PATH_STYLE", "true when an endpoint is set", "Path-style bucket addressing."},
	{"CONVEYOR_OIDC_ISSUER", "the dev issuer in dev mode", "OIDC issuer URL (e.g. https://login.microsoftonline.com/<tenant>/v2.0). Required outside dev mode."},
	{"CONVEYOR_OIDC_AUDIENCE", "api://conveyor", "The audience (aud) access tokens must carry: the API's application ID URI or client id."},
	{"CONVEYOR_OIDC_ADMIN_ROLE", "Conveyor.Admin", "The value in the roles claim that makes a caller a platform admin."},
	{"CONVEYOR_OIDC_ROLES_CLAIM", "roles", "The claim holding app roles."},
	{"CONVEYOR_CONSOLE_CLIENT_ID", "`conveyor-console` in dev mode", "The console's OIDC client id (its app registration). Empty outside dev mode: the console says sign-in is not configured."},
	{"CONVEYOR_CONSOLE_SCOPES", DefaultConsoleScopes, "Space-separated scopes the console asks for; in production add the API's scope, e.g. `api://conveyor/access_as_user`."},
	{"CONVEYOR_CURSOR_SECRET", "a random one kept under the run folder in dev mode", "Key that signs pagination cursors (at least 32 characters; the same on every API process). Required outside dev mode."},
	{"CONVEYOR_MAX_UPLOAD_BYTES", "5368709120", "The largest upload streamed through the API."},
	{"CONVEYOR_UPLOAD_TTL", "6h", "How long a direct-to-S3 upload's URLs work and it may be completed; then it is aborted."},
	{"CONVEYOR_JANITOR_INTERVAL", "1m", "How often the worker removes deleted files' objects, aborts expired uploads and sweeps orphan objects."},
	{"CONVEYOR_REDISPATCH_AFTER", "5m", "A job queued this long, or running with no heartbeat for this long, is dispatched again: its task may be lost."},
	{"CONVEYOR_EVENT_HEARTBEAT", "15s", "How often an idle event stream (GET /teams/{team_id}/events) sends a comment, so proxies keep it open."},
	{"CONVEYOR_ORPHAN_GRACE", "1h", "How old an object no row refers to must be before the janitor removes it."},
	{"CONVEYOR_WORKER_CONCURRENCY", "10", "Jobs a worker runs at once."},
	{"CONVEYOR_JOB_MAX_RETRIES", "8", "Retries of a job attempt that failed with a retryable error (exponential backoff with jitter, 1 s to 5 min), before the job fails with that error."},
	{"CONVEYOR_RATE_LIMIT_READ", "50/s burst 100", "Per principal (user or API key) for reads: COUNT/s, /m or /h, optional `burst N`, or `off`."},
	{"CONVEYOR_RATE_LIMIT_WRITE", "10/s burst 30", "Per principal for creating, changing and deleting."},
	{"CONVEYOR_RATE_LIMIT_UPLOAD", "2/s burst 10", "Per principal for uploads."},
	{"CONVEYOR_RATE_LIMIT_AUTH_FAILURES", "20/m", "Per client address (all API processes together), failed authentications before the rest are answered 429 with Retry-After; valid credentials always pass. Same syntax, or `off`."},
	{"CONVEYOR_TRUSTED_PROXIES", "", "Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For names the client. Empty: the TCP peer is the client."},
}

// Parse reads the configuration through getenv and validates it.
func Parse(getenv func(string) string) (*Config, error) {
	p := parser{getenv: getenv}
	c := &Config{
		HTTPAddr:        p.str("CONVEYOR_HTTP_ADDR", "127.0.0.1:8080"),
		WorkerAddr:      p.str("CONVEYOR_WORKER_ADDR", "127.0.0.1:9091"),
		PublicURL:       strings.TrimRight(p.str("CONVEYOR_PUBLIC_URL", ""), "/"),
		Dev:             p.boolean("CONVEYOR_DEV", false),
		RunDir:          p.str("CONVEYOR_RUN_DIR", ".run"),
		ShutdownTimeout: p.duration("CONVEYOR_SHUTDOWN_TIMEOUT", 20*time.Second),
		LogLevel:        p.str("CONVEYOR_LOG_LEVEL", "info"),
		LogFormat:       p.str("CONVEYOR_LOG_FORMAT", "text"),

		DatabaseURL:        p.str("CONVEYOR_DATABASE_URL", ""),
		ReplicaURLs:        p.list("CONVEYOR_DATABASE_REPLICA_URLS"),
		MigrateURL:         p.str("CONVEYOR_DATABASE_MIGRATE_URL", ""),
		PrimaryMaxConns:    int32(p.integer("CONVEYOR_DB_PRIMARY_MAX_CONNS", 20)),
		ReplicaMaxConns:    int32(p.integer("CONVEYOR_DB_REPLICA_MAX_CONNS", 20)),
		MaxReplicaLagBytes: p.integer("CONVEYOR_DB_MAX_LAG_BYTES", 16<<20),
		MaxReplicaLag:      p.duration("CONVEYOR_DB_MAX_LAG", 10*time.Second),
		ReadYourWritesTTL:  p.duration("CONVEYOR_DB_READ_YOUR_WRITES_TTL", 5*time.Minute),

		RedisAddr:     p.str("CONVEYOR_REDIS_ADDR", ""),
		RedisPassword: p.str("CONVEYOR_REDIS_PASSWORD", ""),
		RedisDB:       int(p.integer("CONVEYOR_REDIS_DB", 0)),

		S3Endpoint:  p.str("CONVEYOR_S3_ENDPOINT", ""),
		S3Region:    p.str("CONVEYOR_S3_REGION", "us-east-1"),
		S3Bucket:    p.str("CONVEYOR_S3_BUCKET", ""),
		S3AccessKey: p.str("CONVEYOR_S3_ACCESS_KEY_ID", ""),
		S3SecretKey: p.str("CONVEYOR_S3_SECRET_ACCESS_KEY", ""),

		OIDCIssuer:     strings.TrimRight(p.str("CONVEYOR_OIDC_ISSUER", ""), "/"),
		OIDCAudience:   p.str("CONVEYOR_OIDC_AUDIENCE", "api://conveyor"),
		OIDCAdminRole:  p.str("CONVEYOR_OIDC_ADMIN_ROLE", "Conveyor.Admin"),
		OIDCRolesClaim: p.str("CONVEYOR_OIDC_ROLES_CLAIM", "roles"),

		ConsoleClientID: p.str("CONVEYOR_CONSOLE_CLIENT_ID", ""),
		ConsoleScopes:   strings.Join(strings.Fields(p.str("CONVEYOR_CONSOLE_SCOPES", DefaultConsoleScopes)), " "),

		CursorSecret:      p.str("CONVEYOR_CURSOR_SECRET", ""),
		UploadTTL:         p.duration("CONVEYOR_UPLOAD_TTL", 6*time.Hour),
		JanitorInterval:   p.duration("CONVEYOR_JANITOR_INTERVAL", time.Minute),
		RedispatchAfter:   p.duration("CONVEYOR_REDISPATCH_AFTER", 5*time.Minute),
		EventHeartbeat:    p.duration("CONVEYOR_EVENT_HEARTBEAT", 15*time.Second),
		OrphanGrace:       p.duration("CONVEYOR_ORPHAN_GRACE", time.Hour),
		MaxUploadBytes:    p.integer("CONVEYOR_MAX_UPLOAD_BYTES", 5<<30),
		WorkerConcurrency: int(p.integer("CONVEYOR_WORKER_CONCURRENCY", 10)),
		JobMaxRetries:     int(p.integer("CONVEYOR_JOB_MAX_RETRIES", 8)),
	}
	c.S3PathStyle = p.boolean("CONVEYOR_S3_PATH_STYLE", c.S3Endpoint != "")
	c.RateLimits = map[string]*ratelimit.Limit{
		"read":   p.limit("CONVEYOR_RATE_LIMIT_READ", "50/s burst 100"),
		"write":  p.limit("CONVEYOR_RATE_LIMIT_WRITE", "10/s burst 30"),
		"upload": p.limit("CONVEYOR_RATE_LIMIT_UPLOAD", "2/s burst 10"),
	}
	if c.MigrateURL == "" {
		c.MigrateURL = c.DatabaseURL
	}
	c.AuthFailureLimit = p.limit("CONVEYOR_RATE_LIMIT_AUTH_FAILURES", "20/m")
	c.TrustedProxies = p.prefixes("CONVEYOR_TRUSTED_PROXIES")
	if err := errors.Join(p.errs...); err != nil {
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

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) list(name string) []string {
	var out []string
	for _, s := range strings.Split(p.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) integer(name string, def int64) int64 {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %q is not an integer", name, v))
		return def
	}
	return n
}

func (p *parser) boolean(name string, def bool) bool {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %q is not a boolean", name, v))
		return def
	}
	return b
}

func (p *parser) limit(name, def string) *ratelimit.Limit {
	v := p.str(name, def)
	if strings.EqualFold(v, "off") {
		return nil
	}
	l, err := ratelimit.ParseLimit(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", name, err))
		return nil
	}
	return &l
}

// prefixes parses a comma-separated list of IP addresses (a single host)
// and CIDR prefixes.
func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range p.list(name) {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				p.errs = append(p.errs, fmt.Errorf("%s: %q is not an IP address or CIDR prefix like 10.0.0.0/8", name, v))
				continue
			}
			pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.errs = append(p.errs, fmt.Errorf("%s: %q is not a duration like 10s", name, v))
		return def
	}
	return d
}
