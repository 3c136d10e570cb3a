package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseDefaults(t *testing.T) {
	c, err := config.Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.RunDir != ".run" || c.PrimaryMaxConns != 20 || c.MaxReplicaLag != 10*time.Second ||
		c.OIDCAudience != "api://conveyor" || c.OIDCAdminRole != "Conveyor.Admin" || c.MaxUploadBytes != 5<<30 || c.S3PathStyle {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestParseValues(t *testing.T) {
	c, err := config.Parse(env(map[string]string{
		"CONVEYOR_DATABASE_URL":          "postgres://p/db",
		"CONVEYOR_DATABASE_REPLICA_URLS": " postgres://r1/db , ,postgres://r2/db",
		"CONVEYOR_S3_ENDPOINT":           "http://127.0.0.1:9000",
		"CONVEYOR_DB_MAX_LAG":            "250ms",
		"CONVEYOR_OIDC_ISSUER":           "https://login.example.com/tenant/v2.0/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ReplicaURLs) != 2 || c.ReplicaURLs[1] != "postgres://r2/db" {
		t.Fatalf("replicas = %q", c.ReplicaURLs)
	}
	if c.MigrateURL != "postgres://p/db" || !c.S3PathStyle || c.MaxReplicaLag != 250*time.Millisecond {
		t.Fatalf("derived = %+v", c)
	}
	if c.OIDCIssuer != "https://login.example.com/tenant/v2.0" {
		t.Fatalf("issuer = %q (trailing slash kept)", c.OIDCIssuer)
	}
}

// TestParseRejectsBadValues: every kind of setting refuses a bad value with
// an error naming the variable, and Parse never panics on one.
func TestParseRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ name, key, val string }{
		{"integer word", "CONVEYOR_DB_PRIMARY_MAX_CONNS", "many"},
		{"integer zero pool", "CONVEYOR_DB_PRIMARY_MAX_CONNS", "0"},
		{"integer over int32", "CONVEYOR_DB_REPLICA_MAX_CONNS", "4294967296"},
		{"integer negative", "CONVEYOR_REDIS_DB", "-1"},
		{"integer overflow", "CONVEYOR_MAX_UPLOAD_BYTES", "99999999999999999999"},
		{"integer zero upload", "CONVEYOR_MAX_UPLOAD_BYTES", "0"},
		{"integer negative lag", "CONVEYOR_DB_MAX_LAG_BYTES", "-5"},
		{"integer zero concurrency", "CONVEYOR_WORKER_CONCURRENCY", "0"},
		{"integer fraction", "CONVEYOR_WORKER_CONCURRENCY", "1.5"},
		{"integer negative retries", "CONVEYOR_JOB_MAX_RETRIES", "-1"},
		{"boolean", "CONVEYOR_DEV", "sometimes"},
		{"boolean path style", "CONVEYOR_S3_PATH_STYLE", "yes please"},
		{"duration unitless", "CONVEYOR_DB_MAX_LAG", "10"},
		{"duration negative", "CONVEYOR_SHUTDOWN_TIMEOUT", "-1s"},
		{"duration zero interval", "CONVEYOR_JANITOR_INTERVAL", "0s"},
		{"duration zero heartbeat", "CONVEYOR_EVENT_HEARTBEAT", "0"},
		{"duration overflow", "CONVEYOR_UPLOAD_TTL", "9999999999h"},
		{"rate limit", "CONVEYOR_RATE_LIMIT_READ", "fast"},
		{"proxies", "CONVEYOR_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"webhook allowlist", "CONVEYOR_WEBHOOK_ALLOW_CIDRS", "169.254.169.254/40"},
		{"smtp port", "CONVEYOR_SMTP_PORT", "70000"},
		{"smtp tls", "CONVEYOR_SMTP_TLS", "maybe"},
		{"smtp from", "CONVEYOR_SMTP_FROM", "not an address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(env(map[string]string{tc.key: tc.val}))
			if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.val) {
				t.Fatalf("%s=%q: err = %v (config %+v), want one naming the variable and the value", tc.key, tc.val, err, c)
			}
		})
	}
}

// TestEveryDurationMustBePositive: no interval may be zero (time.NewTicker
// panics on one), whichever it is.
func TestEveryDurationMustBePositive(t *testing.T) {
	n := 0
	for _, s := range config.Settings {
		if _, err := time.ParseDuration(s.Default); err != nil || s.Default == "0" {
			continue
		}
		n++
		if _, err := config.Parse(env(map[string]string{s.Name: "0s"})); err == nil || !strings.Contains(err.Error(), s.Name) {
			t.Errorf("%s=0s: err = %v", s.Name, err)
		}
	}
	if n < 8 {
		t.Fatalf("found only %d duration settings", n)
	}
}

func TestValidate(t *testing.T) {
	c, _ := config.Parse(env(nil))
	err := c.Validate(config.NeedDatabase | config.NeedRedis | config.NeedS3 | config.NeedIdentity)
	for _, want := range []string{"CONVEYOR_DATABASE_URL", "CONVEYOR_REDIS_ADDR", "CONVEYOR_S3_BUCKET", "CONVEYOR_OIDC_ISSUER"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not name %s", err, want)
		}
	}
	c, _ = config.Parse(env(map[string]string{"CONVEYOR_DEV": "true", "CONVEYOR_S3_ACCESS_KEY_ID": "k", "CONVEYOR_LOG_FORMAT": "xml"}))
	err = c.Validate(config.NeedIdentity)
	if err == nil || !strings.Contains(err.Error(), "go together") || !strings.Contains(err.Error(), "xml") {
		t.Fatalf("cross-field validation: %v", err)
	}
	if strings.Contains(err.Error(), "OIDC_ISSUER") {
		t.Fatalf("dev mode needs no issuer: %v", err)
	}
}

// TestREADMEListsEveryVariable: the README's configuration table is exactly
// the one Settings renders (same variables, order, defaults and meanings),
// so the documentation and the parser cannot drift apart.
func TestREADMEListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := config.MarkdownTable()
	readme := string(b)
	start := strings.Index(readme, "| variable | default | meaning |")
	if start < 0 {
		t.Fatal("README.md has no configuration table")
	}
	got := readme[start:]
	if end := strings.Index(got, "\n\n"); end >= 0 {
		got = got[:end+1]
	}
	if got != want {
		t.Errorf("README.md's configuration table differs from config.Settings; replace it with:\n%s", want)
	}
	seen := map[string]bool{}
	for _, s := range config.Settings {
		if seen[s.Name] {
			t.Errorf("%s is defined twice", s.Name)
		}
		seen[s.Name] = true
	}
}

// TestConsoleSettings: the console's client id defaults only in dev mode
// (even when dev mode is turned on after parsing, as `conveyor dev` does);
// its scopes default to a refresh-token-capable set and must ask for openid.
func TestConsoleSettings(t *testing.T) {
	c, err := config.Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsoleClient() != "" || c.ConsoleScopes != "openid profile email offline_access" {
		t.Fatalf("outside dev mode: client %q, scopes %q", c.ConsoleClient(), c.ConsoleScopes)
	}
	c.Dev = true
	if c.ConsoleClient() != "conveyor-console" {
		t.Fatalf("dev mode: client %q", c.ConsoleClient())
	}
	c, err = config.Parse(env(map[string]string{
		"CONVEYOR_CONSOLE_CLIENT_ID": "6f1c2a4e-0000-4000-8000-00000000c0de",
		"CONVEYOR_CONSOLE_SCOPES":    "  openid profile\temail offline_access   api://conveyor/access_as_user ",
		"CONVEYOR_DEV":               "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsoleClient() != "6f1c2a4e-0000-4000-8000-00000000c0de" || c.ConsoleScopes != "openid profile email offline_access api://conveyor/access_as_user" {
		t.Fatalf("configured: client %q, scopes %q", c.ConsoleClient(), c.ConsoleScopes)
	}
	if err := c.Validate(0); err != nil {
		t.Fatal(err)
	}
	for key, val := range map[string]string{
		"CONVEYOR_CONSOLE_SCOPES":    "profile email",
		"CONVEYOR_CONSOLE_CLIENT_ID": "two words",
	} {
		c, err := config.Parse(env(map[string]string{key: val}))
		if err == nil {
			err = c.Validate(0)
		}
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: %v, want an error naming it", key, val, err)
		}
	}
}
