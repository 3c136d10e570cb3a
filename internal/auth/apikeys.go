package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// APIKeyPrefix starts every API key secret, so a secret is recognisable
// (in logs, by secret scanners) and never mistaken for a JWT.
const APIKeyPrefix = "cvk_"

// prefixLen is how much of a secret is kept in clear to find its row.
const prefixLen = len(APIKeyPrefix) + 10

// NewAPIKeySecret returns a fresh secret (256 random bits), the prefix kept
// in clear to find it, and the hash that is stored.
func NewAPIKeySecret() (secret, prefix string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", nil, err
	}
	secret = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, secret[:prefixLen], sum[:], nil
}

// IsAPIKeySecret reports whether s looks like an API key secret.
func IsAPIKeySecret(s string) bool {
	return strings.HasPrefix(s, APIKeyPrefix) && len(s) == len(APIKeyPrefix)+43
}

// APIKeys is what API key authentication needs from the database.
type APIKeys interface {
	APIKeyByPrefix(ctx context.Context, prefix string) (domain.APIKey, []byte, error)
}

// APIKeyAuthenticator turns an API key secret into a principal.
type APIKeyAuthenticator struct {
	Keys APIKeys
	// Uses records when each key was last used; nil: not recorded.
	Uses *KeyUse
}

var errBadKey = domain.Errorf(domain.CodeUnauthenticated, "The API key is not valid.")

// Authenticate returns the principal of a live key. The secret's hash is
// compared in constant time; unknown, malformed and revoked keys all get
// the same answer.
func (a *APIKeyAuthenticator) Authenticate(ctx context.Context, secret string) (*domain.Principal, error) {
	if !IsAPIKeySecret(secret) {
		return nil, errBadKey
	}
	k, hash, err := a.Keys.APIKeyByPrefix(ctx, secret[:prefixLen])
	if domain.IsNotFound(err) {
		return nil, errBadKey
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 || k.RevokedAt != nil {
		return nil, errBadKey
	}
	a.Uses.Note(k.ID)
	return &domain.Principal{Method: domain.AuthAPIKey, Name: k.Name,
		APIKey: &domain.APIKeyScope{ID: k.ID, TeamID: k.TeamID, Role: k.Role, Name: k.Name, Prefix: k.Prefix}}, nil
}
