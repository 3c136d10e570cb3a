package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

const (
	// DefaultJWKSRefetchInterval is the least time between two JWKS requests
	// when VerifierOptions.JWKSRefetchInterval is zero.
	DefaultJWKSRefetchInterval = 30 * time.Second
	// jwksRetryAfterFailure is the least time between a failed JWKS request
	// and the next one (capped by the refetch interval), so an outage of the
	// identity provider does not lock tokens out for a whole interval.
	jwksRetryAfterFailure = 2 * time.Second
)

// errJWKSRefetchSuppressed is what a JWKS request refused by the keySet's
// gate fails with.
var errJWKSRefetchSuppressed = errors.New("auth: JWKS refetch suppressed: the key set was fetched recently")

// keySet is an oidc.KeySet that puts a negative cache in front of go-oidc's
// RemoteKeySet.
//
// RemoteKeySet fetches the JWKS again whenever a signature does not verify
// with the keys it holds: for every token with an unknown kid, and also for
// a token that names a known kid but carries a bad signature. Forged tokens
// alone could therefore make the API hammer the identity provider. keySet
// bounds that in two places:
//
//   - VerifySignature rejects, without calling RemoteKeySet, a token whose
//     kid is not in the JWKS last fetched while a new fetch is not allowed.
//   - The HTTP client RemoteKeySet uses goes through a gate that lets at
//     most one JWKS request through per interval (after a failed request, the
//     next may follow sooner, after jwksRetryAfterFailure). A refused
//     request fails without touching the network and RemoteKeySet keeps the
//     keys it has, so tokens signed with cached keys keep verifying.
//
// Key rotation works: a token with a new kid triggers a fetch as soon as the
// interval since the previous one has passed.
type keySet struct {
	remote   *oidc.RemoteKeySet
	algs     []jose.SignatureAlgorithm
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	next time.Time           // earliest time of the next JWKS request
	kids map[string]struct{} // key ids in the JWKS last fetched
}

// newKeySet returns a keySet for the JWKS at jwksURL, fetched with client
// (nil: http.DefaultClient) at most once per interval (0: the default).
// algs are the signature algorithms the verifier accepts. base must outlive
// the keySet; its cancellation is ignored, as in go-oidc.
func newKeySet(base context.Context, jwksURL string, client *http.Client, interval time.Duration, algs []jose.SignatureAlgorithm) *keySet {
	if interval <= 0 {
		interval = DefaultJWKSRefetchInterval
	}
	if client == nil {
		client = http.DefaultClient
	}
	k := &keySet{algs: algs, interval: interval, now: time.Now}
	gated := *client
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	gated.Transport = &jwksGate{keys: k, next: next}
	k.remote = oidc.NewRemoteKeySet(oidc.ClientContext(base, &gated), jwksURL)
	return k
}

// VerifySignature verifies jwt's signature and returns its payload. It fails
// without any HTTP request when jwt is not in the compact serialization, or
// names a key id that is not in the JWKS last fetched while the previous
// fetch is less than an interval old.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	// A JWT is always in the compact serialization (RFC 7519, section 1);
	// go-oidc would also take the JSON one, with its unprotected headers.
	jws, err := jose.ParseSignedCompact(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("auth: malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("auth: a jwt must carry exactly one signature")
	}
	// A token without a kid is checked against every cached key by
	// RemoteKeySet; the gate still bounds the fetches it may cause.
	if kid := jws.Signatures[0].Header.KeyID; kid != "" && !k.mayTry(kid) {
		return nil, fmt.Errorf("auth: unknown key id %q (the JWKS was fetched less than %s ago)", kid, k.interval)
	}
	return k.remote.VerifySignature(ctx, jwt)
}

// mayTry reports whether a token with kid may go to the RemoteKeySet: its
// kid was in the JWKS last fetched, or a new fetch is allowed now.
func (k *keySet) mayTry(kid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.kids[kid]; ok {
		return true
	}
	return !k.now().Before(k.next)
}

// take reports whether a JWKS request may go out now and, if so, closes the
// window for the next interval.
func (k *keySet) take() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if now.Before(k.next) {
		return false
	}
	k.next = now.Add(k.interval)
	return true
}

// fetched records the outcome of a JWKS request: the key ids it returned, or
// ok false for a failure, after which the next request may follow sooner.
func (k *keySet) fetched(kids map[string]struct{}, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ok {
		k.kids = kids
		return
	}
	k.next = k.now().Add(min(jwksRetryAfterFailure, k.interval))
}

// jwksGate is the RoundTripper of the keySet's HTTP client.
type jwksGate struct {
	keys *keySet
	next http.RoundTripper
}

// maxJWKSBytes bounds the JWKS document the gate reads.
const maxJWKSBytes = 1 << 20

func (g *jwksGate) RoundTrip(req *http.Request) (*http.Response, error) {
	// req.Response is set when the client follows a redirect of a request
	// the gate already let through.
	if req.Response == nil && !g.keys.take() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errJWKSRefetchSuppressed
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		g.keys.fetched(nil, false)
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp, nil // the client follows it; the next hop records the outcome
	}
	if resp.StatusCode != http.StatusOK {
		g.keys.fetched(nil, false)
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	resp.Body.Close()
	if err != nil {
		g.keys.fetched(nil, false)
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		g.keys.fetched(nil, false)
		return nil, fmt.Errorf("auth: the JWKS is larger than %d bytes", maxJWKSBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var set struct {
		Keys []struct {
			KeyID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		g.keys.fetched(nil, false)
		return resp, nil // RemoteKeySet reports the decoding error
	}
	kids := make(map[string]struct{}, len(set.Keys))
	for _, key := range set.Keys {
		kids[key.KeyID] = struct{}{}
	}
	g.keys.fetched(kids, true)
	return resp, nil
}
