package auth_test

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/auth"
)

// shared is one running Conveyor API (no worker) on a real topology, shared
// by the attack tests; liveEnv skips them under -short.
var shared apptest.Shared

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	return apptest.Main(m, "auth-attack", apptest.Options{Replicas: 1, NoWorker: true}, &shared, nil)
}

func liveEnv(t *testing.T) *apptest.Env {
	t.Helper()
	return shared.Env(t)
}

const audience = "api://conveyor"

// forger crafts tokens with the dev issuer's own RSA key, and with keys of
// its own.
type forger struct {
	issuer string
	key    *rsa.PrivateKey // the dev issuer's
	kid    string          // the dev issuer's
	other  *rsa.PrivateKey // nobody's
}

func newForger(t *testing.T, e *apptest.Env) *forger {
	t.Helper()
	b, err := os.ReadFile(auth.DevKeyFile(e.RunDir))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block in the dev issuer's key file")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The real kid, as the issuer puts it in its own tokens.
	jws, err := jose.ParseSignedCompact(e.Token(t, "kid-probe", false), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &forger{issuer: e.URL + auth.DevIssuerPath, key: key, kid: jws.Signatures[0].Header.KeyID, other: other}
}

// claims returns valid claims for subject; callers change what they attack.
func (f *forger) claims(subject string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": f.issuer, "aud": audience, "sub": subject,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": subject + "@example.test", "name": subject, "ver": "2.0",
	}
}

// sign signs claims with key under alg; kid "" leaves the kid out.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any, opts ...func(*jose.SignerOptions)) string {
	t.Helper()
	o := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		o = o.WithHeader("kid", kid)
	}
	for _, f := range opts {
		f(o)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, o)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// good returns a token the API must accept.
func (f *forger) good(t *testing.T, subject string) string {
	return sign(t, jose.RS256, f.key, f.kid, f.claims(subject))
}

// with returns valid claims for subject changed by fn.
func (f *forger) with(subject string, fn func(map[string]any)) map[string]any {
	c := f.claims(subject)
	fn(c)
	return c
}

func b64(v any) string {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// segments splits a compact JWS.
func segments(t *testing.T, tok string) (header, payload, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("%q is not a compact JWS", tok)
	}
	return p[0], p[1], p[2]
}

// me calls GET /api/v1/me with the given Authorization header values (none
// when empty) and returns the response with its body read.
func me(t *testing.T, e *apptest.Env, authz ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", e.URL+"/api/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range authz {
		req.Header.Add("Authorization", v)
	}
	resp, err := e.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// want401 checks that GET /api/v1/me with authz is refused as it should be:
// 401, problem+json with a request id, a Bearer challenge.
func want401(t *testing.T, e *apptest.Env, authz ...string) {
	t.Helper()
	resp, body := me(t, e, authz...)
	if resp.StatusCode >= 500 {
		t.Fatalf("status = %d (a server error); body %s", resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401; body %.300s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p struct {
		Type      string `json:"type"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != http.StatusUnauthorized || p.Type == "" || p.RequestID == "" {
		t.Fatalf("problem = %s (%v)", body, err)
	}
	if p.RequestID != resp.Header.Get("X-Request-ID") {
		t.Fatalf("request_id %q != X-Request-ID %q", p.RequestID, resp.Header.Get("X-Request-ID"))
	}
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", resp.Header.Get("WWW-Authenticate"))
	}
}

func want200(t *testing.T, e *apptest.Env, subject, authz string) {
	t.Helper()
	resp, body := me(t, e, authz)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
	}
	var m struct {
		User struct {
			Subject string `json:"subject"`
		} `json:"user"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.User.Subject != subject {
		t.Fatalf("me = %s (%v), want subject %q", body, err, subject)
	}
}

// TestForgedTokensAreRefused sends tokens that must not authenticate. A
// correctly minted token goes first, so a harness that refuses everything
// fails here.
func TestForgedTokensAreRefused(t *testing.T) {
	e := liveEnv(t)
	f := newForger(t, e)
	ok := t.Run("sanity: the issuer's token is accepted", func(t *testing.T) {
		want200(t, e, "sanity-minted", "Bearer "+e.Token(t, "sanity-minted", false))
	})
	ok = ok && t.Run("sanity: a token crafted here is accepted", func(t *testing.T) {
		want200(t, e, "sanity-crafted", "Bearer "+f.good(t, "sanity-crafted"))
	})
	ok = ok && t.Run("sanity: a token crafted here without kid is accepted", func(t *testing.T) {
		want200(t, e, "sanity-nokid", "Bearer "+sign(t, jose.RS256, f.key, "", f.claims("sanity-nokid")))
	})
	if !ok {
		t.Fatal("the crafted tokens' baseline is not accepted; the cases below would prove nothing")
	}

	now := time.Now()
	pubPKIX, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPKCS1 := x509.MarshalPKCS1PublicKey(&f.key.PublicKey)
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPKIX})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pubPKCS1})

	valid := f.good(t, "victim")
	vh, vp, vs := segments(t, valid)
	other := f.good(t, "someone-else")
	_, _, os2 := segments(t, other)
	adminClaims := f.with("root", func(c map[string]any) { c["roles"] = []string{"Conveyor.Admin"} })
	noneHeader := b64(map[string]any{"alg": "none", "typ": "JWT", "kid": f.kid})
	jsonJWS := func() string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", f.kid))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(f.claims("json-serialized"))
		jws, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		return jws.FullSerialize()
	}()

	tests := []struct {
		name  string
		token string
	}{
		// Time.
		{"expired an hour ago", sign(t, jose.RS256, f.key, f.kid, f.with("expired", func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))},
		{"expired seconds ago", sign(t, jose.RS256, f.key, f.kid, f.with("expired", func(c map[string]any) { c["exp"] = now.Add(-5 * time.Second).Unix() }))},
		{"no exp", sign(t, jose.RS256, f.key, f.kid, f.with("noexp", func(c map[string]any) { delete(c, "exp") }))},
		{"nbf in an hour", sign(t, jose.RS256, f.key, f.kid, f.with("early", func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }))},
		{"nbf in two minutes", sign(t, jose.RS256, f.key, f.kid, f.with("early", func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }))},
		// Issuer and audience.
		{"wrong issuer", sign(t, jose.RS256, f.key, f.kid, f.with("x", func(c map[string]any) { c["iss"] = "https://login.microsoftonline.com/evil/v2.0" }))},
		{"issuer with a trailing slash", sign(t, jose.RS256, f.key, f.kid, f.with("x", func(c map[string]any) { c["iss"] = f.issuer + "/" }))},
		{"no issuer", sign(t, jose.RS256, f.key, f.kid, f.with("x", func(c map[string]any) { delete(c, "iss") }))},
		{"wrong audience", sign(t, jose.RS256, f.key, f.kid, f.with("x", func(c map[string]any) { c["aud"] = "api://someone-else" }))},
		{"audience list without ours", sign(t, jose.RS256, f.key, f.kid, f.with("x", func(c map[string]any) { c["aud"] = []string{"api://a", "api://b"} }))},
		{"no audience", sign(t, jose.RS256, f.key, f.kid, f.with("x", func(c map[string]any) { delete(c, "aud") }))},
		// Algorithms.
		{"alg none", noneHeader + "." + b64(adminClaims) + "."},
		{"alg none, two segments", noneHeader + "." + b64(adminClaims)},
		{"alg None", b64(map[string]any{"alg": "None", "typ": "JWT"}) + "." + b64(adminClaims) + "."},
		{"alg none with the original signature", noneHeader + "." + vp + "." + vs},
		{"HS256 keyed with the public key, PKIX PEM", sign(t, jose.HS256, pemPKIX, f.kid, adminClaims)},
		{"HS256 keyed with the public key, PKCS#1 PEM", sign(t, jose.HS256, pemPKCS1, f.kid, adminClaims)},
		{"HS256 keyed with the public key, PKIX DER", sign(t, jose.HS256, pubPKIX, f.kid, adminClaims)},
		{"HS256 keyed with the public key, PKCS#1 DER", sign(t, jose.HS256, pubPKCS1, f.kid, adminClaims)},
		{"HS256 keyed with the public key, no kid", sign(t, jose.HS256, pemPKIX, "", adminClaims)},
		{"RS512 with the issuer's key", sign(t, jose.RS512, f.key, f.kid, f.claims("rs512"))},
		{"PS256 with the issuer's key", sign(t, jose.PS256, f.key, f.kid, f.claims("ps256"))},
		// Signatures and keys.
		{"tampered payload, original signature", vh + "." + b64(adminClaims) + "." + vs},
		{"another token's signature", vh + "." + vp + "." + os2},
		{"signature cut off", vh + "." + vp + "."},
		{"signature truncated", vh + "." + vp + "." + vs[:len(vs)-8]},
		{"unknown kid", sign(t, jose.RS256, f.key, "not-a-kid", f.claims("unknown-kid"))},
		{"kid with a path", sign(t, jose.RS256, f.key, "../../../../etc/passwd", f.claims("path-kid"))},
		{"other key, real kid", sign(t, jose.RS256, f.other, f.kid, adminClaims)},
		{"other key, new kid", sign(t, jose.RS256, f.other, "rotated-2099", adminClaims)},
		{"other key, no kid", sign(t, jose.RS256, f.other, "", adminClaims)},
		{"other key embedded as jwk", sign(t, jose.RS256, f.other, "", adminClaims, func(o *jose.SignerOptions) { o.EmbedJWK = true })},
		{"other key, jku pointing elsewhere", sign(t, jose.RS256, f.other, "rotated-2099", adminClaims, func(o *jose.SignerOptions) {
			o.WithHeader("jku", "http://127.0.0.1:1/jwks")
		})},
		{"JWS JSON serialization", jsonJWS},
		// Not a JWT.
		{"not a JWT", "hello"},
		{"three dots", "..."},
		{"three garbage segments", "a.b.c"},
		{"random bytes", b64(strings.Repeat("\x00\xff", 200))},
		{"empty JSON objects", "e30.e30.e30"},
		{"empty JSON object as header", b64("{}") + "." + vp + "." + vs},
		{"empty JSON object as payload, validly signed", sign(t, jose.RS256, f.key, f.kid, map[string]any{})},
		{"JSON array as payload", vh + "." + b64("[]") + "." + vs},
		{"header not JSON", b64("not json") + "." + vp + "." + vs},
		{"looks like an API key", auth.APIKeyPrefix + strings.Repeat("A", 43)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want401(t, e, "Bearer "+tt.token)
		})
	}
}

// TestMalformedAuthorization sends Authorization headers that are not one
// well-formed bearer token.
func TestMalformedAuthorization(t *testing.T) {
	e := liveEnv(t)
	f := newForger(t, e)
	tok := f.good(t, "header-owner")
	want200(t, e, "header-owner", "Bearer "+tok)
	big := sign(t, jose.RS256, f.key, f.kid, f.with("big", func(c map[string]any) { c["pad"] = strings.Repeat("p", 20<<10) }))
	tests := []struct {
		name  string
		authz []string
	}{
		{"no header", nil},
		{"empty header", []string{""}},
		{"no scheme", []string{tok}},
		{"Bearer alone", []string{"Bearer"}},
		{"Bearer and spaces", []string{"Bearer   "}},
		{"Basic", []string{"Basic x"}},
		{"Basic with a token", []string{"Basic " + tok}},
		{"scheme glued to the token", []string{"Bearer" + tok}},
		{"two tokens", []string{"Bearer " + tok + " " + tok}},
		{"two tokens, comma", []string{"Bearer " + tok + ", Bearer " + tok}},
		{"two Authorization headers", []string{"Bearer " + tok, "Bearer " + tok}},
		{"a 20 KB header value", []string{"Bearer " + strings.Repeat("a", 20<<10)}},
		{"a 20 KB validly signed token", []string{"Bearer " + big}},
		{"non-ASCII token", []string{"Bearer tökén-ünïcode"}},
		{"non-ASCII after a valid token", []string{"Bearer " + tok + "é"}},
		{"non-ASCII scheme", []string{"Bеarer " + tok}}, // Cyrillic е
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want401(t, e, tt.authz...)
		})
	}
}

// TestUnknownKidBurstSparesTheIssuer sends 50 tokens with distinct unknown
// kids in a row and checks, from the server's own metrics, that the
// issuer's endpoints (discovery and JWKS) were asked at most twice.
func TestUnknownKidBurstSparesTheIssuer(t *testing.T) {
	e := liveEnv(t)
	f := newForger(t, e)
	// Discovery and a first JWKS fetch happen on the first token; make sure
	// they are behind us, and that the counter sees them.
	want200(t, e, "burst-baseline", "Bearer "+f.good(t, "burst-baseline"))
	before := issuerRequests(t, e)
	if before < 2 {
		t.Fatalf("issuer requests counted before the burst = %v, want at least 2 (discovery and JWKS)", before)
	}
	for i := range 50 {
		want401(t, e, "Bearer "+sign(t, jose.RS256, f.key, "burst-"+strconv.Itoa(i), f.claims("burst")))
	}
	after := issuerRequests(t, e)
	t.Logf("issuer requests: %v before the burst, %v after", before, after)
	if after-before > 2 {
		t.Fatalf("the burst caused %v requests to the issuer, want at most 2", after-before)
	}
	// Tokens with the issuer's real key still work afterwards.
	want200(t, e, "burst-after", "Bearer "+f.good(t, "burst-after"))
}

// issuerRequests sums conveyor_http_requests_total over every route under
// the dev issuer (/dev/oidc/...). The dev OpenID provider is a chi router
// of its own mounted at /dev/oidc/*, so chi labels its requests with the
// joined template (e.g. /dev/oidc/.well-known/openid-configuration,
// /dev/oidc/jwks), not with the mount's /dev/oidc/*.
func issuerRequests(t *testing.T, e *apptest.Env) float64 {
	t.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "conveyor_http_requests_total{") || !strings.Contains(line, `route="`+auth.DevIssuerPath+`/`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}
