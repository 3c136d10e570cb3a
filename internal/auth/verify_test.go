package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// fakeIdP is an httptest identity provider: a discovery document whose
// jwks_uri is not at the usual place, and that JWKS, with hit counters.
type fakeIdP struct {
	*httptest.Server
	dev             *auth.DevIssuer
	keyFile         string
	discovery, jwks atomic.Int64
	noJWKSURI       bool
}

func newFakeIdP(t *testing.T, noJWKSURI bool) *fakeIdP {
	t.Helper()
	idp := &fakeIdP{keyFile: filepath.Join(t.TempDir(), "key.pem"), noJWKSURI: noJWKSURI}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.discovery.Add(1)
		doc := map[string]any{
			"issuer":                                idp.URL,
			"authorization_endpoint":                idp.URL + "/authorize",
			"token_endpoint":                        idp.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
		if !idp.noJWKSURI {
			doc["jwks_uri"] = idp.URL + "/keys/v2/discovery-keys"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /keys/v2/discovery-keys", func(w http.ResponseWriter, r *http.Request) {
		idp.jwks.Add(1)
		// The dev issuer's own handler writes the JWKS of the same key.
		r2 := r.Clone(r.Context())
		r2.URL.Path = auth.DevIssuerPath + "/jwks"
		idp.dev.Handler().ServeHTTP(w, r2)
	})
	idp.Server = httptest.NewServer(mux)
	t.Cleanup(idp.Close)
	var err error
	idp.dev, err = auth.LoadDevIssuer(idp.keyFile, idp.URL, "api://conveyor")
	if err != nil {
		t.Fatal(err)
	}
	return idp
}

// signWithKid signs claims with the issuer's key under an arbitrary kid.
func (idp *fakeIdP) signWithKid(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	b, err := os.ReadFile(idp.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// users provisions users in memory and counts the calls.
type users struct {
	mu    sync.Mutex
	calls int
	ids   map[string]uuid.UUID
}

func (u *users) ProvisionUser(ctx context.Context, in domain.User) (domain.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
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

func newVerifier(idp *fakeIdP, u auth.Users) *auth.Verifier {
	return auth.NewVerifier(context.Background(), auth.VerifierOptions{
		Issuer: idp.URL, Audience: "api://conveyor", AdminRole: "Conveyor.Admin", HTTPClient: idp.Client(),
	}, u)
}

func wantCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want a domain error with code %s", err, code)
	}
}

func TestVerifierUsesDiscoveredJWKS(t *testing.T) {
	idp := newFakeIdP(t, false)
	u := &users{}
	v := newVerifier(idp, u)
	ctx := context.Background()

	admin, err := idp.dev.Mint(auth.TokenRequest{Subject: "alice", Email: "alice@example.test", Name: "Alice", Admin: true}, "Conveyor.Admin")
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Authenticate(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if !p.PlatformAdmin || p.Method != domain.AuthOIDC || p.Subject != "alice" || p.Email != "alice@example.test" || p.Issuer != idp.URL {
		t.Fatalf("principal = %+v", p)
	}
	if _, err := v.Authenticate(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if u.calls != 1 {
		t.Fatalf("provisioned %d times, want 1 (the principal cache)", u.calls)
	}

	plain, err := idp.dev.Mint(auth.TokenRequest{Subject: "bob"}, "Conveyor.Admin")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Authenticate(ctx, plain); err != nil || p.PlatformAdmin {
		t.Fatalf("bob = %+v, %v; want a principal that is not an admin", p, err)
	}

	other, err := auth.LoadDevIssuer(idp.keyFile, idp.URL, "api://someone-else")
	if err != nil {
		t.Fatal(err)
	}
	wrongAud, err := other.Mint(auth.TokenRequest{Subject: "mallory"}, "Conveyor.Admin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Authenticate(ctx, wrongAud)
	wantCode(t, err, domain.CodeUnauthenticated)

	now := time.Now()
	claims := func() map[string]any {
		return map[string]any{"iss": idp.URL, "aud": "api://conveyor", "sub": "mallory", "exp": now.Add(time.Hour).Unix()}
	}
	for i := range 50 {
		_, err := v.Authenticate(ctx, idp.signWithKid(t, "forged-"+strconv.Itoa(i), claims()))
		wantCode(t, err, domain.CodeUnauthenticated)
	}
	c := claims()
	c["nbf"] = now.Add(2 * time.Minute).Unix() // inside go-oidc's 5 min leeway, outside ours
	_, err = v.Authenticate(ctx, idp.signWithKid(t, "", c))
	wantCode(t, err, domain.CodeUnauthenticated)

	if d, j := idp.discovery.Load(), idp.jwks.Load(); d != 1 || j != 1 {
		t.Fatalf("discovery hits = %d, JWKS hits = %d; want 1 and 1", d, j)
	}
}

func TestVerifierNeedsJWKSURI(t *testing.T) {
	idp := newFakeIdP(t, true)
	v := newVerifier(idp, &users{})
	tok, err := idp.dev.Mint(auth.TokenRequest{Subject: "alice"}, "Conveyor.Admin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Authenticate(context.Background(), tok)
	wantCode(t, err, domain.CodeUnavailable)
}
