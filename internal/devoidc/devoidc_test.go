package devoidc_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/devoidc"
	"github.com/conveyorhq/conveyor/internal/devoidc/devoidctest"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// idp is the provider on an httptest server, mounted at /dev/oidc like
// `conveyor serve` does, with the console's origin being the server's.
type idp struct {
	*httptest.Server
	issuer   string
	dev      *auth.DevIssuer
	provider *devoidc.Provider
}

func startIdP(t *testing.T, tweak ...func(*devoidc.Options)) *idp {
	t.Helper()
	i := &idp{}
	var handler http.Handler = http.NotFoundHandler()
	i.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(i.Close)
	i.issuer = i.URL + auth.DevIssuerPath
	var err error
	i.dev, err = auth.LoadDevIssuer(filepath.Join(t.TempDir(), "key.pem"), i.issuer, "api://conveyor")
	if err != nil {
		t.Fatal(err)
	}
	opts := devoidc.Options{Issuer: i.dev, PublicURL: i.URL, AdminRole: "Conveyor.Admin"}
	for _, f := range tweak {
		f(&opts)
	}
	i.provider, err = devoidc.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	handler = i.provider
	return i
}

func (i *idp) redirectURI() string { return i.URL + "/auth/callback" }

func (i *idp) request(email, name string, admin bool) devoidctest.Request {
	return devoidctest.Request{Issuer: i.issuer, RedirectURI: i.redirectURI(), Email: email, Name: name, Admin: admin}
}

// verifier is the API's real verifier, pointed at the provider.
func (i *idp) verifier() *auth.Verifier {
	return auth.NewVerifier(context.Background(), auth.VerifierOptions{
		Issuer: i.issuer, Audience: "api://conveyor", AdminRole: "Conveyor.Admin", RolesClaim: "roles",
	}, &users{})
}

// users provisions users in memory, as the store would.
type users struct {
	mu  sync.Mutex
	ids map[string]uuid.UUID
}

func (u *users) ProvisionUser(_ context.Context, in domain.User) (domain.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ids == nil {
		u.ids = map[string]uuid.UUID{}
	}
	id, ok := u.ids[in.Issuer+" "+in.Subject]
	if !ok {
		id = uuid.New()
		u.ids[in.Issuer+" "+in.Subject] = id
	}
	in.ID = id
	return in, nil
}

// claims decodes a JWT's payload without verifying it.
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	c["kid"] = jws.Signatures[0].Header.KeyID
	return c
}

func wantOAuthError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantError string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantError {
		t.Fatalf("%s -> %d %v, want %d with error %q", what, status, body, wantStatus, wantError)
	}
}

// TestDevOIDCBrowserFlow: discovery; the sign-in page; the code flow with
// PKCE S256; tokens the API's verifier accepts; rotating refresh tokens;
// end-session.
func TestDevOIDCBrowserFlow(t *testing.T) {
	i := startIdP(t)
	b := devoidctest.NewBrowser(t)

	disc := b.Get(t, i.issuer+"/.well-known/openid-configuration")
	var doc struct {
		Issuer        string   `json:"issuer"`
		Authorize     string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		JWKS          string   `json:"jwks_uri"`
		EndSession    string   `json:"end_session_endpoint"`
		Methods       []string `json:"code_challenge_methods_supported"`
		Grants        []string `json:"grant_types_supported"`
		Scopes        []string `json:"scopes_supported"`
		ResponseTypes []string `json:"response_types_supported"`
	}
	if err := json.Unmarshal([]byte(disc.Body), &doc); err != nil || disc.StatusCode != http.StatusOK {
		t.Fatalf("discovery -> %d %v: %s", disc.StatusCode, err, disc.Body)
	}
	if doc.Issuer != i.issuer || doc.Authorize != i.issuer+"/authorize" || doc.Token != i.issuer+"/token" ||
		doc.JWKS != i.issuer+"/jwks" || doc.EndSession != i.issuer+"/end_session" ||
		!slices.Equal(doc.Methods, []string{"S256"}) || !slices.Contains(doc.Grants, "refresh_token") ||
		!slices.Contains(doc.Scopes, "offline_access") || !slices.Contains(doc.ResponseTypes, "code") {
		t.Fatalf("discovery = %+v", doc)
	}

	// The sign-in page.
	pkce, state, nonce := devoidctest.NewPKCE(), devoidctest.Random(), devoidctest.Random()
	ada := i.request("Ada.Lovelace@Example.test", "Ada Lovelace", true)
	start := b.Get(t, i.issuer+"/authorize?"+ada.AuthorizeQuery(pkce, state, nonce).Encode())
	if start.StatusCode != http.StatusFound {
		t.Fatalf("authorize -> %d: %s", start.StatusCode, start.Body)
	}
	login := start.Location(t)
	page := b.Get(t, login.String())
	checkSignInPage(t, page)
	id := devoidctest.FormID(t, page.Body)
	action := i.issuer + "/login"

	// Bad input re-shows the page with an error, never a 5xx.
	for _, bad := range []struct{ email, name, want string }{
		{"", "Ada", "Enter your email address."},
		{"   ", "Ada", "Enter your email address."},
		{"not-an-email", "Ada", "Enter an email address like"},
		{"Ada <ada@example.test>", "Ada", "Enter an email address like"},
		{"ada@", "Ada", "Enter an email address like"},
		{"ada@example.test", strings.Repeat("n", 201), "at most 200 characters"},
		{"ada@example.test", "Ada\x07", "no control characters"},
	} {
		p := b.PostForm(t, action, i.URL, url.Values{"id": {id}, "email": {bad.email}, "name": {bad.name}})
		if p.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, bad.want) || !strings.Contains(p.Body, `role="alert"`) ||
			!strings.Contains(p.Body, `aria-invalid="true"`) || devoidctest.FormID(t, p.Body) != id {
			t.Fatalf("email %q name %q -> %d, want the page again with %q: %.800s", bad.email, bad.name, p.StatusCode, bad.want, p.Body)
		}
		checkHeaders(t, p)
	}
	if p := b.PostForm(t, action, "http://evil.example", url.Values{"id": {id}, "email": {"ada@example.test"}}); p.StatusCode != http.StatusForbidden {
		t.Fatalf("a form from another origin -> %d", p.StatusCode)
	}
	if p := b.PostForm(t, action, i.URL, url.Values{"id": {"nope"}, "email": {"ada@example.test"}}); p.StatusCode != http.StatusBadRequest ||
		!strings.Contains(p.Body, "unknown or has expired") {
		t.Fatalf("an unknown request id -> %d: %s", p.StatusCode, p.Body)
	}

	sent := b.PostForm(t, action, i.URL, url.Values{"id": {id}, "email": {ada.Email}, "name": {ada.Name}, "admin": {"on"}})
	if sent.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in -> %d: %s", sent.StatusCode, sent.Body)
	}
	if p := b.PostForm(t, action, i.URL, url.Values{"id": {id}, "email": {"mallory@example.test"}}); p.StatusCode != http.StatusBadRequest {
		t.Fatalf("signing in twice on one request -> %d", p.StatusCode)
	}
	back := b.Get(t, sent.Location(t).String())
	to := back.Location(t)
	if back.StatusCode != http.StatusFound || to.Scheme+"://"+to.Host+to.Path != i.redirectURI() ||
		to.Query().Get("state") != state || to.Query().Get("code") == "" {
		t.Fatalf("callback -> %d to %s", back.StatusCode, to)
	}
	code := to.Query().Get("code")
	exchange := func(verifier string, redirect string) (int, map[string]any) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "client_id": {"conveyor-console"}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		return b.Token(t, i.issuer, form)
	}
	status, body := exchange(devoidctest.NewPKCE().Verifier, i.redirectURI())
	wantOAuthError(t, "a wrong verifier", status, body, http.StatusBadRequest, "invalid_grant")
	status, body = exchange("", i.redirectURI())
	wantOAuthError(t, "no verifier", status, body, http.StatusBadRequest, "invalid_request")
	status, body = exchange(pkce.Verifier, i.URL+"/elsewhere")
	wantOAuthError(t, "another redirect_uri", status, body, http.StatusBadRequest, "invalid_grant")
	status, body = exchange(pkce.Verifier, i.redirectURI())
	if status != http.StatusOK || body["token_type"] != "Bearer" || body["refresh_token"] == "" || body["id_token"] == "" {
		t.Fatalf("code exchange -> %d %v", status, body)
	}
	status, again := exchange(pkce.Verifier, i.redirectURI())
	wantOAuthError(t, "the code a second time", status, again, http.StatusBadRequest, "invalid_grant")
	access, refresh, idToken := body["access_token"].(string), body["refresh_token"].(string), body["id_token"].(string)

	// The API's verifier accepts the access token: same key and kid as Mint.
	v := i.verifier()
	p, err := v.Authenticate(context.Background(), access)
	if err != nil {
		t.Fatalf("the API refuses the access token: %v (claims %v)", err, claims(t, access))
	}
	if p.Issuer != i.issuer || p.Subject != "dev:ada.lovelace@example.test" || p.Email != "Ada.Lovelace@Example.test" ||
		p.Name != "Ada Lovelace" || !p.PlatformAdmin || p.Method != domain.AuthOIDC {
		t.Fatalf("principal = %+v", p)
	}
	minted, err := i.dev.Mint(auth.TokenRequest{Subject: "cli", Email: "cli@example.test", Name: "cli"}, "Conveyor.Admin")
	if err != nil {
		t.Fatal(err)
	}
	ac, mc := claims(t, access), claims(t, minted)
	if ac["kid"] != mc["kid"] {
		t.Fatalf("kid %v, Mint's %v", ac["kid"], mc["kid"])
	}
	if _, err := v.Authenticate(context.Background(), minted); err != nil {
		t.Fatalf("a Mint token no longer verifies: %v", err)
	}
	ic := claims(t, idToken)
	if ic["nonce"] != nonce || ic["sub"] != "dev:ada.lovelace@example.test" || ic["email"] != ada.Email || ic["name"] != ada.Name ||
		ic["azp"] != "conveyor-console" || !slices.Contains(anyStrings(ic["aud"]), "conveyor-console") || ic["iss"] != i.issuer {
		t.Fatalf("id token claims = %v", ic)
	}

	// Refresh tokens rotate; a rotated-away token ends its whole family.
	refreshWith := func(tok string) (int, map[string]any) {
		return b.Token(t, i.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "client_id": {"conveyor-console"}})
	}
	status, r2 := refreshWith(refresh)
	if status != http.StatusOK || r2["access_token"] == access || r2["refresh_token"] == refresh || r2["refresh_token"] == "" {
		t.Fatalf("refresh -> %d %v", status, r2)
	}
	if p2, err := v.Authenticate(context.Background(), r2["access_token"].(string)); err != nil || p2.Subject != p.Subject || !p2.PlatformAdmin || p2.Name != "Ada Lovelace" {
		t.Fatalf("the refreshed access token: %+v %v", p2, err)
	}
	status, r3 := refreshWith(r2["refresh_token"].(string))
	if status != http.StatusOK {
		t.Fatalf("second refresh -> %d %v", status, r3)
	}
	status, body = refreshWith(refresh)
	wantOAuthError(t, "a rotated refresh token", status, body, http.StatusBadRequest, "invalid_grant")
	status, body = refreshWith(r3["refresh_token"].(string))
	wantOAuthError(t, "the family of a replayed refresh token", status, body, http.StatusBadRequest, "invalid_grant")

	// A second user, not an admin, with no name; then end-session.
	grace := b.SignIn(t, i.request("grace@example.test", "", false))
	pg, err := v.Authenticate(context.Background(), grace.AccessToken)
	if err != nil || pg.PlatformAdmin || pg.Name != "grace" || pg.Email != "grace@example.test" {
		t.Fatalf("grace = %+v %v", pg, err)
	}
	if _, hasRoles := claims(t, grace.AccessToken)["roles"]; hasRoles {
		t.Fatal("a non-admin's token carries roles")
	}
	bad := b.Get(t, i.issuer+"/end_session?"+url.Values{"id_token_hint": {grace.IDToken}, "post_logout_redirect_uri": {"http://evil.example/"}}.Encode())
	if bad.StatusCode != http.StatusBadRequest {
		t.Fatalf("end-session to an unregistered URI -> %d %s", bad.StatusCode, bad.Header.Get("Location"))
	}
	out := b.Get(t, i.issuer+"/end_session?"+url.Values{"id_token_hint": {grace.IDToken}, "post_logout_redirect_uri": {i.URL + "/"}, "state": {"s1"}}.Encode())
	if out.StatusCode != http.StatusFound || out.Location(t).String() != i.URL+"/?state=s1" {
		t.Fatalf("end-session -> %d to %s", out.StatusCode, out.Header.Get("Location"))
	}
	status, body = refreshWith(grace.RefreshToken)
	wantOAuthError(t, "a refresh token after end-session", status, body, http.StatusBadRequest, "invalid_grant")
}

func anyStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
	}
	return out
}

var styleBlock = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// checkSignInPage: three labelled fields and the button, nothing loaded from
// anywhere, a strict CSP whose style hash is the page's style.
func checkSignInPage(t *testing.T, page devoidctest.Page) {
	t.Helper()
	if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("sign-in page -> %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<label for="email">Email</label>`, `<input id="email" name="email" type="email"`,
		`<label for="name">Name</label>`, `<input id="name" name="name" type="text"`,
		`<input id="admin" name="admin" type="checkbox"`, `<label for="admin">Platform admin</label>`,
		`<button type="submit">Sign in</button>`, `<html lang="en">`, `<h1>`, `<main>`,
		`<form method="post" action="/dev/oidc/login"`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the sign-in page lacks %s", want)
		}
	}
	for _, never := range []string{"<script", "<link", "<img", "<iframe", "src=", "url(", "@import"} {
		if strings.Contains(page.Body, never) {
			t.Errorf("the sign-in page has %q", never)
		}
	}
	checkHeaders(t, page)
	m := styleBlock.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatal("no style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Fatalf("the CSP %q does not allow the page's style by its hash", csp)
	}
}

func checkHeaders(t *testing.T, page devoidctest.Page) {
	t.Helper()
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q is not strict", csp)
	}
	// "no-referrer" would make Chromium send "Origin: null" with the form, which is refused.
	if page.Header.Get("X-Frame-Options") != "DENY" || page.Header.Get("Referrer-Policy") != "same-origin" || page.Header.Get("Cache-Control") != "no-store" || page.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", page.Header)
	}
}

// TestDevOIDCTokenLifetime: access tokens live 15 minutes unless
// configured otherwise.
func TestDevOIDCTokenLifetime(t *testing.T) {
	for _, c := range []struct {
		ttl, want time.Duration
	}{{0, 15 * time.Minute}, {90 * time.Second, 90 * time.Second}} {
		i := startIdP(t, func(o *devoidc.Options) { o.AccessTokenTTL = c.ttl })
		tok := devoidctest.NewBrowser(t).SignIn(t, i.request("ttl@example.test", "TTL", false))
		ac := claims(t, tok.AccessToken)
		exp, iat := ac["exp"].(float64), ac["iat"].(float64)
		if d := time.Duration(exp-iat) * time.Second; d != c.want || time.Duration(tok.ExpiresIn)*time.Second > c.want ||
			time.Duration(tok.ExpiresIn)*time.Second < c.want-10*time.Second {
			t.Fatalf("lifetime %v, expires_in %d, want %v", d, tok.ExpiresIn, c.want)
		}
	}
}

// TestDevOIDCRevoke: the console may revoke its refresh token on sign-out.
func TestDevOIDCRevoke(t *testing.T) {
	i := startIdP(t)
	b := devoidctest.NewBrowser(t)
	tok := b.SignIn(t, i.request("rev@example.test", "Rev", false))
	p := b.PostForm(t, i.issuer+"/revoke", "", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {"conveyor-console"}})
	if p.StatusCode != http.StatusOK {
		t.Fatalf("revoke -> %d %s", p.StatusCode, p.Body)
	}
	status, body := b.Token(t, i.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"conveyor-console"}})
	wantOAuthError(t, "a revoked refresh token", status, body, http.StatusBadRequest, "invalid_grant")
}
