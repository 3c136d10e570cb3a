package devoidc

import (
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// user is who signed in on the sign-in page.
type user struct {
	Subject string // "dev:" + the lowercased email
	Email   string // as entered (trimmed)
	Name    string
	Admin   bool // "Platform admin" was ticked
}

// subjectFor is the stable subject of an email address.
func subjectFor(email string) string { return "dev:" + strings.ToLower(email) }

// authRequest is an authorization request from its arrival at the
// authorization endpoint until its code is exchanged (or it expires). The
// storage hands out copies, so the op package never sees one change.
type authRequest struct {
	ID           string
	Created      time.Time
	ClientID     string
	RedirectURI  string
	State        string
	Nonce        string
	Scopes       []string
	ResponseType oidc.ResponseType
	ResponseMode oidc.ResponseMode
	Challenge    string // S256 code challenge; a request without one is never stored
	LoginHint    string
	Audience     []string

	User     *user // nil until the sign-in form is submitted
	AuthTime time.Time
	Code     string // set once the code is issued
	CodeTime time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string         { return a.ID }
func (a *authRequest) GetACR() string        { return "" }
func (a *authRequest) GetAMR() []string      { return nil }
func (a *authRequest) GetAudience() []string { return slices.Clone(a.Audience) }
func (a *authRequest) GetAuthTime() time.Time {
	return a.AuthTime
}
func (a *authRequest) GetClientID() string { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.Challenge, Method: oidc.CodeChallengeMethodS256}
}
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                { return slices.Clone(a.Scopes) }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string {
	if a.User == nil {
		return ""
	}
	return a.User.Subject
}
func (a *authRequest) Done() bool { return a.User != nil }

func (a *authRequest) clone() *authRequest {
	c := *a
	c.Scopes = slices.Clone(a.Scopes)
	c.Audience = slices.Clone(a.Audience)
	if a.User != nil {
		u := *a.User
		c.User = &u
	}
	return &c
}

// refreshToken is a stored refresh token. Every token of one sign-in
// shares a Family: rotation replaces the token, and presenting a token that
// was already rotated away revokes the whole family (the token leaked, or
// two parties hold it).
type refreshToken struct {
	Token    string
	ID       string
	Family   string
	ClientID string
	User     user
	Scopes   []string
	Audience []string
	AuthTime time.Time
	Expires  time.Time
}

// refreshRequest is what a refresh grant works on: a copy of a stored
// token, with the scopes the client narrowed the request to, if any.
type refreshRequest struct {
	token   refreshToken
	current []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return nil }
func (r *refreshRequest) GetAudience() []string  { return slices.Clone(r.token.Audience) }
func (r *refreshRequest) GetAuthTime() time.Time { return r.token.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.token.ClientID }
func (r *refreshRequest) GetScopes() []string {
	if r.current != nil {
		return slices.Clone(r.current)
	}
	return slices.Clone(r.token.Scopes)
}
func (r *refreshRequest) GetSubject() string               { return r.token.User.Subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.current = slices.Clone(scopes) }

// userOf returns the user a token request is about.
func userOf(req any) (user, bool) {
	switch r := req.(type) {
	case *authRequest:
		if r.User != nil {
			return *r.User, true
		}
	case *refreshRequest:
		return r.token.User, true
	}
	return user{}, false
}
