package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSecurityHeadersLive: the real server's answers carry their class's
// security headers (OWASP API8): authenticated API data, a problem, the
// docs, the console's config.
func TestSecurityHeadersLive(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	get := func(path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := e.Client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, tc := range []struct {
		class, path, token string
		status             int
		cache, csp         string // Cache-Control exactly; a part of the CSP
	}{
		{"authenticated data", "/api/v1/me", e.Token(t, "headers-live", false), 200, "no-store", "default-src 'none'"},
		{"problem", "/api/v1/me", "", 401, "no-store", "default-src 'none'"},
		{"docs", "/docs/", "", 200, "", "script-src 'self' 'sha256-"},
		{"console config", "/console/config.json", "", 200, "no-store", "default-src 'none'"},
	} {
		t.Run(tc.class, func(t *testing.T) {
			resp := get(tc.path, tc.token)
			h := resp.Header
			if resp.StatusCode != tc.status || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
				!strings.Contains(h.Get("Content-Security-Policy"), tc.csp) || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				h.Get("Cache-Control") != tc.cache {
				t.Fatalf("%s: %d %v", tc.path, resp.StatusCode, h)
			}
		})
	}
	var cfg map[string]string
	if err := json.NewDecoder(get("/console/config.json", "").Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["authority"] != e.Getenv("CONVEYOR_OIDC_ISSUER") || cfg["client_id"] != "conveyor-console" || cfg["scope"] != "openid profile email offline_access" {
		t.Fatalf("console config = %v", cfg)
	}
}

// TestOversizedHeadersLive: header fields past 64 KiB get a 431 problem
// document with the request id; past the server's own backstop (twice
// that), net/http's plain 431 before any handler runs.
func TestOversizedHeadersLive(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	send := func(pad int) (int, http.Header, string) {
		t.Helper()
		// A raw request: net/http's client would refuse nothing, but this
		// says exactly what goes on the wire.
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /api/v1/me HTTP/1.1\r\nHost: %s\r\nX-Request-ID: big-headers-live\r\nX-Padding: %s\r\nConnection: close\r\n\r\n",
			strings.TrimPrefix(e.URL, "http://"), strings.Repeat("p", pad))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, h, body := send(70 << 10)
	var p struct {
		Status    int    `json:"status"`
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
	}
	if code != 431 || h.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(body), &p) != nil ||
		p.Status != 431 || p.RequestID != "big-headers-live" || h.Get("X-Request-ID") != "big-headers-live" {
		t.Fatalf("70 KiB of headers: %d %v %s", code, h, body)
	}
	if code, h, _ := send(200 << 10); code != 431 || strings.Contains(h.Get("Content-Type"), "json") {
		t.Fatalf("200 KiB of headers: %d %q (want net/http's own 431)", code, h.Get("Content-Type"))
	}
	if code, _, _ := send(60 << 10); code != 401 {
		t.Fatalf("60 KiB of headers: %d, want the route's own answer (401: no token)", code)
	}
}
