package config

import (
	"fmt"
	"math"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

// Setting is the one definition of an environment variable: its name, its
// default, its meaning and how a value is parsed, checked and stored in a
// Config. Parse, Vars and the README's table (MarkdownTable) all read
// Settings, so they cannot disagree.
type Setting struct {
	Name string
	// Default is the value parsed when the variable is unset or blank; ""
	// means none (the field stays empty or is derived, see Shown).
	Default string
	// Shown describes a default that is not a literal value (derived from
	// other settings or from dev mode); empty: Default.
	Shown string
	Help  string
	// set parses v (never blank) into c, or says why v is wrong.
	set func(c *Config, v string) error
}

// Settings lists every variable in the order the README shows them. A
// setting may read fields set by the ones before it.
var Settings = []Setting{
	text("CONVEYOR_HTTP_ADDR", "127.0.0.1:8080", "Address the API listens on.", func(c *Config) *string { return &c.HTTPAddr }),
	text("CONVEYOR_WORKER_ADDR", "127.0.0.1:9091", "Address the worker serves /healthz, /readyz, /metrics and /debug/pprof/ on.", func(c *Config) *string { return &c.WorkerAddr }),
	text("CONVEYOR_INTERNAL_ADDR", "127.0.0.1:6060", "Internal address the API serves /metrics and /debug/pprof/ on, for scrapers and operators only (never expose it; the public address keeps /metrics).", func(c *Config) *string { return &c.InternalAddr }),
	text("CONVEYOR_PUBLIC_URL", "", "The URL clients reach the API at (issuer of dev tokens, links). Empty: http:// plus the listening address.", func(c *Config) *string { return &c.PublicURL }, trimSlash),
	boolean("CONVEYOR_DEV", "false", "Dev mode: hosts the built-in OIDC issuer (refused otherwise). Set by `conveyor dev`.", func(c *Config) *bool { return &c.Dev }),
	text("CONVEYOR_RUN_DIR", ".run", "Folder for local state: the dev stack's data and the dev issuer's key.", func(c *Config) *string { return &c.RunDir }),
	duration("CONVEYOR_SHUTDOWN_TIMEOUT", "20s", "How long serve and worker wait for in-flight work on SIGTERM.", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	text("CONVEYOR_LOG_LEVEL", "info", "debug, info, warn or error.", func(c *Config) *string { return &c.LogLevel }),
	text("CONVEYOR_LOG_FORMAT", "text", "text or json.", func(c *Config) *string { return &c.LogFormat }),

	text("CONVEYOR_DATABASE_URL", "", "PostgreSQL primary (through PgBouncer). Required for serve, worker and migrate.", func(c *Config) *string { return &c.DatabaseURL }),
	list("CONVEYOR_DATABASE_REPLICA_URLS", "Comma-separated PostgreSQL replica URLs (through PgBouncer). Empty: reads go to the primary.", func(c *Config) *[]string { return &c.ReplicaURLs }),
	text("CONVEYOR_DATABASE_MIGRATE_URL", "", "Direct URL to the primary for migrations (PgBouncer's transaction mode does not suit them). Empty: CONVEYOR_DATABASE_URL.", func(c *Config) *string { return &c.MigrateURL }),
	integer("CONVEYOR_DB_PRIMARY_MAX_CONNS", "20", "Pool size for the primary, per process.", 1, 10000, func(c *Config) *int32 { return &c.PrimaryMaxConns }),
	integer("CONVEYOR_DB_REPLICA_MAX_CONNS", "20", "Pool size for each replica, per process.", 1, 10000, func(c *Config) *int32 { return &c.ReplicaMaxConns }),
	integer("CONVEYOR_DB_MAX_LAG_BYTES", "16777216", "A replica further behind the primary than this many WAL bytes takes no reads.", 0, math.MaxInt64, func(c *Config) *int64 { return &c.MaxReplicaLagBytes }),
	duration("CONVEYOR_DB_MAX_LAG", "10s", "A replica whose replay is older than this while behind takes no reads.", func(c *Config) *time.Duration { return &c.MaxReplicaLag }),
	duration("CONVEYOR_DB_READ_YOUR_WRITES_TTL", "5m", "How long a principal's last write position is remembered (in Redis).", func(c *Config) *time.Duration { return &c.ReadYourWritesTTL }),

	text("CONVEYOR_REDIS_ADDR", "", "Redis host:port (queue, events, read-your-writes marks). Required.", func(c *Config) *string { return &c.RedisAddr }),
	text("CONVEYOR_REDIS_PASSWORD", "", "Redis password.", func(c *Config) *string { return &c.RedisPassword }),
	integer("CONVEYOR_REDIS_DB", "0", "Redis database number.", 0, math.MaxInt32, func(c *Config) *int { return &c.RedisDB }),

	text("CONVEYOR_S3_ENDPOINT", "", "S3 endpoint URL for S3-compatible stores. Empty: AWS.", func(c *Config) *string { return &c.S3Endpoint }),
	text("CONVEYOR_S3_REGION", "us-east-1", "S3 region.", func(c *Config) *string { return &c.S3Region }),
	text("CONVEYOR_S3_BUCKET", "", "Bucket for files and job outputs. Required.", func(c *Config) *string { return &c.S3Bucket }),
	text("CONVEYOR_S3_ACCESS_KEY_ID", "", "S3 access key. Empty: the AWS default credential chain.", func(c *Config) *string { return &c.S3AccessKey }),
	text("CONVEYOR_S3_SECRET_ACCESS_KEY", "", "S3 secret key.", func(c *Config) *string { return &c.S3SecretKey }),
	shown(boolean("CONVEYOR_S3_PATH_STYLE", "", "Path-style bucket addressing.", func(c *Config) *bool { return &c.S3PathStyle }), "true when an endpoint is set"),

	{Name: "CONVEYOR_WEBHOOK_ALLOW_CIDRS", Help: "Comma-separated IPs or CIDRs that webhook deliveries may reach although they are loopback, private, link-local or cloud metadata addresses (refused otherwise). Empty: none.",
		set: func(c *Config, v string) (err error) { c.WebhookAllowCIDRs, err = prefixes(v); return err }},
	shown(text("CONVEYOR_SMTP_HOST", "", "SMTP relay for email (e.g. smtp.sendgrid.net). Empty: no email is sent.", func(c *Config) *string { return &c.SMTPHost }), "the dev stack's mailpit in dev mode"),
	integer("CONVEYOR_SMTP_PORT", "587", "SMTP relay port.", 1, 65535, func(c *Config) *int { return &c.SMTPPort }),
	text("CONVEYOR_SMTP_USERNAME", "", "SMTP user name (SendGrid: `apikey`). Empty: no authentication.", func(c *Config) *string { return &c.SMTPUsername }),
	text("CONVEYOR_SMTP_PASSWORD", "", "SMTP password (SendGrid: the API key).", func(c *Config) *string { return &c.SMTPPassword }),
	{Name: "CONVEYOR_SMTP_FROM", Default: "Conveyor <noreply@conveyor.localhost>", Help: "Sender of every email: an address, optionally with a name.",
		set: func(c *Config, v string) error {
			if _, err := mail.ParseAddress(v); err != nil {
				return fmt.Errorf("%q is not an email address like Conveyor <noreply@example.com>", v)
			}
			c.SMTPFrom = v
			return nil
		}},
	{Name: "CONVEYOR_SMTP_TLS", Default: "starttls", Shown: "`starttls` (`none` in dev mode)", Help: "`starttls` (required), `tls` (implicit TLS, usually port 465) or `none` (plain; only for a relay on loopback).",
		set: func(c *Config, v string) error {
			switch v {
			case "starttls", "tls", "none":
				c.SMTPTLS = v
				return nil
			}
			return fmt.Errorf("%q: want starttls, tls or none", v)
		}},

	shown(text("CONVEYOR_OIDC_ISSUER", "", "OIDC issuer URL (e.g. https://login.microsoftonline.com/<tenant>/v2.0). Required outside dev mode.", func(c *Config) *string { return &c.OIDCIssuer }, trimSlash), "the dev issuer in dev mode"),
	text("CONVEYOR_OIDC_AUDIENCE", "api://conveyor", "The audience (aud) access tokens must carry: the API's application ID URI or client id.", func(c *Config) *string { return &c.OIDCAudience }),
	text("CONVEYOR_OIDC_ADMIN_ROLE", "Conveyor.Admin", "The value in the roles claim that makes a caller a platform admin.", func(c *Config) *string { return &c.OIDCAdminRole }),
	text("CONVEYOR_OIDC_ROLES_CLAIM", "roles", "The claim holding app roles.", func(c *Config) *string { return &c.OIDCRolesClaim }),

	shown(text("CONVEYOR_CONSOLE_CLIENT_ID", "", "The console's OIDC client id (its app registration). Empty outside dev mode: the console says sign-in is not configured.", func(c *Config) *string { return &c.ConsoleClientID }), "`"+DevConsoleClientID+"` in dev mode"),
	text("CONVEYOR_CONSOLE_SCOPES", DefaultConsoleScopes, "Space-separated scopes the console asks for; in production add the API's scope, e.g. `api://conveyor/access_as_user`.", func(c *Config) *string { return &c.ConsoleScopes }, func(s string) string { return strings.Join(strings.Fields(s), " ") }),
	shown(text("CONVEYOR_CURSOR_SECRET", "", "Key that signs pagination cursors (at least 32 characters; the same on every API process). Required outside dev mode.", func(c *Config) *string { return &c.CursorSecret }), "a random one kept under the run folder in dev mode"),
	integer("CONVEYOR_MAX_UPLOAD_BYTES", "5368709120", "The largest upload streamed through the API.", 1, math.MaxInt64, func(c *Config) *int64 { return &c.MaxUploadBytes }),
	integer("CONVEYOR_TEAM_MAX_STORED_BYTES", "107374182400", "Default storage quota of a team (files and job outputs, bytes), where a platform admin set none.", 1, math.MaxInt64, func(c *Config) *int64 { return &c.TeamMaxStoredBytes }),
	integer("CONVEYOR_TEAM_MAX_FILE_BYTES", "5368709120", "Default largest file a team may store (bytes), where a platform admin set none; never above CONVEYOR_MAX_UPLOAD_BYTES for uploads through the API.", 1, math.MaxInt64, func(c *Config) *int64 { return &c.TeamMaxFileBytes }),
	integer("CONVEYOR_TEAM_MAX_RUNNING_JOBS", "20", "Default number of a team's jobs that may run at once across all workers, where a platform admin set none.", 1, 1000000, func(c *Config) *int32 { return &c.TeamMaxRunningJobs }),
	integer("CONVEYOR_DISPATCH_AHEAD", "4", "How many of a team's jobs may wait in the queue not yet started (within its running-jobs cap): more keeps a busy team's workers fed, fewer lets another team's job start sooner.", 1, 10000, func(c *Config) *int { return &c.DispatchAhead }),
	duration("CONVEYOR_UPLOAD_TTL", "6h", "How long a direct-to-S3 upload's URLs work and it may be completed; then it is aborted.", func(c *Config) *time.Duration { return &c.UploadTTL }),
	duration("CONVEYOR_JANITOR_INTERVAL", "1m", "How often the worker removes deleted files' objects, aborts expired uploads and sweeps orphan objects.", func(c *Config) *time.Duration { return &c.JanitorInterval }),
	duration("CONVEYOR_USAGE_RECONCILE_INTERVAL", "5m", "How often the worker recounts every team's stored bytes and files from the rows, correcting drift, and drops the storage reservations of uploads whose process died.", func(c *Config) *time.Duration { return &c.UsageReconcileInterval }),
	duration("CONVEYOR_REDISPATCH_AFTER", "5m", "A job queued this long, or running with no heartbeat for this long, is dispatched again: its task may be lost.", func(c *Config) *time.Duration { return &c.RedispatchAfter }),
	duration("CONVEYOR_EVENT_HEARTBEAT", "15s", "How often an idle event stream (GET /teams/{team_id}/events) sends a comment, so proxies keep it open.", func(c *Config) *time.Duration { return &c.EventHeartbeat }),
	duration("CONVEYOR_ORPHAN_GRACE", "1h", "How old an object no row refers to must be before the janitor removes it.", func(c *Config) *time.Duration { return &c.OrphanGrace }),
	integer("CONVEYOR_WORKER_CONCURRENCY", "10", "Jobs a worker runs at once.", 1, 10000, func(c *Config) *int { return &c.WorkerConcurrency }),
	integer("CONVEYOR_JOB_MAX_RETRIES", "8", "Retries of a job attempt that failed with a retryable error (exponential backoff with jitter, 1 s to 5 min), before the job fails with that error.", 0, 1000, func(c *Config) *int { return &c.JobMaxRetries }),
	limit("CONVEYOR_RATE_LIMIT_READ", "50/s burst 100", "Per principal (user or API key) for reads: COUNT/s, /m or /h, optional `burst N`, or `off`.", func(c *Config, l *ratelimit.Limit) { c.RateLimits["read"] = l }),
	limit("CONVEYOR_RATE_LIMIT_WRITE", "10/s burst 30", "Per principal for creating, changing and deleting.", func(c *Config, l *ratelimit.Limit) { c.RateLimits["write"] = l }),
	limit("CONVEYOR_RATE_LIMIT_UPLOAD", "2/s burst 10", "Per principal for uploads.", func(c *Config, l *ratelimit.Limit) { c.RateLimits["upload"] = l }),
	limit("CONVEYOR_RATE_LIMIT_AUTH_FAILURES", "20/m", "Per client address (all API processes together), failed authentications before the rest are answered 429 with Retry-After; valid credentials always pass. Same syntax, or `off`.", func(c *Config, l *ratelimit.Limit) { c.AuthFailureLimit = l }),
	{Name: "CONVEYOR_TRUSTED_PROXIES", Help: "Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For names the client. Empty: the TCP peer is the client.",
		set: func(c *Config, v string) (err error) { c.TrustedProxies, err = prefixes(v); return err }},
}

// MarkdownTable renders Settings as the README's configuration table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n| --- | --- | --- |\n")
	for _, v := range Vars() {
		def := v.Default
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, v.Help)
	}
	return b.String()
}

func shown(s Setting, what string) Setting { s.Shown = what; return s }

func trimSlash(s string) string { return strings.TrimRight(s, "/") }

func text(name, def, help string, field func(*Config) *string, normalize ...func(string) string) Setting {
	return Setting{Name: name, Default: def, Help: help, set: func(c *Config, v string) error {
		for _, f := range normalize {
			v = f(v)
		}
		*field(c) = v
		return nil
	}}
}

func list(name, help string, field func(*Config) *[]string) Setting {
	return Setting{Name: name, Help: help, set: func(c *Config, v string) error {
		*field(c) = splitList(v)
		return nil
	}}
}

func boolean(name, def, help string, field func(*Config) *bool) Setting {
	return Setting{Name: name, Default: def, Help: help, set: func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", v)
		}
		*field(c) = b
		return nil
	}}
}

// duration is a positive interval: a zero one would make a ticker panic or a
// TTL expire at once, and none of them means "off".
func duration(name, def, help string, field func(*Config) *time.Duration) Setting {
	return Setting{Name: name, Default: def, Help: help, set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 10s", v)
		}
		if d <= 0 {
			return fmt.Errorf("%q: want a positive duration like 10s", v)
		}
		*field(c) = d
		return nil
	}}
}

// integer is a whole number in [lo, hi], which also keeps it within T.
func integer[T int | int32 | int64](name, def, help string, lo, hi int64, field func(*Config) *T) Setting {
	return Setting{Name: name, Default: def, Help: help, set: func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil && !strings.Contains(err.Error(), "range") {
			return fmt.Errorf("%q is not an integer", v)
		}
		if err != nil || n < lo || n > hi || int64(T(n)) != n {
			return fmt.Errorf("%q: want an integer from %d to %d", v, lo, hi)
		}
		*field(c) = T(n)
		return nil
	}}
}

func limit(name, def, help string, store func(*Config, *ratelimit.Limit)) Setting {
	return Setting{Name: name, Default: def, Help: help, set: func(c *Config, v string) error {
		if strings.EqualFold(v, "off") {
			store(c, nil)
			return nil
		}
		l, err := ratelimit.ParseLimit(v)
		if err != nil {
			return err
		}
		store(c, &l)
		return nil
	}}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// prefixes parses a comma-separated list of IP addresses (a single host)
// and CIDR prefixes.
func prefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix like 10.0.0.0/8", s)
			}
			pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, pfx.Masked())
	}
	return out, nil
}
