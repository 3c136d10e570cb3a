package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/devoidc/devoidctest"
)

// TestDevOIDCSignInThroughServe: the console's browser sign-in against the
// real `conveyor serve` in dev mode (sign-in page, code + PKCE S256), then
// the API with the access token it got: /me shows who signed in, the
// admin box is the platform role, a refreshed token works, and end-session
// goes back to the console.
func TestDevOIDCSignInThroughServe(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	ctx := context.Background()
	issuer := e.URL + "/dev/oidc"
	for _, c := range []struct {
		email, name string
		admin       bool
		role        conveyor.MePlatformRole
	}{
		{"Lin.Admin@Example.test", "Lin Admin", true, conveyor.MePlatformRoleAdmin},
		{"sam.user@example.test", "Sam User", false, conveyor.MePlatformRoleUser},
	} {
		t.Run(c.email, func(t *testing.T) {
			b := devoidctest.NewBrowser(t)
			tok := b.SignIn(t, devoidctest.Request{Issuer: issuer, RedirectURI: e.URL + "/auth/callback", Email: c.email, Name: c.name, Admin: c.admin})
			me, err := sdk(t, e, tok.AccessToken).Me(ctx)
			if err != nil {
				t.Fatalf("/me with the signed-in token: %v", err)
			}
			if string(me.User.Email) != c.email || me.User.Name != c.name || me.PlatformRole != c.role ||
				me.User.Subject != "dev:"+strings.ToLower(c.email) || me.AuthMethod != conveyor.MeAuthMethodOidc {
				t.Fatalf("me = %+v", me)
			}

			status, body := b.Token(t, issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"conveyor-console"}})
			if status != http.StatusOK {
				t.Fatalf("refresh -> %d %v", status, body)
			}
			again, err := sdk(t, e, body["access_token"].(string)).Me(ctx)
			if err != nil || again.User.Id != me.User.Id || again.PlatformRole != c.role {
				t.Fatalf("/me with the refreshed token = %+v, %v", again, err)
			}

			out := b.Get(t, issuer+"/end_session?"+url.Values{"id_token_hint": {tok.IDToken}, "post_logout_redirect_uri": {e.URL + "/"}}.Encode())
			if out.StatusCode != http.StatusFound || out.Location(t).String() != e.URL+"/" {
				t.Fatalf("end-session -> %d to %q", out.StatusCode, out.Header.Get("Location"))
			}
			status, body = b.Token(t, issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {"conveyor-console"}})
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("refresh after end-session -> %d %v", status, body)
			}
		})
	}

	// A token minted for the CLI (auth.DevIssuer.Mint) and the browser's are
	// signed by one key: the JWKS has one key, under Mint's kid.
	b := devoidctest.NewBrowser(t)
	jwks := b.Get(t, issuer+"/jwks")
	if jwks.StatusCode != http.StatusOK || strings.Count(jwks.Body, `"kid"`) != 1 {
		t.Fatalf("jwks -> %d %s", jwks.StatusCode, jwks.Body)
	}
	if _, err := sdk(t, e, e.Token(t, "cli-user", false)).Me(ctx); err != nil {
		t.Fatalf("a minted token: %v", err)
	}
}

// TestDevOIDCAbsentOutsideDevMode: an API outside dev mode serves no dev
// provider at all (and refuses to trust one: TestDevIssuerRefusedOutsideDevMode).
func TestDevOIDCAbsentOutsideDevMode(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	api := e.StartAPI(t, map[string]string{
		"CONVEYOR_DEV": "false", "CONVEYOR_OIDC_ISSUER": "http://127.0.0.1:1/some-idp/v2.0",
		"CONVEYOR_CURSOR_SECRET": strings.Repeat("s", 32),
	})
	b := devoidctest.NewBrowser(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/authorize", "/login", "/token", "/jwks"} {
		if p := b.Get(t, api+"/dev/oidc"+path); p.StatusCode != http.StatusNotFound {
			t.Errorf("GET /dev/oidc%s outside dev mode -> %d", path, p.StatusCode)
		}
	}
	if p := b.Get(t, e.URL+"/dev/oidc/.well-known/openid-configuration"); p.StatusCode != http.StatusOK {
		t.Fatalf("the dev-mode API's discovery -> %d", p.StatusCode)
	}
}
