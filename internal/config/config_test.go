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

func TestParseRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ name, key, val string }{
		{"integer", "CONVEYOR_DB_PRIMARY_MAX_CONNS", "many"},
		{"boolean", "CONVEYOR_DEV", "sometimes"},
		{"duration", "CONVEYOR_DB_MAX_LAG", "10"},
		{"negative duration", "CONVEYOR_SHUTDOWN_TIMEOUT", "-1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(env(map[string]string{tc.key: tc.val}))
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
		})
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

// TestREADMEListsEveryVariable keeps the README's configuration table in
// step with the variables the program reads.
func TestREADMEListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s", v.Name)
		}
	}
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		if strings.Count(string(src), `"`+v.Name+`"`) < 2 {
			t.Errorf("%s is listed in Vars but not parsed", v.Name)
		}
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
