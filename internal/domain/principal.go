package domain

import (
	"context"

	"github.com/google/uuid"
)

// AuthMethod says how a principal authenticated.
type AuthMethod string

// The ways to authenticate.
const (
	AuthOIDC   AuthMethod = "oidc"
	AuthAPIKey AuthMethod = "api_key"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID        uuid.UUID
	Issuer        string
	Subject       string
	Email         string
	Name          string
	Method        AuthMethod
	PlatformAdmin bool
}

// Key identifies the principal for per-principal state (read-your-writes,
// rate limits).
func (p *Principal) Key() string { return "user:" + p.UserID.String() }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil for an anonymous context
// (a worker, a migration).
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
