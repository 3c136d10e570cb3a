package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/conveyorhq/conveyor/internal/breaker"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// clientAddr is the address a request came from: the TCP peer, unless the
// peer is one of the trusted proxies; then the X-Forwarded-For hops are
// read from the right (the hop the nearest proxy added) and the first
// address that is not itself a trusted proxy is the client. Hops left of
// it were written by whoever sent the request and are never believed. A
// malformed hop ends the walk at the last trusted proxy. It returns the
// zero Addr when the peer's address cannot be parsed.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if !inPrefixes(addr, trusted) {
		return addr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-32; i-- { // 32 proxies deep at most
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		addr = hop.Unmap()
		if !inPrefixes(addr, trusted) {
			return addr
		}
	}
	return addr
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey names a client address's failure budget: an IPv4 address, or
// the /64 an IPv6 address is in (one host usually has a whole /64, so
// counting single IPv6 addresses would let it rotate through budgets).
func clientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// presentedCredential reports whether a request carried a credential
// (right or wrong); a request with none is not a failed attempt.
func presentedCredential(r *http.Request) bool {
	_, key := r.Header["X-Api-Key"]
	_, authz := r.Header["Authorization"]
	return key || authz
}

// chargeAuthFailure takes one failure from the client address's budget,
// after authentication failed with err, and returns what to answer: err
// itself (401) while the budget lasts, a rate-limited error (429 with
// Retry-After) once it is spent.
//
// The budget is checked only when authentication fails, so valid
// credentials always pass, even from an address over its budget (a shared
// NAT or proxy whose other users are failing). The trade-off: a client
// over budget still has each credential checked, and learns that one is
// valid when it passes; with 256-bit API keys and signed tokens that
// oracle is of no use for guessing. What the budget buys is a clear "slow
// down" to broken and hostile clients, bounded log noise, and a 429 rate
// to alert on. When Redis cannot be asked the answer stays 401: an outage
// of the limiter is not an outage of authentication.
func (s *Server) chargeAuthFailure(r *http.Request, err error) error {
	lim := s.deps.AuthFailureLimit
	if s.deps.Limiter == nil || lim == nil || !presentedCredential(r) {
		return err
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeUnauthenticated {
		return err // not a failed authentication (a database outage, say)
	}
	ctx := context.WithoutCancel(r.Context()) // the failure counts even if the client hangs up
	d, lerr := s.deps.Limiter.Allow(ctx, "authfail:"+clientKey(clientAddr(r, s.deps.TrustedProxies)), *lim)
	if lerr != nil {
		lvl := slog.LevelWarn
		if errors.Is(lerr, breaker.ErrUnavailable) {
			lvl = slog.LevelDebug // the breaker logs the outage, not once per request
		}
		s.deps.Logger.Log(r.Context(), lvl, "failed-authentication limiter unavailable; answering 401", "err", lerr)
		return err
	}
	if d.Allowed {
		return err
	}
	return &domain.Error{Code: domain.CodeRateLimited, RetryAfter: d.RetryAfter,
		Message: "Too many failed authentications from your address; retry after the time in Retry-After."}
}
