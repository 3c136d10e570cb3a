package app_test

import (
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/gen/console"
)

// TestConsoleServedLive: the real `conveyor serve` answers the console's
// faces and deep links with its index.html (uncached), its hashed assets
// as immutable, and a missing asset with a 404, all under the console's CSP.
func TestConsoleServedLive(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	index, err := fs.ReadFile(console.FS, "dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	const page = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, path := range []string{"/", "/team-manager", "/team-manager/members", "/it-manager", "/it-manager/teams"} {
		resp, body := get(path, page)
		h := resp.Header
		if resp.StatusCode != 200 || body != string(index) || h.Get("Content-Type") != "text/html; charset=utf-8" ||
			h.Get("Cache-Control") != "no-cache" || h.Get("X-Frame-Options") != "DENY" ||
			!strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'; script-src 'self';") {
			t.Fatalf("%s: %d %v\n%.200s", path, resp.StatusCode, h, body)
		}
	}
	// Connections go to the origin and to storage only (direct uploads and
	// downloads use its presigned URLs); the dev issuer is the origin.
	resp, _ := get("/", page)
	want := "connect-src 'self' " + strings.TrimRight(e.Getenv("CONVEYOR_S3_ENDPOINT"), "/") + ";"
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Fatalf("console CSP %q lacks %q", csp, want)
	}
	// The assets index.html loads: hashed, immutable, of their type.
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html names %d assets", len(refs))
	}
	for _, ref := range refs {
		resp, body := get(ref[1], "*/*")
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			!(strings.HasPrefix(ct, "text/javascript") || strings.HasPrefix(ct, "text/css")) || len(body) == 0 ||
			resp.Header.Get("Last-Modified") != "" {
			t.Fatalf("%s: %d %v", ref[1], resp.StatusCode, resp.Header)
		}
	}
	// Every file the build puts under assets/ is recognised as hashed.
	assets, err := fs.Glob(console.FS, "dist/assets/*")
	if err != nil || len(assets) == 0 {
		t.Fatalf("assets: %v %v", assets, err)
	}
	for _, a := range assets {
		if resp, _ := get(strings.TrimPrefix(a, "dist"), "*/*"); resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", a, resp.Header.Get("Cache-Control"))
		}
	}
	if resp, body := get("/assets/index-Zz9Zz9Zz.js", "*/*"); resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("missing asset: %d %.200s", resp.StatusCode, body)
	}
	if resp, _ := get("/api/v9/teams", page); resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown API path: %d", resp.StatusCode)
	}
}
