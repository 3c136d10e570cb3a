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
	// APIKey is set when the principal is an API key: it acts in one team
	// with one role, and UserID is zero.
	APIKey *APIKeyScope
}

// APIKeyScope is what an API key may do.
type APIKeyScope struct {
	ID     uuid.UUID
	TeamID uuid.UUID
	Role   TeamRole
	Name   string
	Prefix string
}

// Key identifies the principal for per-principal state (read-your-writes,
// rate limits).
func (p *Principal) Key() string {
	if p.APIKey != nil {
		return APIKeyPrincipalKey(p.APIKey.Prefix)
	}
	return "user:" + p.UserID.String()
}

// APIKeyPrincipalKey is the principal key of the API key with prefix. It is
// known before the key is looked up, so the lookup itself can read its own
// key's latest state (creation, revocation).
func APIKeyPrincipalKey(prefix string) string { return "apikey:" + prefix }

// CreatedBy is the user to record as the creator of what p creates: nil
// for API keys.
func (p *Principal) CreatedBy() *uuid.UUID {
	if p == nil || p.APIKey != nil {
		return nil
	}
	id := p.UserID
	return &id
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

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
