package devoidc

import (
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is the one registered client: the console, a public browser
// client (no secret) that must use PKCE S256.
type client struct {
	id           string
	redirects    []string
	postLogout   []string
	loginURL     string // the sign-in page; the auth request id is appended
	idTokenTTL   time.Duration
	extraAllowed []string // scopes beyond the standard ones
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return slices.Clone(c.redirects) }
func (c *client) PostLogoutRedirectURIs() []string    { return slices.Clone(c.postLogout) }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeUserAgent }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodNone }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTokenTTL }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.extraAllowed, scope) }
func (c *client) LoginURL(id string) string            { return c.loginURL + "?id=" + url.QueryEscape(id) }

// DevMode allows http:// redirect URIs: this client only exists in dev mode.
func (c *client) DevMode() bool { return true }

func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// twinOrigin returns u with 127.0.0.1 and localhost swapped, and whether
// u's host is one of them: a browser at http://localhost:8080 is not at the
// same origin as http://127.0.0.1:8080, but both reach a loopback API.
func twinOrigin(u *url.URL) (*url.URL, bool) {
	var host string
	switch u.Hostname() {
	case "127.0.0.1":
		host = "localhost"
	case "localhost":
		host = "127.0.0.1"
	default:
		return nil, false
	}
	t := *u
	if p := u.Port(); p != "" {
		host += ":" + p
	}
	t.Host = host
	return &t, true
}
