package app_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestRateLimits runs two API processes with tight limits: the budget is
// per principal, shared by both processes (it lives in Redis), and health,
// readiness and metrics are exempt.
func TestRateLimits(t *testing.T) {
	e := setup(t)
	tight := map[string]string{"CONVEYOR_RATE_LIMIT_READ": "2/s burst 3", "CONVEYOR_RATE_LIMIT_WRITE": "off"}
	a, b := e.StartAPI(t, tight), e.StartAPI(t, tight)
	tok := e.Token(t, "limited", false)
	client := e.Client(t)
	get := func(base, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i, base := range []string{a, b, a} {
		resp := get(base, tok)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "3" || resp.Header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d limit %q remaining %q", i, resp.StatusCode, resp.Header.Get("RateLimit-Limit"), resp.Header.Get("RateLimit-Remaining"))
		}
	}
	resp := get(b, tok) // the other process: same budget
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || resp.Header.Get("Content-Type") != "application/problem+json" ||
		resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Reset") == "" {
		t.Fatalf("over the limit: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header)
	}
	if other := get(a, e.Token(t, "unlimited-neighbour", false)); other.StatusCode != 200 {
		t.Fatalf("another principal was limited: %d", other.StatusCode)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		for range 10 {
			r, err := http.Get(a + path)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != 200 {
				t.Fatalf("%s = %d: exempt endpoints are never limited", path, r.StatusCode)
			}
		}
	}
	time.Sleep(time.Duration(retry) * time.Second)
	if resp := get(a, tok); resp.StatusCode != 200 {
		t.Fatalf("after Retry-After: %d", resp.StatusCode)
	}
}
