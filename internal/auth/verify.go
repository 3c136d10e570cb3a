// Package auth turns credentials into a domain.Principal and decides
// whether a principal may do what an operation declares it needs.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Users provisions users just in time.
type Users interface {
	ProvisionUser(ctx context.Context, u domain.User) (domain.User, error)
}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	Issuer     string
	Audience   string
	AdminRole  string
	RolesClaim string
	HTTPClient *http.Client // for discovery and JWKS; nil: a client with a 10 s timeout
	// JWKSRefetchInterval is the least time between two JWKS requests: a
	// token with an unknown key id triggers at most one refetch per interval
	// and is rejected without a request otherwise. 0: 30 s.
	JWKSRefetchInterval time.Duration
}

// Verifier verifies OIDC access tokens with go-oidc and provisions their
// users. The provider is discovered lazily, on the first token, so the API
// starts even while the identity provider is unreachable. Its JWKS (the
// discovery document's jwks_uri) is fetched through a keySet, so tokens with
// unknown key ids cannot make the API hammer the identity provider.
type Verifier struct {
	opts  VerifierOptions
	users Users
	base  context.Context // lives as long as the process: go-oidc's key set uses it

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time

	cache principalCache
}

// NewVerifier returns a Verifier. base must outlive the Verifier.
func NewVerifier(base context.Context, opts VerifierOptions, users Users) *Verifier {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.RolesClaim == "" {
		opts.RolesClaim = "roles"
	}
	if opts.JWKSRefetchInterval <= 0 {
		opts.JWKSRefetchInterval = DefaultJWKSRefetchInterval
	}
	return &Verifier{opts: opts, users: users, base: base}
}

func (v *Verifier) oidcVerifier() (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if time.Since(v.lastTry) < 2*time.Second {
		return nil, errors.New("identity provider discovery failed recently")
	}
	v.lastTry = time.Now()
	ctx := oidc.ClientContext(v.base, v.opts.HTTPClient)
	p, err := oidc.NewProvider(ctx, v.opts.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
	}
	if meta.JWKSURI == "" {
		return nil, errors.New("the discovery document has no jwks_uri")
	}
	keys := newKeySet(v.base, meta.JWKSURI, v.opts.HTTPClient, v.opts.JWKSRefetchInterval, []jose.SignatureAlgorithm{jose.RS256})
	v.verifier = oidc.NewVerifier(v.opts.Issuer, keys, &oidc.Config{ClientID: v.opts.Audience, SupportedSigningAlgs: []string{oidc.RS256}})
	return v.verifier, nil
}

var errUnauthenticated = domain.Errorf(domain.CodeUnauthenticated, "The access token is not valid.")

// Authenticate verifies a bearer token and returns its principal.
func (v *Verifier) Authenticate(ctx context.Context, raw string) (*domain.Principal, error) {
	if p := v.cache.get(raw); p != nil {
		return p, nil
	}
	ov, err := v.oidcVerifier()
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeUnavailable, Message: "The identity provider is unavailable.",
			RetryAfter: 5 * time.Second, Err: fmt.Errorf("auth: discovery: %w", err)}
	}
	tok, err := ov.Verify(ctx, raw)
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeUnauthenticated, Message: errUnauthenticated.Message, Err: err}
	}
	var claims struct {
		NotBefore         *int64 `json:"nbf"`
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
		Name              string `json:"name"`
	}
	if err := tok.Claims(&claims); err != nil {
		return nil, &domain.Error{Code: domain.CodeUnauthenticated, Message: errUnauthenticated.Message, Err: err}
	}
	if claims.NotBefore != nil && time.Unix(*claims.NotBefore, 0).After(time.Now().Add(30*time.Second)) {
		return nil, domain.Errorf(domain.CodeUnauthenticated, "The access token is not valid yet.")
	}
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return nil, &domain.Error{Code: domain.CodeUnauthenticated, Message: errUnauthenticated.Message, Err: err}
	}
	email := claims.Email
	if email == "" && strings.Contains(claims.PreferredUsername, "@") {
		email = claims.PreferredUsername
	}
	u, err := v.users.ProvisionUser(ctx, domain.User{Issuer: tok.Issuer, Subject: tok.Subject, Email: email, Name: claims.Name})
	if err != nil {
		return nil, err
	}
	p := &domain.Principal{UserID: u.ID, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name,
		Method: domain.AuthOIDC, PlatformAdmin: hasRole(all[v.opts.RolesClaim], v.opts.AdminRole)}
	v.cache.put(raw, p, tok.Expiry)
	return p, nil
}

func hasRole(claim any, role string) bool {
	if role == "" {
		return false
	}
	switch c := claim.(type) {
	case []any:
		return slices.ContainsFunc(c, func(v any) bool { s, _ := v.(string); return s == role })
	case string:
		return slices.Contains(strings.Fields(c), role)
	}
	return false
}

// principalCache remembers verified tokens for a short while, so a burst of
// calls with one token verifies and provisions once.
type principalCache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	p       *domain.Principal
	expires time.Time
}

const (
	cacheTTL  = 30 * time.Second
	cacheSize = 10000
)

func (c *principalCache) get(raw string) *domain.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[raw]
	if !ok || time.Now().After(e.expires) {
		return nil
	}
	return e.p
}

func (c *principalCache) put(raw string, p *domain.Principal, tokenExpiry time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheSize {
		c.m = make(map[string]cached)
	}
	exp := time.Now().Add(cacheTTL)
	if tokenExpiry.Before(exp) {
		exp = tokenExpiry
	}
	c.m[raw] = cached{p: p, expires: exp}
}
