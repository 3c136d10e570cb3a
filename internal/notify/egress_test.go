package notify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/notify"
)

// fakeResolver answers every name with the addresses it currently holds,
// so a test can change the answer between validation and delivery (DNS
// rebinding). It sends no packet.
type fakeResolver struct {
	mu    sync.Mutex
	addrs []netip.Addr
	asked int
}

func (r *fakeResolver) set(addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = nil
	for _, a := range addrs {
		r.addrs = append(r.addrs, netip.MustParseAddr(a))
	}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	if len(r.addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]netip.Addr(nil), r.addrs...), nil
}

// refusedAddrs are addresses no delivery may reach outside the allowlist.
// None of them is ever dialled by these tests: they go through validation
// and through the dialer's Control hook called directly.
var refusedAddrs = []struct{ name, addr string }{
	{"loopback", "127.0.0.1"},
	{"loopback elsewhere in 127/8", "127.1.2.3"},
	{"loopback v6", "::1"},
	{"private 10/8", "10.0.0.1"},
	{"private 172.16/12", "172.16.5.4"},
	{"private 192.168/16", "192.168.1.1"},
	{"link-local", "169.254.10.10"},
	{"cloud metadata", "169.254.169.254"},
	{"AWS metadata v6", "fd00:ec2::254"},
	{"unique local v6", "fc00::1"},
	{"link-local v6", "fe80::1"},
	{"CGNAT", "100.64.0.1"},
	{"multicast", "224.0.0.1"},
	{"multicast v6", "ff02::1"},
	{"unspecified", "0.0.0.0"},
	{"unspecified v6", "::"},
	{"broadcast", "255.255.255.255"},
	{"IPv4-mapped loopback", "::ffff:127.0.0.1"},
	{"IPv4-mapped metadata", "::ffff:169.254.169.254"},
	{"IPv4-mapped private", "::ffff:10.1.1.1"},
	{"NAT64 of private", "64:ff9b::a00:1"},
	{"6to4", "2002:7f00:1::1"},
	{"documentation", "192.0.2.10"},
}

func urlFor(addr string) string {
	a := netip.MustParseAddr(addr)
	if a.Is6() {
		return "https://[" + addr + "]/hook"
	}
	return "https://" + addr + "/hook"
}

// TestEgressRefusesPrivateAddressesAtValidation: an endpoint URL naming, or
// resolving to, a refused address is refused when it is saved.
func TestEgressRefusesPrivateAddressesAtValidation(t *testing.T) {
	ctx := context.Background()
	res := &fakeResolver{}
	e := notify.Egress{Resolver: res}
	for _, tc := range refusedAddrs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.ValidateURL(ctx, urlFor(tc.addr)); !errors.Is(err, notify.ErrRefusedAddress) {
				t.Errorf("literal %s: %v, want ErrRefusedAddress", tc.addr, err)
			}
			res.set("93.184.215.14", tc.addr) // one good, one bad: refused
			if _, err := e.ValidateURL(ctx, "https://partner.example/hook"); !errors.Is(err, notify.ErrRefusedAddress) {
				t.Errorf("name resolving to %s: %v, want ErrRefusedAddress", tc.addr, err)
			}
		})
	}
}

// TestEgressControlHookRefusesBeforeConnecting: the dialer's Control hook,
// which runs before connect(2), refuses every refused address. It is called
// directly here, so nothing is dialled.
func TestEgressControlHookRefusesBeforeConnecting(t *testing.T) {
	control := notify.Egress{}.Dialer().Control
	for _, tc := range refusedAddrs {
		network := "tcp4"
		if netip.MustParseAddr(tc.addr).Is6() {
			network = "tcp6"
		}
		ap := netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 443).String()
		if err := control(network, ap, nil); !errors.Is(err, notify.ErrRefusedAddress) {
			t.Errorf("%s (%s): %v, want ErrRefusedAddress", tc.name, ap, err)
		}
	}
	if err := control("tcp4", "93.184.215.14:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	if err := control("udp4", "93.184.215.14:53", nil); err == nil {
		t.Error("udp allowed")
	}
}

func TestEgressURLForms(t *testing.T) {
	ctx := context.Background()
	res := &fakeResolver{}
	res.set("93.184.215.14")
	prod := notify.Egress{Resolver: res}
	dev := notify.Egress{Resolver: res, Dev: true}
	for _, tc := range []struct {
		name string
		e    notify.Egress
		url  string
		ok   bool
	}{
		{"https public", prod, "https://partner.example/hook?x=1", true},
		{"http public", prod, "http://partner.example/hook", false},
		{"http public in dev", dev, "http://partner.example/hook", false},
		{"http loopback", prod, "http://127.0.0.1:8080/hook", false},
		{"http loopback in dev", dev, "http://127.0.0.1:8080/hook", true},
		{"http v6 loopback in dev", dev, "http://[::1]:8080/hook", true},
		{"http localhost in dev", notify.Egress{Dev: true}, "http://localhost:8080/hook", true},
		{"https localhost", prod, "https://localhost/hook", false},
		{"private in dev", dev, "http://10.0.0.1/hook", false},
		{"metadata in dev", dev, "http://169.254.169.254/latest/meta-data", false},
		{"credentials", prod, "https://u:p@partner.example/hook", false},
		{"ftp", prod, "ftp://partner.example/hook", false},
		{"relative", prod, "/hook", false},
		{"garbage", prod, "https://%zz", false},
		{"no host", prod, "https:///hook", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.e.ValidateURL(ctx, tc.url)
			if (err == nil) != tc.ok {
				t.Errorf("ValidateURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
	res.set()
	if _, err := prod.ValidateURL(ctx, "https://nowhere.example/"); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("unresolvable: %v", err)
	}
}

func TestEgressAllowlist(t *testing.T) {
	e := notify.Egress{Allow: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("169.254.169.254/32")}}
	for addr, ok := range map[string]bool{"10.20.1.1": true, "::ffff:10.20.1.1": true, "169.254.169.254": true, "10.21.0.1": false, "169.254.169.253": false} {
		if err := e.CheckAddr(netip.MustParseAddr(addr)); (err == nil) != ok {
			t.Errorf("CheckAddr(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// countingListener is a loopback server that counts the connections it
// accepts: a refused dial must leave it at zero.
func countingListener(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestEgressDNSRebindingToLoopbackIsRefusedAtConnect: a name that resolved
// to a public address when the endpoint was saved and resolves to 127.0.0.1
// at delivery is refused by the Control hook before connecting: the loopback
// listener sees no connection.
func TestEgressDNSRebindingToLoopbackIsRefusedAtConnect(t *testing.T) {
	srv, conns := countingListener(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := &fakeResolver{}
	e := notify.Egress{Resolver: res}
	res.set("93.184.215.14")
	if _, err := e.ValidateURL(context.Background(), "https://rebind.example/hook"); err != nil {
		t.Fatalf("validation with a public answer: %v", err)
	}
	res.set("127.0.0.1")
	client := e.Client()
	for _, url := range []string{
		"http://rebind.example:" + itoa(port) + "/hook",
		"http://127.0.0.1:" + itoa(port) + "/hook",
		"http://[::ffff:127.0.0.1]:" + itoa(port) + "/hook",
	} {
		resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s delivered (status %d)", url, resp.StatusCode)
		}
		if !errors.Is(err, notify.ErrRefusedAddress) {
			t.Errorf("%s: %v, want ErrRefusedAddress", url, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the loopback listener saw %d connection(s); the dial should have been refused before connecting", n)
	}
	if res.asked < 2 {
		t.Errorf("resolver asked %d times: the dial did not resolve the name again", res.asked)
	}
}

// TestEgressClientDoesNotFollowRedirectsAndKeepsOneKiB: with loopback on the
// allowlist, a delivery reaches the receiver, gets its 3xx as the answer
// (the redirect's target sees nothing), and keeps the first KiB of a body.
func TestEgressClientDoesNotFollowRedirectsAndKeepsOneKiB(t *testing.T) {
	target, targetConns := countingListener(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	big := strings.Repeat("x", 5000)
	srv, conns := countingListener(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte(big))
	}))
	e := notify.Egress{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	client := e.Client()
	if client.Timeout != notify.DeliveryTimeout || notify.DeliveryTimeout.Seconds() != 15 {
		t.Errorf("timeout %s", client.Timeout)
	}
	resp, err := client.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	notify.ReadResponse(resp.Body)
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
	if n := targetConns.Load(); n != 0 {
		t.Errorf("redirect followed: target saw %d connection(s)", n)
	}
	resp, err = client.Post(srv.URL+"/big", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if kept := notify.ReadResponse(resp.Body); len(kept) != notify.ResponseKeep || notify.ResponseKeep != 1024 {
		t.Errorf("kept %d bytes, want 1024", len(kept))
	}
	if conns.Load() == 0 {
		t.Error("allowlisted loopback was not reached")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestEgressForReadsTheAllowlistSetting: CONVEYOR_WEBHOOK_ALLOW_CIDRS opens
// exactly the ranges it names.
func TestEgressForReadsTheAllowlistSetting(t *testing.T) {
	c, err := config.Parse(func(k string) string {
		return map[string]string{"CONVEYOR_WEBHOOK_ALLOW_CIDRS": "10.9.0.0/16, 169.254.169.254"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	e := notify.EgressFor(c)
	for addr, ok := range map[string]bool{"10.9.3.4": true, "169.254.169.254": true, "10.8.0.1": false, "127.0.0.1": false} {
		if err := e.CheckAddr(netip.MustParseAddr(addr)); (err == nil) != ok {
			t.Errorf("CheckAddr(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}
