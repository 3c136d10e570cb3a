// Package devoidc is the dev issuer as a real OpenID provider, for dev mode
// only: the console (a browser SPA, code + PKCE) signs in on its page with
// any email address. The protocol is github.com/zitadel/oidc's op package;
// this package holds its in-memory storage, the one client (the console)
// and the sign-in page. Tokens are signed with the dev issuer's key under
// its kid, so the API verifies them as it verifies auth.DevIssuer.Mint's.
package devoidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/conveyorhq/conveyor/internal/auth"
)

// ConsoleClientID is the console's client id when Options.ClientID is
// empty (config.DevConsoleClientID, the dev mode default).
const ConsoleClientID = "conveyor-console"

// CallbackPath is the console's redirect URI's path, under the public URL.
const CallbackPath = "/auth/callback"

// Endpoints, under the issuer.
const (
	loginPath      = "/login" // the sign-in page
	authorizePath  = "authorize"
	tokenPath      = "token"
	keysPath       = "jwks" // where auth.DevIssuer's handler publishes the JWKS
	endSessionPath = "end_session"
	userinfoPath   = "userinfo"
	revocationPath = "revoke"

	maxRequestBytes = 64 << 10
)

// Options configures a Provider.
type Options struct {
	Issuer     *auth.DevIssuer // URL, audience, key and kid
	PublicURL  string          // where the console is served: redirect URIs are {PublicURL}/auth/callback, post-logout {PublicURL}/
	ClientID   string          // "": ConsoleClientID
	AdminRole  string          // the roles claim value of a platform admin
	RolesClaim string          // "": "roles"
	// ExtraScopes are scopes the client may ask for beyond openid, profile,
	// email and offline_access (e.g. the console's configured scopes); other
	// scopes are dropped from a request.
	ExtraScopes     []string
	AccessTokenTTL  time.Duration // 0: 15 minutes
	RefreshTokenTTL time.Duration // 0: 12 hours
}

// Provider is the dev OpenID provider, an http.Handler for every path under
// the issuer's path (e.g. /dev/oidc/...).
type Provider struct {
	issuer    string
	prefix    string // the issuer URL's path
	origin    string // the issuer URL's origin
	publicURL string
	opHandler http.Handler
	storage   *storage
	callback  func(ctx context.Context, id string) string // op's authorize callback URL
	csp       string                                      // the sign-in page's Content-Security-Policy
}

// New builds the provider for opts.
func New(opts Options) (*Provider, error) {
	if opts.Issuer == nil {
		return nil, errors.New("devoidc: no dev issuer")
	}
	issuer := strings.TrimRight(opts.Issuer.Issuer(), "/")
	iu, err := url.Parse(issuer)
	if err != nil || iu.Host == "" || iu.Path == "" {
		return nil, errors.New("devoidc: the issuer must be an absolute URL with a path")
	}
	pu, err := url.Parse(strings.TrimRight(opts.PublicURL, "/"))
	if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, errors.New("devoidc: the public URL must be an absolute http(s) URL")
	}
	if opts.ClientID == "" {
		opts.ClientID = ConsoleClientID
	}
	if opts.RolesClaim == "" {
		opts.RolesClaim = "roles"
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = 15 * time.Minute
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = 12 * time.Hour
	}
	origins := []*url.URL{pu}
	if twin, ok := twinOrigin(pu); ok {
		origins = append(origins, twin)
	}
	standard := []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess}
	var extra []string
	for _, sc := range opts.ExtraScopes {
		if !slices.Contains(standard, sc) && !slices.Contains(extra, sc) {
			extra = append(extra, sc)
		}
	}
	c := &client{id: opts.ClientID, loginURL: issuer + loginPath, idTokenTTL: opts.AccessTokenTTL, extraAllowed: extra}
	var originList []string
	for _, o := range origins {
		base := strings.TrimRight(o.String(), "/")
		c.redirects = append(c.redirects, base+CallbackPath)
		c.postLogout = append(c.postLogout, base+"/")
		originList = append(originList, o.Scheme+"://"+o.Host)
	}
	key, kid := opts.Issuer.SigningKey()
	st := newStorage(c, opts.Issuer.Audience(), opts.RolesClaim, opts.AdminRole, key, kid, opts.AccessTokenTTL, opts.RefreshTokenTTL)

	cfg := &op.Config{
		DefaultLogoutRedirectURI: c.postLogout[0],
		CodeMethodS256:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          append(standard, extra...),
	}
	if _, err := rand.Read(cfg.CryptoKey[:]); err != nil {
		return nil, err
	}
	cfg.CryptoKeyId = "dev"
	provider, err := op.NewProvider(cfg, st, op.StaticIssuer(issuer),
		op.WithAllowInsecure(), // dev mode serves http on loopback
		op.WithCustomAuthEndpoint(op.NewEndpoint(authorizePath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(tokenPath)),
		op.WithCustomKeysEndpoint(op.NewEndpoint(keysPath)),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(endSessionPath)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(userinfoPath)),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(revocationPath)),
		// The console is served on the API's origin; only its loopback twin
		// (localhost for 127.0.0.1 and back) is another origin.
		op.WithCORSOptions(&cors.Options{
			AllowedOrigins: originList,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Accept", "Authorization", "Content-Type"},
		}),
	)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		issuer: issuer, prefix: strings.TrimRight(iu.Path, "/"), origin: iu.Scheme + "://" + iu.Host, publicURL: strings.TrimRight(pu.String(), "/"),
		storage: st, callback: op.AuthCallbackURL(provider), csp: pageCSP(originList),
	}
	p.opHandler = http.StripPrefix(p.prefix, provider)
	return p, nil
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// ServeHTTP serves the sign-in page at {issuer}/login and the protocol's
// endpoints (discovery, authorize, token, jwks, userinfo, revoke,
// end_session) below the issuer.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	switch {
	case r.URL.Path == p.prefix+loginPath:
		p.login(w, r)
	case strings.HasPrefix(r.URL.Path, p.prefix+"/"):
		// op answers a form it cannot parse with a 500 on some endpoints:
		// parse it here, so bad input is an OAuth error and a 400.
		if err := r.ParseForm(); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "the request's form or query cannot be parsed"})
			return
		}
		p.opHandler.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}
