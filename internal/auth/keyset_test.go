package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksServer is an httptest identity provider's JWKS endpoint that counts
// its hits.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	keys   map[string]*rsa.PrivateKey // kid → key, published as public keys
	status int                        // 0: 200
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PrivateKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != 0 {
			w.WriteHeader(s.status)
			return
		}
		var set jose.JSONWebKeySet
		for kid, k := range s.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET /moved", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		http.Redirect(w, r, "/jwks", http.StatusFound)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(keys map[string]*rsa.PrivateKey, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.status = keys, status
}

func (s *jwksServer) wantHits(t *testing.T, want int64) {
	t.Helper()
	if got := s.hits.Load(); got != want {
		t.Fatalf("JWKS hits = %d, want %d", got, want)
	}
}

var (
	testKeysOnce sync.Once
	testKeys     []*rsa.PrivateKey
)

// rsaKey returns one of a few RSA keys generated once per test binary.
func rsaKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	testKeysOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testKeys = append(testKeys, k)
		}
	})
	return testKeys[i]
}

// signed returns a compact RS256 JWS of a small payload, with kid in its
// header unless kid is empty.
func signed(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"sub":"someone"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeClock is a settable clock for keySet.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestKeySet(t *testing.T, srv *jwksServer, path string) (*keySet, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	k := newKeySet(context.Background(), srv.URL+path, srv.Client(), 30*time.Second, []jose.SignatureAlgorithm{jose.RS256})
	k.now = clock.now
	return k, clock
}

func mustVerify(t *testing.T, k *keySet, jwt string) {
	t.Helper()
	payload, err := k.VerifySignature(context.Background(), jwt)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !strings.Contains(string(payload), "someone") {
		t.Fatalf("payload = %s", payload)
	}
}

func mustReject(t *testing.T, k *keySet, jwt string) {
	t.Helper()
	if _, err := k.VerifySignature(context.Background(), jwt); err == nil {
		t.Fatal("verify succeeded, want an error")
	}
}

func TestKeySetNegativeCache(t *testing.T) {
	keyA, keyB := rsaKey(t, 0), rsaKey(t, 1)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"a": keyA})
	k, clock := newTestKeySet(t, srv, "/jwks")

	good := signed(t, keyA, "a")
	mustVerify(t, k, good)
	srv.wantHits(t, 1)
	mustVerify(t, k, good)
	srv.wantHits(t, 1)

	t.Run("unknown kids in a row", func(t *testing.T) {
		for i := range 50 {
			mustReject(t, k, signed(t, keyA, "unknown-"+strconv.Itoa(i)))
		}
		srv.wantHits(t, 1)
		mustVerify(t, k, good)
	})
	t.Run("unknown kids at once", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if _, err := k.VerifySignature(context.Background(), signed(t, keyA, "parallel-"+strconv.Itoa(i))); err == nil {
					t.Error("a token with an unknown kid verified")
				}
			})
		}
		wg.Wait()
		srv.wantHits(t, 1)
	})
	t.Run("known kid, wrong key", func(t *testing.T) {
		// RemoteKeySet alone refetches the JWKS for every one of these.
		for range 10 {
			mustReject(t, k, signed(t, keyB, "a"))
		}
		srv.wantHits(t, 1)
	})
	t.Run("no kid, wrong key", func(t *testing.T) {
		for range 10 {
			mustReject(t, k, signed(t, keyB, ""))
		}
		srv.wantHits(t, 1)
	})
	t.Run("no kid, right key", func(t *testing.T) {
		mustVerify(t, k, signed(t, keyA, ""))
		srv.wantHits(t, 1)
	})
	t.Run("one refetch per interval", func(t *testing.T) {
		clock.advance(29 * time.Second)
		mustReject(t, k, signed(t, keyA, "late"))
		srv.wantHits(t, 1)
		clock.advance(time.Second)
		mustReject(t, k, signed(t, keyA, "later"))
		srv.wantHits(t, 2)
		for i := range 20 {
			mustReject(t, k, signed(t, keyA, "again-"+strconv.Itoa(i)))
		}
		srv.wantHits(t, 2)
		mustVerify(t, k, good)
		srv.wantHits(t, 2)
	})
}

func TestKeySetRotation(t *testing.T) {
	keyA, keyB, keyC := rsaKey(t, 0), rsaKey(t, 1), rsaKey(t, 2)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"a": keyA, "c": keyC})
	k, clock := newTestKeySet(t, srv, "/jwks")

	mustVerify(t, k, signed(t, keyA, "a"))
	srv.wantHits(t, 1)
	// A published key that no token has used yet needs no request.
	mustVerify(t, k, signed(t, keyC, "c"))
	srv.wantHits(t, 1)

	srv.publish(map[string]*rsa.PrivateKey{"b": keyB}, 0)
	newTok := signed(t, keyB, "b")
	mustReject(t, k, newTok) // within the interval: not fetched yet
	srv.wantHits(t, 1)
	clock.advance(30 * time.Second)
	mustVerify(t, k, newTok)
	srv.wantHits(t, 2)
	mustVerify(t, k, newTok)
	// The retired key is gone with the JWKS that dropped it.
	mustReject(t, k, signed(t, keyA, "a"))
	srv.wantHits(t, 2)
}

func TestKeySetRetriesSoonerAfterFailure(t *testing.T) {
	keyA := rsaKey(t, 0)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"a": keyA})
	srv.publish(map[string]*rsa.PrivateKey{"a": keyA}, http.StatusServiceUnavailable)
	k, clock := newTestKeySet(t, srv, "/jwks")

	tok := signed(t, keyA, "a")
	mustReject(t, k, tok)
	srv.wantHits(t, 1)
	clock.advance(time.Second)
	mustReject(t, k, tok)
	srv.wantHits(t, 1)
	srv.publish(map[string]*rsa.PrivateKey{"a": keyA}, 0)
	clock.advance(jwksRetryAfterFailure)
	mustVerify(t, k, tok)
	srv.wantHits(t, 2)
}

func TestKeySetFollowsRedirect(t *testing.T) {
	keyA := rsaKey(t, 0)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"a": keyA})
	k, _ := newTestKeySet(t, srv, "/moved")

	mustVerify(t, k, signed(t, keyA, "a"))
	srv.wantHits(t, 2) // /moved, then /jwks: one fetch
	mustReject(t, k, signed(t, keyA, "z"))
	srv.wantHits(t, 2)
}

func TestKeySetRejectsOtherAlgorithms(t *testing.T) {
	keyA := rsaKey(t, 0)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"a": keyA})
	k, _ := newTestKeySet(t, srv, "/jwks")

	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.PS256, Key: keyA}, (&jose.SignerOptions{}).WithHeader("kid", "a"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"sub":"someone"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jws.CompactSerialize()
	mustReject(t, k, tok)
	mustReject(t, k, "not.a.jwt")
	srv.wantHits(t, 0)
}
