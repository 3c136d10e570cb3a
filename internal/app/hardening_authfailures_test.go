package app_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAuthFailureBudget runs two API processes with a budget of four
// failed authentications per client address (refilled at one a second):
// failures on either process count against the same budget (it lives in
// Redis); past it, bad credentials get 429 problem+json with Retry-After;
// a valid token from that same address still works; another address is
// not affected; and the budget recovers after Retry-After.
func TestAuthFailureBudget(t *testing.T) {
	e := setup(t)
	budget := map[string]string{"CONVEYOR_RATE_LIMIT_AUTH_FAILURES": "1/s burst 4"}
	a, b := e.StartAPI(t, budget), e.StartAPI(t, budget)
	client := e.Client(t)
	send := func(c *http.Client, base, header, value string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
		req.Header.Set(header, value)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	badKey := "cvk_" + strings.Repeat("A", 43)
	bad := []func(base string) *http.Response{
		func(base string) *http.Response { return send(client, base, "X-API-Key", badKey) },
		func(base string) *http.Response { return send(client, base, "Authorization", "Bearer not.a.jwt") },
	}
	for i, base := range []string{a, b, a, b} {
		if r := bad[i%2](base); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d of 4 (within the budget): %d", i+1, r.StatusCode)
		}
	}
	for _, base := range []string{a, b} { // 4 failures across both: spent on both
		r := bad[0](base)
		retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.StatusCode != http.StatusTooManyRequests || retry < 1 || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("past the budget on %s: %d Retry-After %q %q", base, r.StatusCode, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"))
		}
	}

	token := e.Token(t, "auth-budget-user", false)
	for _, base := range []string{a, b} {
		if r := send(client, base, "Authorization", "Bearer "+token); r.StatusCode != http.StatusOK {
			t.Fatalf("a valid token from the address over budget: %d", r.StatusCode)
		}
	}

	// Another client address (127.0.0.2 is loopback too) has its own budget.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	if r := send(other, a, "X-API-Key", badKey); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a bad key from another address: %d; its budget is its own", r.StatusCode)
	}

	r := bad[1](a)
	retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("still over budget: %d", r.StatusCode)
	}
	time.Sleep(time.Duration(retry)*time.Second + 100*time.Millisecond)
	if r := bad[1](b); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after Retry-After: %d; the budget should have recovered", r.StatusCode)
	}
}

// TestAuthFailureBudgetBehindProxy: behind a trusted proxy the budget is
// the forwarded client's, not the proxy's; a client cannot escape its
// budget by sending its own X-Forwarded-For (the proxy appends the real
// address, and only that hop is believed).
func TestAuthFailureBudgetBehindProxy(t *testing.T) {
	e := setup(t)
	api := e.StartAPI(t, map[string]string{"CONVEYOR_RATE_LIMIT_AUTH_FAILURES": "1/m burst 2", "CONVEYOR_TRUSTED_PROXIES": "127.0.0.0/8"})
	client := e.Client(t)
	// Addresses of this run only: the budgets outlive the test by a minute.
	net3 := strconv.Itoa(int(time.Now().UnixNano()%250) + 1)
	alice, bob := "198.18."+net3+".1", "198.18."+net3+".2"
	fail := func(xff string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", api+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer not.a.jwt")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{401, 401, 429} {
		if got := fail(alice); got != want {
			t.Fatalf("alice's failure %d: %d, want %d", i+1, got, want)
		}
	}
	if got := fail("203.0.113.250, " + alice); got != 429 {
		t.Fatalf("alice with a forged hop in front: %d, want 429", got)
	}
	if got := fail(bob); got != 401 {
		t.Fatalf("bob behind the same proxy: %d, want 401 (his own budget)", got)
	}
}
