package devoidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/internal/devoidc/devoidctest"
)

// TestDevOIDCRefusals: what the provider refuses, and how: an unknown
// client or unregistered redirect URI gets a 400 and no redirect; an
// authorization request without PKCE S256 goes back to the client as an
// OAuth error and never reaches the sign-in page.
func TestDevOIDCRefusals(t *testing.T) {
	i := startIdP(t)
	b := devoidctest.NewBrowser(t)
	base := i.request("x@example.test", "X", false)
	pkce := devoidctest.NewPKCE()
	authorize := func(change func(url.Values)) devoidctest.Page {
		q := base.AuthorizeQuery(pkce, "st", "no")
		change(q)
		return b.Get(t, i.issuer+"/authorize?"+q.Encode())
	}

	for name, change := range map[string]func(url.Values){
		"unknown client":               func(q url.Values) { q.Set("client_id", "someone-else") },
		"unregistered redirect URI":    func(q url.Values) { q.Set("redirect_uri", "http://evil.example/auth/callback") },
		"redirect URI on another path": func(q url.Values) { q.Set("redirect_uri", i.URL+"/elsewhere") },
		"no redirect URI":              func(q url.Values) { q.Del("redirect_uri") },
	} {
		t.Run(name, func(t *testing.T) {
			p := authorize(change)
			if p.StatusCode != http.StatusBadRequest || p.Header.Get("Location") != "" {
				t.Fatalf("-> %d to %q, want 400 and no redirect", p.StatusCode, p.Header.Get("Location"))
			}
		})
	}

	for name, c := range map[string]struct {
		change func(url.Values)
		error  string
	}{
		"no code challenge":      {func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		"a challenge, no method": {func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		"plain":                  {func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", pkce.Verifier) }, "invalid_request"},
		"an unknown method":      {func(q url.Values) { q.Set("code_challenge_method", "S512") }, "invalid_request"},
		"a short challenge":      {func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request"},
		"prompt=none":            {func(q url.Values) { q.Set("prompt", "none") }, "login_required"},
		"the implicit flow":      {func(q url.Values) { q.Set("response_type", "id_token token") }, "unauthorized_client"},
		"no scope":               {func(q url.Values) { q.Del("scope") }, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			p := authorize(c.change)
			if p.StatusCode != http.StatusFound {
				t.Fatalf("-> %d, want 302 back to the client: %s", p.StatusCode, p.Body)
			}
			loc := p.Location(t)
			var got url.Values
			if loc.Fragment != "" {
				got, _ = url.ParseQuery(loc.Fragment)
			} else {
				got = loc.Query()
			}
			if !strings.HasPrefix(loc.String(), i.redirectURI()) || got.Get("error") != c.error || got.Get("state") != "st" || got.Get("code") != "" {
				t.Fatalf("-> %s, want %s with error %s and the state", loc, i.redirectURI(), c.error)
			}
		})
	}

	t.Run("the localhost twin of the redirect URI", func(t *testing.T) {
		twin := strings.Replace(i.redirectURI(), "127.0.0.1", "localhost", 1)
		p := authorize(func(q url.Values) { q.Set("redirect_uri", twin) })
		if p.StatusCode != http.StatusFound || !strings.HasPrefix(p.Location(t).String(), i.issuer+"/login?id=") {
			t.Fatalf("-> %d to %s, want the sign-in page", p.StatusCode, p.Header.Get("Location"))
		}
	})

	t.Run("token endpoint", func(t *testing.T) {
		status, body := b.Token(t, i.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {"made-up"},
			"redirect_uri": {i.redirectURI()}, "client_id": {"conveyor-console"}, "code_verifier": {pkce.Verifier}})
		wantOAuthError(t, "a made-up code", status, body, http.StatusBadRequest, "invalid_grant")
		status, body = b.Token(t, i.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"made-up"}, "client_id": {"someone-else"}})
		wantOAuthError(t, "an unknown client", status, body, http.StatusUnauthorized, "invalid_client")
		status, body = b.Token(t, i.issuer, url.Values{"grant_type": {"client_credentials"}, "client_id": {"conveyor-console"}, "client_secret": {"guess"}})
		if status < 400 || status >= 500 || body["error"] == nil {
			t.Fatalf("client credentials -> %d %v", status, body)
		}
		status, body = b.Token(t, i.issuer, url.Values{"grant_type": {"password"}, "client_id": {"conveyor-console"}})
		if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
			t.Fatalf("password grant -> %d %v", status, body)
		}
	})

	t.Run("CORS only for the console's origins", func(t *testing.T) {
		for origin, allowed := range map[string]bool{
			strings.Replace(i.URL, "127.0.0.1", "localhost", 1): true,
			i.URL:                 true,
			"http://evil.example": false,
			"http://127.0.0.1:1":  false,
		} {
			req, _ := http.NewRequest(http.MethodOptions, i.issuer+"/token", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			p := b.Do(t, req)
			if got := p.Header.Get("Access-Control-Allow-Origin"); (got == origin) != allowed || got == "*" {
				t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, allowed %v", origin, got, allowed)
			}
			if p.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("credentials allowed for %s", origin)
			}
		}
	})

	t.Run("bad input is never a 5xx", func(t *testing.T) {
		long := strings.Repeat("a", 70<<10)
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/authorize?max_age=abc&client_id=conveyor-console", ""},
			{"GET", "/authorize?%zz", ""},
			{"GET", "/end_session?%zz", ""},
			{"GET", "/end_session?id_token_hint=garbage", ""},
			{"GET", "/end_session?ui_locales=%C0&client_id=nope", ""},
			{"GET", "/end_session?client_id=nope&post_logout_redirect_uri=x", ""},
			{"GET", "/authorize/callback?id=nope", ""},
			{"GET", "/authorize/callback", ""},
			{"GET", "/login?id=nope", ""},
			{"GET", "/login", ""},
			{"PUT", "/login", ""},
			{"POST", "/login", "%zz"},
			{"POST", "/login", "id=" + long},
			{"POST", "/token", "%zz"},
			{"POST", "/token", "grant_type=authorization_code&" + long},
			{"POST", "/token", ""},
			{"GET", "/userinfo", ""},
			{"GET", "/no-such-endpoint", ""},
			{"POST", "/revoke", "token=x&client_id=conveyor-console"},
			{"POST", "/oauth/introspect", "token=x"},
		} {
			req, _ := http.NewRequest(r.method, i.issuer+r.path, strings.NewReader(r.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			p := b.Do(t, req)
			if p.StatusCode >= 500 || p.StatusCode < 200 {
				t.Errorf("%s %s -> %d: %.200s", r.method, r.path, p.StatusCode, p.Body)
			}
		}
	})
}
