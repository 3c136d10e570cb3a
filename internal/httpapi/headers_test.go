package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/conveyorhq/conveyor/internal/observe"
)

// TestSecurityHeadersByClass: every class of answer carries nosniff, a
// Referrer-Policy, no framing, and the Content-Security-Policy and caching
// of its class (OWASP API8).
func TestSecurityHeadersByClass(t *testing.T) {
	h := newTestHandler(t, "http://127.0.0.1:8080/dev/oidc")
	for _, tc := range []struct {
		class, path, accept string
		status              int
		contentType         string
		csp                 string
		cacheControl        string // checked exactly when set
	}{
		{"API JSON", "/api/v1/openapi.json", "", 200, "application/json", apiCSP, ""},
		{"health JSON", "/healthz", "", 200, "application/json", apiCSP, ""},
		{"problem+json", "/api/v1/me", "", 401, "application/problem+json", apiCSP, "no-store"},
		{"problem+json 404", "/api/v1/nothing", "", 404, "application/problem+json", apiCSP, "no-store"},
		{"docs", "/docs/", browserAccept, 200, "text/html; charset=utf-8", docsMeta + "; frame-ancestors 'none'", ""},
		{"console index", "/team-manager/members", browserAccept, 200, "text/html; charset=utf-8", devCSP, "no-cache"},
		{"console asset", "/assets/index-B3x_9aZq.js", "*/*", 200, "text/javascript; charset=utf-8", devCSP, "public, max-age=31536000, immutable"},
		{"console config", "/console/config.json", "", 200, "application/json", apiCSP, "no-store"},
	} {
		t.Run(tc.class, func(t *testing.T) {
			rec := do(t, h, "GET", tc.path, map[string]string{"Accept": tc.accept})
			hd := rec.Header()
			if rec.Code != tc.status || hd.Get("Content-Type") != tc.contentType {
				t.Fatalf("status %d %q, want %d %q", rec.Code, hd.Get("Content-Type"), tc.status, tc.contentType)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Content-Security-Policy": tc.csp,
			} {
				if got := hd.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(hd.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("CSP without frame-ancestors 'none'")
			}
			if tc.cacheControl != "" && hd.Get("Cache-Control") != tc.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", hd.Get("Cache-Control"), tc.cacheControl)
			}
			if hd.Get("X-Request-ID") == "" {
				t.Errorf("no X-Request-ID")
			}
		})
	}
}

// TestDocsCSPFromTheirMeta: the docs' header policy is the one their page
// declares (with its script hashes), plus frame-ancestors.
func TestDocsCSPFromTheirMeta(t *testing.T) {
	h := newTestHandler(t, "")
	if got := do(t, h, "GET", "/docs/", nil).Header().Get("Content-Security-Policy"); got != docsMeta+"; frame-ancestors 'none'" {
		t.Fatalf("docs CSP = %q", got)
	}
	if got := docsCSP(fstest.MapFS{"index.html": {Data: []byte("<html></html>")}}); !strings.HasPrefix(got, "default-src 'none'") || !strings.HasSuffix(got, "frame-ancestors 'none'") {
		t.Fatalf("docs without a meta policy: %q", got)
	}
}

// TestAuthenticatedDataNotStored: an authenticated answer is no-store
// unless its handler chose its own caching; a refusal is no-store too.
func TestAuthenticatedDataNotStored(t *testing.T) {
	s := &Server{deps: Deps{Authenticator: fakeAuthenticator{}, APIKeys: fakeAuthenticator{}},
		problems: problems{log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	plain := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]int{"n": 1}) }))
	own := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
	}))
	for _, tc := range []struct {
		name  string
		h     http.Handler
		token bool
		want  string
	}{
		{"data", plain, true, "no-store"},
		{"handler's own", own, true, "no-cache"},
		{"refused", plain, false, "no-store"},
	} {
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		if tc.token {
			req.Header.Set("Authorization", "Bearer tok")
		}
		rec := httptest.NewRecorder()
		requestID(tc.h).ServeHTTP(rec, req)
		if got := rec.Header().Values("Cache-Control"); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestHeaderLimit: header fields past 64 KiB are a 431 problem document
// with the request id, before any route runs; below, the request goes on.
func TestHeaderLimit(t *testing.T) {
	h := newTestHandler(t, "")
	for _, tc := range []struct {
		name   string
		size   int
		status int
	}{
		{"just under", MaxHeaderBytes - 1024, 200},
		{"over", MaxHeaderBytes + 1, http.StatusRequestHeaderFieldsTooLarge},
		{"far over", 4 * MaxHeaderBytes, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.Header.Set("X-Request-ID", "big-headers-1")
			req.Header.Set("X-Padding", strings.Repeat("a", tc.size))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == 200 {
				return
			}
			var p problem
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
				t.Fatalf("%q %s", rec.Header().Get("Content-Type"), rec.Body)
			}
			if p.Status != 431 || p.RequestID != "big-headers-1" || rec.Header().Get("X-Request-ID") != "big-headers-1" ||
				p.Type != problemBase+"headers-too-large" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("problem %+v, headers %v", p, rec.Header())
			}
		})
	}
	// Many small fields count as much as one big one.
	req := httptest.NewRequest("GET", "/healthz", nil)
	for i := 0; i < 3000; i++ {
		req.Header.Add("X-Many", strings.Repeat("b", 20))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 431 {
		t.Fatalf("3000 fields of 30 bytes: %d", rec.Code)
	}
}

// TestDevIssuerPageHeaders: the dev issuer's pages are never framed and
// never sniffed, and keep a policy of their own when they set one.
func TestDevIssuerPageHeaders(t *testing.T) {
	h, err := NewHandler(Deps{Metrics: observe.NewMetrics(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CursorKey: bytes.Repeat([]byte("k"), 32),
		DevIssuer: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/dev/oidc/own" {
				w.Header().Set("Content-Security-Policy", "default-src 'self'")
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<form method=post><button>Sign in</button></form>")
		})})
	if err != nil {
		t.Fatal(err)
	}
	for path, csp := range map[string]string{"/dev/oidc/authorize": "frame-ancestors 'none'", "/dev/oidc/own": "default-src 'self'"} {
		hd := do(t, h, "GET", path, nil).Header()
		if hd.Get("Content-Security-Policy") != csp || hd.Get("X-Frame-Options") != "DENY" || hd.Get("X-Content-Type-Options") != "nosniff" ||
			hd.Get("Referrer-Policy") != "strict-origin-when-cross-origin" {
			t.Errorf("%s: %v", path, hd)
		}
	}
}
