package devoidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Bounds of the in-memory storage. When a map is full, expired entries go
// first, then the oldest.
const (
	maxAuthRequests  = 1000
	maxRefreshTokens = 10000
	maxUsers         = 1000
	authRequestTTL   = 10 * time.Minute // from /authorize to the code exchange
	codeTTL          = 2 * time.Minute  // from the code's issue to its exchange
)

// storage keeps auth requests, codes, refresh tokens and the users seen, in
// memory (dev only: a restart signs everyone out). It implements op.Storage
// for the one client it knows.
type storage struct {
	client     *client
	audience   string
	rolesClaim string
	adminRole  string
	key        *rsa.PrivateKey
	kid        string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time

	mu       sync.Mutex
	requests map[string]*authRequest  // by id
	codes    map[string]string        // code -> auth request id
	refresh  map[string]*refreshToken // by token value
	rotated  map[string]rotatedToken  // tokens rotated away -> their family
	users    map[string]userSeen      // by subject, for userinfo
}

type rotatedToken struct {
	family  string
	expires time.Time
}

type userSeen struct {
	user user
	seen time.Time
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
)

var errNotFound = errors.New("devoidc: not found")

func newStorage(c *client, audience, rolesClaim, adminRole string, key *rsa.PrivateKey, kid string, accessTTL, refreshTTL time.Duration) *storage {
	return &storage{
		client: c, audience: audience, rolesClaim: rolesClaim, adminRole: adminRole, key: key, kid: kid,
		accessTTL: accessTTL, refreshTTL: refreshTTL, now: time.Now,
		requests: map[string]*authRequest{}, codes: map[string]string{},
		refresh: map[string]*refreshToken{}, rotated: map[string]rotatedToken{}, users: map[string]userSeen{},
	}
}

// pruneMap removes expired entries of m and, while it still holds max or
// more, the oldest ones.
func pruneMap[V any](m map[string]V, max int, expires func(V) time.Time, now time.Time) {
	for k, v := range m {
		if !expires(v).After(now) {
			delete(m, k)
		}
	}
	for len(m) >= max {
		var oldest string
		var at time.Time
		for k, v := range m {
			if e := expires(v); oldest == "" || e.Before(at) {
				oldest, at = k, e
			}
		}
		delete(m, oldest)
	}
}

func (a *authRequest) expires() time.Time {
	if a.Code != "" {
		return a.CodeTime.Add(codeTTL)
	}
	return a.Created.Add(authRequestTTL)
}

// CreateAuthRequest stores a validated authorization request. It refuses
// one without a PKCE S256 challenge (the client is public) and prompt=none
// (there are no sessions to sign in silently with).
func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.ClientID != s.client.id {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send a code_challenge with code_challenge_method=S256")
	}
	if len(r.CodeChallenge) < 43 || len(r.CodeChallenge) > 128 {
		return nil, oidc.ErrInvalidRequest().WithDescription("the code_challenge is not a S256 challenge")
	}
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired().WithDescription("the dev issuer keeps no sessions: sign in on its page")
	}
	now := s.now()
	a := &authRequest{
		ID: uuid.NewString(), Created: now, ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State,
		Nonce: r.Nonce, Scopes: slices.Clone(r.Scopes), ResponseType: r.ResponseType, ResponseMode: r.ResponseMode,
		Challenge: r.CodeChallenge, LoginHint: r.LoginHint, Audience: []string{s.audience},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneRequests(now)
	s.requests[a.ID] = a
	return a.clone(), nil
}

func (s *storage) pruneRequests(now time.Time) {
	if len(s.requests) < maxAuthRequests {
		return
	}
	pruneMap(s.requests, maxAuthRequests, (*authRequest).expires, now)
	for code, id := range s.codes {
		if _, ok := s.requests[id]; !ok {
			delete(s.codes, code)
		}
	}
}

// request returns a copy of the live auth request id.
func (s *storage) request(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || !a.expires().After(s.now()) {
		return nil, false
	}
	return a.clone(), true
}

// AuthRequestByID returns a copy of a live auth request.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	a, ok := s.request(id)
	if !ok {
		return nil, oidc.ErrInvalidRequest().WithDescription("the sign-in request is unknown or expired").WithParent(errNotFound)
	}
	return a, nil
}

// AuthRequestByCode returns the auth request a live code was issued for.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errNotFound
	}
	a, ok := s.requests[id]
	if !ok || a.Code != code || !a.expires().After(s.now()) {
		return nil, errNotFound
	}
	return a.clone(), nil
}

// SaveAuthCode records the code issued for a signed-in auth request.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || a.User == nil || a.Code != "" {
		return oidc.ErrInvalidRequest().WithDescription("the sign-in request is unknown, not signed in or already used")
	}
	a.Code, a.CodeTime = code, s.now()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets an auth request and its code: a code is used once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		delete(s.codes, a.Code)
		delete(s.requests, id)
	}
	return nil
}

// completeLogin marks the auth request id as signed in by u, and reports
// whether it was still waiting for a sign-in.
func (s *storage) completeLogin(id string, u user) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok || a.User != nil || !a.expires().After(s.now()) {
		return false
	}
	now := s.now()
	a.User, a.AuthTime = &u, now
	if _, ok := s.users[u.Subject]; !ok && len(s.users) >= maxUsers {
		pruneMap(s.users, maxUsers, func(v userSeen) time.Time { return v.seen.Add(s.refreshTTL) }, now)
	}
	s.users[u.Subject] = userSeen{user: u, seen: now}
	return true
}

// CreateAccessToken returns the id and expiry of a new (JWT) access token.
func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return uuid.NewString(), s.now().Add(s.accessTTL), nil
}

// CreateAccessAndRefreshTokens returns an access token's id and expiry and
// a new refresh token. Given the refresh token being exchanged, it rotates:
// that token stops working.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	now := s.now()
	next := &refreshToken{ID: uuid.NewString(), Expires: now.Add(s.refreshTTL)}
	var err error
	if next.Token, err = randomToken(); err != nil {
		return "", "", time.Time{}, err
	}
	switch r := req.(type) {
	case *authRequest:
		if r.User == nil {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("not signed in")
		}
		next.Family, next.ClientID, next.User = uuid.NewString(), r.ClientID, *r.User
		next.Scopes, next.Audience, next.AuthTime = slices.Clone(r.Scopes), slices.Clone(r.Audience), r.AuthTime
	case *refreshRequest:
		t := r.token
		next.Family, next.ClientID, next.User = t.Family, t.ClientID, t.User
		next.Scopes, next.Audience, next.AuthTime = slices.Clone(t.Scopes), slices.Clone(t.Audience), t.AuthTime
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		old, ok := s.refresh[current]
		if !ok || old.Family != next.Family || !old.Expires.After(now) {
			// Used twice (a concurrent or replayed refresh): the family ends.
			s.revokeFamily(next.Family)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token was already used")
		}
		delete(s.refresh, current)
		s.rotated[current] = rotatedToken{family: old.Family, expires: old.Expires}
		if len(s.rotated) >= maxRefreshTokens {
			pruneMap(s.rotated, maxRefreshTokens, func(v rotatedToken) time.Time { return v.expires }, now)
		}
	}
	if len(s.refresh) >= maxRefreshTokens {
		pruneMap(s.refresh, maxRefreshTokens, func(v *refreshToken) time.Time { return v.Expires }, now)
	}
	s.refresh[next.Token] = next
	return uuid.NewString(), next.Token, now.Add(s.accessTTL), nil
}

// revokeFamily removes every live token of a family. Callers hold mu.
func (s *storage) revokeFamily(family string) {
	for k, t := range s.refresh {
		if t.Family == family {
			delete(s.refresh, k)
		}
	}
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// TokenRequestByRefreshToken returns a copy of a live refresh token. A
// token that was rotated away revokes its family.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[token]
	if !ok {
		if r, reused := s.rotated[token]; reused {
			s.revokeFamily(r.family)
		}
		return nil, errNotFound
	}
	if !t.Expires.After(s.now()) {
		delete(s.refresh, token)
		return nil, errNotFound
	}
	c := *t
	c.Scopes, c.Audience = slices.Clone(t.Scopes), slices.Clone(t.Audience)
	return &refreshRequest{token: c}, nil
}

// TerminateSession ends a user's sign-in with a client: their refresh
// tokens stop working.
func (s *storage) TerminateSession(_ context.Context, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.refresh {
		if t.User.Subject == subject && t.ClientID == clientID {
			delete(s.refresh, k)
		}
	}
	return nil
}

// RevokeToken revokes a refresh token, named by its id (with its subject,
// as op passes it after GetRefreshTokenInfo) or by its value. Access tokens
// are JWTs: they run until they expire.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, subject, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.refresh {
		if k == tokenOrID || (t.ID == tokenOrID && t.User.Subject == subject) {
			if t.ClientID != clientID {
				return oidc.ErrInvalidClient().WithDescription("the token belongs to another client")
			}
			delete(s.refresh, k)
			return nil
		}
	}
	return nil
}

// GetRefreshTokenInfo returns the subject and id of a live refresh token.
func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[token]
	if !ok || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.User.Subject, t.ID, nil
}
