package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddr: the TCP peer is the client unless it is a trusted
// proxy; then X-Forwarded-For is read from the right, past trusted
// proxies only, so a client cannot pick its own address.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, c := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies configured: the peer, whatever it forwards", "192.0.2.1:5000", []string{"203.0.113.9"}, nil, "192.0.2.1"},
		{"untrusted peer's header is ignored", "192.0.2.1:5000", []string{"203.0.113.9"}, trusted, "192.0.2.1"},
		{"trusted proxy: the hop it added", "10.0.0.2:5000", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"spoofed hops left of the real one are ignored", "10.0.0.2:5000", []string{"198.51.100.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"a chain of trusted proxies", "10.0.0.2:5000", []string{"203.0.113.9, 10.1.1.1", "10.2.2.2"}, trusted, "203.0.113.9"},
		{"malformed hop: the last proxy", "10.0.0.2:5000", []string{"garbage, 10.1.1.1"}, trusted, "10.1.1.1"},
		{"trusted proxy without the header", "10.0.0.2:5000", nil, trusted, "10.0.0.2"},
		{"IPv4-mapped peer", "[::ffff:192.0.2.1]:5000", nil, nil, "192.0.2.1"},
		{"IPv6 through an IPv6 proxy", "[fd00::1]:5000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.peer
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, c.trusted); got.String() != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	if k := clientKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); k != "2001:db8:1:2::/64" {
		t.Fatalf("IPv6 budget key %q, want its /64", k)
	}
	if k := clientKey(netip.MustParseAddr("192.0.2.1")); k != "192.0.2.1" {
		t.Fatalf("IPv4 budget key %q", k)
	}
}
