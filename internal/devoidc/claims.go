package devoidc

import (
	"context"
	"crypto/rsa"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The storage's keys, its client, and the claims it puts in tokens.

type signingKey struct {
	key *rsa.PrivateKey
	kid string
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

type publicKey struct {
	key *rsa.PublicKey
	kid string
}

func (k publicKey) ID() string                         { return k.kid }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

// SigningKey is the dev issuer's key, under its kid.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{key: s.key, kid: s.kid}, nil
}

// SignatureAlgorithms is RS256 only.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet is the JWKS: the dev issuer's public key.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{key: &s.key.PublicKey, kid: s.kid}}, nil
}

// GetClientByClientID knows the console only.
func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.client.id {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	return s.client, nil
}

// AuthorizeClientIDSecret refuses every secret: there are no confidential
// clients.
func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return oidc.ErrInvalidClient().WithDescription("no client authenticates with a secret here")
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	u, ok := userOf(req)
	if !ok {
		return oidc.ErrInvalidRequest().WithDescription("not signed in")
	}
	s.fillUserinfo(info, u, scopes)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint from the last sign-in
// of the token's subject.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	s.mu.Lock()
	seen, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return oidc.ErrInvalidRequest().WithDescription("unknown user")
	}
	s.fillUserinfo(info, seen.user, []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail})
	return nil
}

func (s *storage) fillUserinfo(info *oidc.UserInfo, u user, scopes []string) {
	// op copies Subject into the ID token's sub: it must always be set.
	info.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = u.Name
		info.PreferredUsername = u.Email
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = u.Email
		info.EmailVerified = true
	}
	if u.Admin {
		info.AppendClaims(s.rolesClaim, []string{s.adminRole})
	}
}

// GetPrivateClaimsFromRequest adds the API's claims to access tokens:
// email, name and, for a platform admin, the admin role.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	u, ok := userOf(req)
	if !ok {
		return nil, oidc.ErrInvalidRequest().WithDescription("not signed in")
	}
	claims := map[string]any{"email": u.Email, "name": u.Name}
	if u.Admin {
		claims[s.rolesClaim] = []string{s.adminRole}
	}
	return claims, nil
}

// GetPrivateClaimsFromScopes is not used: GetPrivateClaimsFromRequest is.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// SetIntrospectionFromToken is unreachable: introspection needs a
// confidential client.
func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return oidc.ErrInvalidClient().WithDescription("introspection is not offered")
}

// GetKeyByIDAndClientID: no client signs JWT assertions.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, oidc.ErrInvalidClient().WithDescription("no client signs assertions here")
}

// ValidateJWTProfileScopes: the JWT profile grant is not offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// Health reports the storage ready: it is memory.
func (s *storage) Health(context.Context) error { return nil }
