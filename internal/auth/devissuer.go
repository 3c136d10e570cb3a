package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DevIssuerPath is where the dev issuer is mounted on the API's origin.
const DevIssuerPath = "/dev/oidc"

// DevIssuer is the dev issuer's identity for local development and tests:
// its URL, audience and key, a way to mint access tokens (tests and
// `conveyor token`), and a minimal handler (discovery and JWKS). The full
// OpenID provider that browsers sign in with is internal/devoidc, built on
// the same key. Its key is
// generated on first use and kept under the run folder, never committed. The
// API verifies its tokens with go-oidc exactly as it verifies Entra ID's.
type DevIssuer struct {
	issuer   string
	audience string
	key      *rsa.PrivateKey
	kid      string
}

// LoadDevIssuer loads (or creates) the key in keyFile and returns the issuer
// for the given issuer URL and audience.
func LoadDevIssuer(keyFile, issuer, audience string) (*DevIssuer, error) {
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &DevIssuer{issuer: issuer, audience: audience, key: key, kid: hex.EncodeToString(sum[:8])}, nil
}

// DevKeyFile is the key's path under the run folder.
func DevKeyFile(runDir string) string { return filepath.Join(runDir, "dev-oidc", "key.pem") }

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, errors.New("no PEM block in " + path)
		}
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pemBytes, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return key, nil
}

// Issuer returns the issuer URL.
func (d *DevIssuer) Issuer() string { return d.issuer }

// Audience returns the audience its access tokens carry.
func (d *DevIssuer) Audience() string { return d.audience }

// SigningKey returns the private key the issuer signs with and its key id
// (the JWKS "kid"), so the dev OpenID provider (internal/devoidc) signs with
// exactly the key Mint uses and the JWKS publishes.
func (d *DevIssuer) SigningKey() (*rsa.PrivateKey, string) { return d.key, d.kid }

// TokenRequest describes a dev token.
type TokenRequest struct {
	Subject string
	Email   string
	Name    string
	Admin   bool          // adds adminRole to the roles claim
	TTL     time.Duration // 0: one hour
}

// Mint signs an access token for req; adminRole is the configured admin
// role value.
func (d *DevIssuer) Mint(req TokenRequest, adminRole string) (string, error) {
	if req.Subject == "" {
		return "", errors.New("auth: a dev token needs a subject")
	}
	ttl := req.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: d.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", d.kid))
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims := map[string]any{
		"iss": d.issuer, "sub": req.Subject, "aud": d.audience,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix(),
		"email": req.Email, "name": req.Name, "ver": "2.0",
	}
	if req.Admin {
		claims["roles"] = []string{adminRole}
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// Handler serves the discovery document and the JWKS under DevIssuerPath.
func (d *DevIssuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DevIssuerPath+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                d.issuer,
			"jwks_uri":                              d.issuer + "/jwks",
			"authorization_endpoint":                d.issuer + "/authorize",
			"token_endpoint":                        d.issuer + "/token",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET "+DevIssuerPath+"/jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &d.key.PublicKey, KeyID: d.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
