package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/conveyorhq/conveyor/internal/config"
)

// DeliveryTimeout bounds one delivery attempt, connect to last byte.
const DeliveryTimeout = 15 * time.Second

// ResponseKeep is how much of a partner's response body an attempt keeps.
const ResponseKeep = 1024

// ErrRefusedAddress is wrapped by every refusal of an address the egress
// policy does not let deliveries reach.
var ErrRefusedAddress = errors.New("address not allowed for webhook delivery")

// ErrRefusedURL is wrapped by every refusal of a URL's form (scheme, host,
// credentials).
var ErrRefusedURL = errors.New("URL not allowed for webhook delivery")

// Egress is the policy for outgoing webhook requests: which URLs an
// endpoint may have and which addresses a delivery may connect to.
type Egress struct {
	// Dev allows http:// URLs to loopback (`make run`), so deliveries can be
	// tried locally. Everything else is refused in dev mode too.
	Dev bool
	// Allow names prefixes that are reachable although they are in a
	// refused range (CONVEYOR_WEBHOOK_ALLOW_CIDRS).
	Allow []netip.Prefix
	// Resolver resolves host names for ValidateURL and for connecting; nil:
	// net.DefaultResolver.
	Resolver Resolver
}

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// refused are the ranges no delivery reaches unless Allow names them.
var refused = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", unspecified
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // CGNAT shared address space
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, including 169.254.169.254 (cloud metadata)
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"::ffff:0:0/96",   // IPv4-mapped (checked unmapped too)
		"64:ff9b::/96",    // NAT64, may reach any IPv4 address
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4, embeds an IPv4 address
		"fc00::/7",        // unique local, including fd00:ec2::254 (AWS metadata)
		"fe80::/10",       // link-local
		"fec0::/10",       // old site-local
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// CheckAddr returns nil when a delivery may connect to a, and an error
// wrapping ErrRefusedAddress otherwise. In dev mode loopback is allowed.
// An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
func (e Egress) CheckAddr(a netip.Addr) error {
	a = a.WithZone("")
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrRefusedAddress)
	}
	u := a.Unmap()
	for _, p := range e.Allow {
		if p.Contains(a) || p.Contains(u) {
			return nil
		}
	}
	if e.Dev && u.IsLoopback() {
		return nil
	}
	for _, p := range refused {
		if p.Contains(u) || p.Contains(a) {
			return fmt.Errorf("%w: %s is in %s", ErrRefusedAddress, a, p)
		}
	}
	if !u.IsGlobalUnicast() {
		return fmt.Errorf("%w: %s is not a public unicast address", ErrRefusedAddress, a)
	}
	return nil
}

func (e Egress) resolver() Resolver {
	if e.Resolver != nil {
		return e.Resolver
	}
	return net.DefaultResolver
}

// ValidateURL checks an endpoint URL when it is created or changed: an
// absolute https URL (http too, in dev mode, to a loopback address) without
// credentials, whose host resolves only to addresses CheckAddr allows. The
// errors wrap ErrRefusedURL or ErrRefusedAddress, or say the host did not
// resolve; their text is fit for a problem+json detail.
func (e Egress) ValidateURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %q is not an absolute URL", ErrRefusedURL, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL", ErrRefusedURL)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: a fragment is never sent", ErrRefusedURL)
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !e.Dev {
			return nil, fmt.Errorf("%w: only https URLs are accepted", ErrRefusedURL)
		}
	default:
		return nil, fmt.Errorf("%w: scheme %q (want https)", ErrRefusedURL, u.Scheme)
	}
	addrs, err := e.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := e.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
		if u.Scheme == "http" && !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("%w: http is allowed only to loopback, in dev mode", ErrRefusedURL)
		}
	}
	return u, nil
}

// lookup returns host's addresses (host itself if it is a literal).
func (e Egress) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if strings.TrimSuffix(strings.ToLower(host), ".") == "localhost" && !e.Dev {
		return nil, fmt.Errorf("%w: localhost", ErrRefusedAddress)
	}
	addrs, err := e.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("host %s does not resolve: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("host %s has no addresses", host)
	}
	return addrs, nil
}

// control is the dialer's Control hook: it runs after the name was resolved
// and before the socket connects, for every address tried, so a name that
// resolves to a public address at validation and to 127.0.0.1 later (DNS
// rebinding) is refused here.
func (e Egress) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrRefusedAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRefusedAddress, address, err)
	}
	return e.CheckAddr(ap.Addr())
}

// Dialer returns a dialer whose Control hook checks every address at
// connect time, before the socket connects.
func (e Egress) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   DeliveryTimeout,
		KeepAlive: 30 * time.Second,
		Control:   e.control,
	}
}

// DialContext resolves address's host with the Resolver and connects to its
// addresses in turn through Dialer, whose Control hook refuses any address
// CheckAddr does not allow, whatever the name resolved to this time.
func (e Egress) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = e.resolver().LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	d := e.Dialer()
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return nil, errors.Join(errs...)
}

// Client returns the HTTP client deliveries use: every connection checked by
// the Control hook, no proxy from the environment, redirects never
// followed (the 3xx is the attempt's answer), and DeliveryTimeout for the
// whole attempt.
func (e Egress) Client() *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           e.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: DeliveryTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   DeliveryTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ReadResponse reads at most ResponseKeep bytes of an answer's body for the
// attempt's record, discards at most a bounded rest so the connection can be
// reused, and closes the body.
func ReadResponse(body io.ReadCloser) []byte {
	defer body.Close()
	kept, _ := io.ReadAll(io.LimitReader(body, ResponseKeep))
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	return kept
}

// EgressFor returns the egress policy c configures: dev mode
// (CONVEYOR_DEV) and the allowlist (CONVEYOR_WEBHOOK_ALLOW_CIDRS).
func EgressFor(c *config.Config) Egress {
	return Egress{Dev: c.Dev, Allow: c.WebhookAllowCIDRs}
}
