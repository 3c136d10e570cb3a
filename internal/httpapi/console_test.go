package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/observe"
)

const (
	testIndex = `<!doctype html><html><head><script type="module" src="/assets/index-B3x_9aZq.js"></script></head><body><div id="app"></div></body></html>`
	// devCSP is the console's policy when the authority is on the serving host.
	devCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; font-src 'self' data:; " +
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
	docsMeta = "default-src 'none'; script-src 'self' 'sha256-abc='; style-src 'self' 'unsafe-inline'; worker-src blob:"
)

// testAsset is a hashed script big enough to be worth compressing.
var testAsset = strings.Repeat("console.log('conveyor');\n", 200)

func consoleFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":                   {Data: []byte(testIndex)},
		"assets/index-B3x_9aZq.js":     {Data: []byte(testAsset)},
		"assets/style-Cq1x2y3z.css":    {Data: []byte("body{margin:0}")},
		"assets/plainname.js":          {Data: []byte("1")},
		"robots.txt":                   {Data: []byte("User-agent: *\n")},
		".secret":                      {Data: []byte("do not serve me")},
		"assets/.hidden/x-Ab12Cd34.js": {Data: []byte("do not serve me")},
	}
}

type fakeAuthenticator struct{}

func (fakeAuthenticator) Authenticate(context.Context, string) (*domain.Principal, error) {
	return &domain.Principal{Subject: "tester", Method: domain.AuthOIDC}, nil
}

// newTestHandler is the whole HTTP surface with a console and docs from
// memory; only routes that need no domain service are exercised with it.
func newTestHandler(t *testing.T, authority string) http.Handler {
	t.Helper()
	h, err := NewHandler(Deps{
		Metrics: observe.NewMetrics(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CursorKey: bytes.Repeat([]byte("k"), 32), Authenticator: fakeAuthenticator{}, APIKeys: fakeAuthenticator{},
		Docs: fstest.MapFS{"index.html": {Data: []byte(`<html><head><meta http-equiv="Content-Security-Policy" content="` +
			strings.ReplaceAll(docsMeta, "'", "&#39;") + `"></head></html>`)}},
		Console:       consoleFS(),
		ConsoleConfig: ConsoleConfig{Authority: authority, ClientID: "conveyor-console", Scope: "openid profile email offline_access"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:8080"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestConsoleHistoryFallback: page paths answer index.html; files answer
// themselves; missing files and server paths are problem+json 404s.
func TestConsoleHistoryFallback(t *testing.T) {
	h := newTestHandler(t, "http://127.0.0.1:8080/dev/oidc")
	for _, tc := range []struct {
		name, method, path, accept string
		status                     int
		body                       string // "" for index.html; "problem" for a problem document
	}{
		{"workspace", "GET", "/", browserAccept, 200, ""},
		{"team manager", "GET", "/team-manager", browserAccept, 200, ""},
		{"team manager deep link", "GET", "/team-manager/members", browserAccept, 200, ""},
		{"it manager", "GET", "/it-manager", browserAccept, 200, ""},
		{"it manager deep link", "GET", "/it-manager/teams/0190c1a2-0000-7000-8000-000000000001", browserAccept, 200, ""},
		{"team files", "GET", "/teams/0190c1a2-0000-7000-8000-000000000001/files", browserAccept, 200, ""},
		{"sign-in callback", "GET", "/auth/callback?code=abc&state=xyz", browserAccept, 200, ""},
		{"a dot in a page path", "GET", "/it-manager/users/bob@example.com", browserAccept, 200, ""},
		{"no Accept header", "GET", "/team-manager", "", 200, ""},
		{"any type", "GET", "/team-manager", "*/*", 200, ""},
		{"HEAD", "HEAD", "/it-manager", browserAccept, 200, "-"},
		{"index.html itself", "GET", "/index.html", browserAccept, 200, ""},
		{"dot segments", "GET", "/team-manager/../it-manager", browserAccept, 200, ""},
		{"a hidden file is not served", "GET", "/.secret", browserAccept, 200, ""},
		{"a file", "GET", "/robots.txt", "*/*", 200, "User-agent: *\n"},
		{"an asset", "GET", "/assets/index-B3x_9aZq.js", "*/*", 200, testAsset},
		{"a missing asset", "GET", "/assets/index-Zz9Zz9Zz.js", "*/*", 404, "problem"},
		{"a missing asset asked as a page", "GET", "/assets/gone", browserAccept, 404, "problem"},
		{"the assets folder", "GET", "/assets/", browserAccept, 404, "problem"},
		{"a hidden asset", "GET", "/assets/.hidden/x-Ab12Cd34.js", "*/*", 404, "problem"},
		{"a missing file", "GET", "/favicon.ico", "image/avif,image/webp,*/*;q=0.8", 404, "problem"},
		{"JSON only", "GET", "/team-manager", "application/json", 404, "problem"},
		{"HTML refused", "GET", "/team-manager", "text/html;q=0, application/json", 404, "problem"},
		{"unknown API version", "GET", "/api/v2/teams", browserAccept, 404, "problem"},
		{"unknown API path", "GET", "/api/v1/nothing-here", browserAccept, 404, "problem"},
		{"the API root", "GET", "/api", browserAccept, 404, "problem"},
		{"dev issuer outside dev mode", "GET", "/dev/oidc/authorize", browserAccept, 404, "problem"},
		{"under docs", "GET", "/docs/missing-page", browserAccept, 404, ""},
		{"under metrics", "GET", "/metrics/x", browserAccept, 404, "problem"},
		{"a write to a page", "POST", "/team-manager", browserAccept, 405, "problem"},
		{"a write to an unknown API path", "POST", "/api/v2/teams", browserAccept, 404, "problem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, map[string]string{"Accept": tc.accept})
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %.200s", tc.method, tc.path, rec.Code, tc.status, rec.Body)
			}
			ct := rec.Header().Get("Content-Type")
			switch {
			case tc.path == "/docs/missing-page":
				// the docs' file server: not the console
				if strings.Contains(rec.Body.String(), "id=\"app\"") {
					t.Fatalf("a docs path answered the console")
				}
			case tc.body == "problem":
				var p problem
				if ct != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != tc.status || p.RequestID == "" {
					t.Fatalf("want a problem document, got %q %s", ct, rec.Body)
				}
			case tc.body == "-":
				if rec.Body.Len() != 0 || ct != "text/html; charset=utf-8" {
					t.Fatalf("HEAD: %q, %d bytes", ct, rec.Body.Len())
				}
			case tc.body == "":
				if rec.Body.String() != testIndex || ct != "text/html; charset=utf-8" {
					t.Fatalf("want index.html, got %q %.100s", ct, rec.Body)
				}
			default:
				if rec.Body.String() != tc.body {
					t.Fatalf("body %.100q, want %.100q", rec.Body, tc.body)
				}
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Fatalf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

// TestConsoleCaching: hashed assets are immutable for a year, everything
// else is revalidated; ETags come from the content, and no Last-Modified
// is invented for files that have no time.
func TestConsoleCaching(t *testing.T) {
	h := newTestHandler(t, "http://127.0.0.1:8080/dev/oidc")
	for path, want := range map[string]string{
		"/":                          "no-cache",
		"/team-manager/members":      "no-cache",
		"/index.html":                "no-cache",
		"/robots.txt":                "no-cache",
		"/assets/index-B3x_9aZq.js":  "public, max-age=31536000, immutable",
		"/assets/style-Cq1x2y3z.css": "public, max-age=31536000, immutable",
		"/assets/plainname.js":       "no-cache", // no hash in the name
	} {
		rec := do(t, h, "GET", path, map[string]string{"Accept": browserAccept})
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != want {
			t.Errorf("%s: status %d, Cache-Control %q, want %q", path, rec.Code, rec.Header().Get("Cache-Control"), want)
		}
		if lm := rec.Header().Get("Last-Modified"); lm != "" {
			t.Errorf("%s: Last-Modified %q from a file with no time", path, lm)
		}
		if !strings.HasPrefix(rec.Header().Get("ETag"), `"`) {
			t.Errorf("%s: ETag %q", path, rec.Header().Get("ETag"))
		}
	}
	if ct := do(t, h, "GET", "/assets/index-B3x_9aZq.js", nil).Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("script Content-Type %q", ct)
	}
	if ct := do(t, h, "GET", "/assets/style-Cq1x2y3z.css", nil).Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("style Content-Type %q", ct)
	}

	// Revalidation: the same ETag gives 304, for the index and for a page
	// path (which is the index).
	etag := do(t, h, "GET", "/", nil).Header().Get("ETag")
	for _, path := range []string{"/", "/it-manager"} {
		if rec := do(t, h, "GET", path, map[string]string{"If-None-Match": etag}); rec.Code != 304 || rec.Body.Len() != 0 {
			t.Errorf("%s with If-None-Match: %d", path, rec.Code)
		}
	}
	if rec := do(t, h, "GET", "/", map[string]string{"If-None-Match": `"other"`}); rec.Code != 200 {
		t.Errorf("stale ETag: %d", rec.Code)
	}

	// Compression: gzip when asked, with its own ETag; identity otherwise
	// and for ranges; Vary either way.
	plain := do(t, h, "GET", "/assets/index-B3x_9aZq.js", nil)
	gz := do(t, h, "GET", "/assets/index-B3x_9aZq.js", map[string]string{"Accept-Encoding": "br;q=1, gzip;q=0.8"})
	if plain.Header().Get("Content-Encoding") != "" || plain.Body.String() != testAsset {
		t.Fatalf("identity: %q", plain.Header().Get("Content-Encoding"))
	}
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("ETag") == plain.Header().Get("ETag") ||
		gz.Header().Get("Vary") != "Accept-Encoding" || plain.Header().Get("Vary") != "Accept-Encoding" || gz.Body.Len() >= len(testAsset)/4 {
		t.Fatalf("gzip: encoding %q, etags %q %q, vary %q, %d bytes", gz.Header().Get("Content-Encoding"),
			gz.Header().Get("ETag"), plain.Header().Get("ETag"), gz.Header().Get("Vary"), gz.Body.Len())
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != testAsset {
		t.Fatalf("gzip body does not decode to the file")
	}
	if rec := do(t, h, "GET", "/assets/index-B3x_9aZq.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Fatalf("gzip;q=0 got gzip")
	}
	rng := do(t, h, "GET", "/assets/index-B3x_9aZq.js", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-6"})
	if rng.Code != 206 || rng.Body.String() != testAsset[:7] || rng.Header().Get("Content-Encoding") != "" {
		t.Fatalf("range: %d %q %q", rng.Code, rng.Body, rng.Header().Get("Content-Encoding"))
	}
}

// TestConsolePrecompressed: a .br or .gz sibling written by the build is
// served as it is to clients that take it.
func TestConsolePrecompressed(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(testAsset))
	_ = zw.Close()
	fsys := consoleFS()
	fsys["assets/index-B3x_9aZq.js.br"] = &fstest.MapFile{Data: []byte("BROTLI")}
	fsys["assets/index-B3x_9aZq.js.gz"] = &fstest.MapFile{Data: buf.Bytes()}
	c, err := newConsole(fsys, ConsoleConfig{}, problems{log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for ae, want := range map[string]string{"br, gzip": "BROTLI", "gzip": buf.String(), "": testAsset} {
		rec := do(t, c, "GET", "/assets/index-B3x_9aZq.js", map[string]string{"Accept-Encoding": ae})
		if rec.Body.String() != want || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("Accept-Encoding %q: %q, %.20q", ae, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
	if rec := do(t, c, "GET", "/assets/index-B3x_9aZq.js.br", nil); rec.Code != 404 {
		t.Errorf("a sibling is not a file of its own: %d", rec.Code)
	}
	if _, err := newConsole(fstest.MapFS{"app/index.html": {}}, ConsoleConfig{}, problems{}); err == nil {
		t.Error("a build without index.html at the top was accepted")
	}
}

// TestConsoleCSP: only self, with the identity provider's origin for
// sign-in requests when it is elsewhere; no inline script or style.
func TestConsoleCSP(t *testing.T) {
	dev := newTestHandler(t, "http://127.0.0.1:8080/dev/oidc")
	for _, path := range []string{"/", "/team-manager/members", "/assets/index-B3x_9aZq.js"} {
		if got := do(t, dev, "GET", path, nil).Header().Get("Content-Security-Policy"); got != devCSP {
			t.Errorf("%s: CSP\n %s\nwant\n %s", path, got, devCSP)
		}
	}
	prod := newTestHandler(t, "https://login.microsoftonline.com/tenant-id/v2.0")
	got := do(t, prod, "GET", "/", nil).Header().Get("Content-Security-Policy")
	if want := strings.Replace(devCSP, "connect-src 'self'", "connect-src 'self' https://login.microsoftonline.com", 1); got != want {
		t.Errorf("Entra ID: CSP\n %s\nwant\n %s", got, want)
	}
	if strings.Contains(got, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %s", got)
	}
	// Storage, for direct uploads and downloads, is the only other origin.
	c, err := newConsole(consoleFS(), ConsoleConfig{Authority: "https://login.microsoftonline.com/t/v2.0",
		Storage: "https://conveyor-files.s3.eu-west-1.amazonaws.com"}, problems{})
	if err != nil {
		t.Fatal(err)
	}
	got = do(t, c, "GET", "/", nil).Header().Get("Content-Security-Policy")
	if want := strings.Replace(devCSP, "connect-src 'self'", "connect-src 'self' https://login.microsoftonline.com https://conveyor-files.s3.eu-west-1.amazonaws.com", 1); got != want {
		t.Errorf("with storage: CSP\n %s\nwant\n %s", got, want)
	}
	for _, bad := range []string{"conveyor-files.s3.amazonaws.com", "https://s3.example/bucket", "ftp://s3.example", "https://s3.example/?x=1"} {
		if _, err := newConsole(consoleFS(), ConsoleConfig{Storage: bad}, problems{}); err == nil {
			t.Errorf("storage origin %q accepted", bad)
		}
	}
}

// TestConsoleConfig: where the console signs in, never cached.
func TestConsoleConfig(t *testing.T) {
	h := newTestHandler(t, "http://127.0.0.1:8080/dev/oidc")
	rec := do(t, h, "GET", "/console/config.json", nil)
	var got map[string]string
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
		t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	want := map[string]string{"authority": "http://127.0.0.1:8080/dev/oidc", "client_id": "conveyor-console", "scope": "openid profile email offline_access"}
	if len(got) != len(want) || got["authority"] != want["authority"] || got["client_id"] != want["client_id"] || got["scope"] != want["scope"] {
		t.Fatalf("config = %v, want %v", got, want)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", rec.Header())
	}
	// Not configured (outside dev mode without a client id): said so, not hidden.
	h2, err := NewHandler(Deps{Metrics: observe.NewMetrics(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CursorKey: bytes.Repeat([]byte("k"), 32), ConsoleConfig: ConsoleConfig{Authority: "https://idp.example", Scope: "openid"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := do(t, h2, "GET", "/console/config.json", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"client_id":""`) {
		t.Fatalf("unconfigured: %d %s", rec.Code, rec.Body)
	}
	// Without a console the pages are not served.
	if rec := do(t, h2, "GET", "/team-manager", map[string]string{"Accept": browserAccept}); rec.Code != 404 {
		t.Fatalf("no console: /team-manager = %d", rec.Code)
	}
}

func TestAcceptsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"": true, browserAccept: true, "*/*": true, "text/*": true, "TEXT/HTML": true, "text/html;level=1;q=0.5": true,
		"application/json": false, "text/html;q=0": false, "image/png, */*;q=0": false, "text/plain": false,
	} {
		if got := acceptsHTML(accept); got != want {
			t.Errorf("acceptsHTML(%q) = %v", accept, got)
		}
	}
}
