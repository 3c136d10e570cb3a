// Package devoidctest signs in against the dev OpenID provider the way the
// console's browser does (authorization code + PKCE S256, the sign-in page's
// form, the token endpoint), with a plain net/http client and a cookie jar,
// for tests.
package devoidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is an HTTP client with a cookie jar that does not follow
// redirects, so a test sees each step.
type Browser struct {
	Client *http.Client
}

// NewBrowser returns a Browser.
func NewBrowser(tb testing.TB) *Browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Browser{Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Page is one answer: its response (body already read) and body.
type Page struct {
	*http.Response
	Body string
}

// Location is the answer's redirect target, resolved against its URL.
func (p Page) Location(tb testing.TB) *url.URL {
	tb.Helper()
	loc, err := p.Response.Location()
	if err != nil {
		tb.Fatalf("%s %s -> %d: no Location (%v): %.300s", p.Request.Method, p.Request.URL, p.StatusCode, err, p.Body)
	}
	return loc
}

// Do sends req and reads the whole answer.
func (b *Browser) Do(tb testing.TB, req *http.Request) Page {
	tb.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatal(err)
	}
	return Page{Response: resp, Body: string(body)}
}

// Get fetches u.
func (b *Browser) Get(tb testing.TB, u string) Page {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b.Do(tb, req)
}

// PostForm posts form to u, with the Origin header a browser sends (empty:
// none).
func (b *Browser) PostForm(tb testing.TB, u, origin string, form url.Values) Page {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.Do(tb, req)
}

// PKCE is a code verifier and its S256 challenge.
type PKCE struct {
	Verifier, Challenge string
}

// NewPKCE returns a fresh verifier and challenge (RFC 7636).
func NewPKCE() PKCE {
	v := Random()
	sum := sha256.Sum256([]byte(v))
	return PKCE{Verifier: v, Challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// Random returns 32 random bytes, base64url-encoded (a state, a nonce or a
// verifier).
func Random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Request is an authorization request and who signs in for it.
type Request struct {
	Issuer      string
	ClientID    string // "": conveyor-console
	RedirectURI string
	Scope       string // "": openid profile email offline_access
	Email, Name string
	Admin       bool
}

func (r *Request) defaults() {
	if r.ClientID == "" {
		r.ClientID = "conveyor-console"
	}
	if r.Scope == "" {
		r.Scope = "openid profile email offline_access"
	}
}

// AuthorizeQuery is the query of the authorization request r makes, with
// pkce's challenge, state and nonce.
func (r Request) AuthorizeQuery(pkce PKCE, state, nonce string) url.Values {
	r.defaults()
	return url.Values{
		"client_id": {r.ClientID}, "redirect_uri": {r.RedirectURI}, "response_type": {"code"},
		"scope": {r.Scope}, "state": {state}, "nonce": {nonce},
		"code_challenge": {pkce.Challenge}, "code_challenge_method": {"S256"},
	}
}

var hiddenID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)

// FormID returns the auth request id the sign-in page's form carries.
func FormID(tb testing.TB, page string) string {
	tb.Helper()
	m := hiddenID.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("the sign-in page has no request id: %.500s", page)
	}
	return html.UnescapeString(m[1])
}

// Authorize runs r up to the redirect back to the client: the authorization
// request, the sign-in page, its form, the callback. It returns the
// redirect's URL (with code and state).
func (b *Browser) Authorize(tb testing.TB, r Request, pkce PKCE, state, nonce string) *url.URL {
	tb.Helper()
	r.defaults()
	start := b.Get(tb, r.Issuer+"/authorize?"+r.AuthorizeQuery(pkce, state, nonce).Encode())
	if start.StatusCode != http.StatusFound {
		tb.Fatalf("authorize -> %d, want 302 to the sign-in page: %.300s", start.StatusCode, start.Body)
	}
	login := start.Location(tb)
	page := b.Get(tb, login.String())
	if page.StatusCode != http.StatusOK {
		tb.Fatalf("sign-in page -> %d: %.300s", page.StatusCode, page.Body)
	}
	form := url.Values{"id": {FormID(tb, page.Body)}, "email": {r.Email}, "name": {r.Name}}
	if r.Admin {
		form.Set("admin", "on")
	}
	action := login.Scheme + "://" + login.Host + login.Path
	sent := b.PostForm(tb, action, login.Scheme+"://"+login.Host, form)
	if sent.StatusCode != http.StatusSeeOther {
		tb.Fatalf("sign in -> %d, want 303: %.500s", sent.StatusCode, sent.Body)
	}
	back := b.Get(tb, sent.Location(tb).String())
	if back.StatusCode != http.StatusFound {
		tb.Fatalf("callback -> %d, want 302 to the client: %.300s", back.StatusCode, back.Body)
	}
	return back.Location(tb)
}

// Tokens is a token endpoint's successful answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// Token posts form to the token endpoint and returns the status and the
// decoded JSON answer.
func (b *Browser) Token(tb testing.TB, issuer string, form url.Values) (int, map[string]any) {
	tb.Helper()
	p := b.PostForm(tb, issuer+"/token", "", form)
	var out map[string]any
	if err := json.Unmarshal([]byte(p.Body), &out); err != nil {
		tb.Fatalf("token -> %d, not JSON: %.300s", p.StatusCode, p.Body)
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("token -> %d with Content-Type %q", p.StatusCode, ct)
	}
	return p.StatusCode, out
}

// SignIn runs the whole flow for r and exchanges the code: the tokens.
func (b *Browser) SignIn(tb testing.TB, r Request) Tokens {
	tb.Helper()
	r.defaults()
	pkce, state := NewPKCE(), Random()
	back := b.Authorize(tb, r, pkce, state, Random())
	if got := back.Query().Get("state"); got != state {
		tb.Fatalf("state = %q, want %q", got, state)
	}
	p := b.PostForm(tb, r.Issuer+"/token", "", url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {r.RedirectURI},
		"client_id": {r.ClientID}, "code_verifier": {pkce.Verifier},
	})
	if p.StatusCode != http.StatusOK {
		tb.Fatalf("code exchange -> %d: %.300s", p.StatusCode, p.Body)
	}
	var t Tokens
	if err := json.Unmarshal([]byte(p.Body), &t); err != nil {
		tb.Fatal(err)
	}
	return t
}
