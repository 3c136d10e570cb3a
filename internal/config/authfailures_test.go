package config_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/internal/config"
)

// TestAuthFailureSettings: the failed-authentication budget defaults to
// 20 a minute and can be turned off; trusted proxies are IPs or CIDRs,
// and anything else is an error naming the variable.
func TestAuthFailureSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := config.Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.AuthFailureLimit; l == nil || l.Burst != 20 || l.Rate != 20.0/60 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v %v", l, c.TrustedProxies)
	}
	c, err = config.Parse(env(map[string]string{"CONVEYOR_RATE_LIMIT_AUTH_FAILURES": "off",
		"CONVEYOR_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,::ffff:198.51.100.1, fd00::/8"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("fd00::/8")}
	if c.AuthFailureLimit != nil || !slices.Equal(c.TrustedProxies, want) {
		t.Fatalf("off and proxies: %+v %v", c.AuthFailureLimit, c.TrustedProxies)
	}
	for name, v := range map[string]string{"CONVEYOR_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local", "CONVEYOR_RATE_LIMIT_AUTH_FAILURES": "0/m"} {
		_, err := config.Parse(env(map[string]string{name: v}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v", name, v, err)
		}
	}
}
