package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestClientGoneMidUploadIs499: a client that hangs up during an upload —
// in the middle of its body, or after the body but before the answer — is
// counted as 499 (client closed request) in /metrics, not as a server
// error (the second case was a 500) or a bad request (the first was a
// 400), and its request is logged at info, never at warn or error.
func TestClientGoneMidUploadIs499(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tok := e.Token(t, "client-gone", true)
	team, err := sdk(t, e, tok).CreateTeam(ctx, "Hang-ups")
	if err != nil {
		t.Fatal(err)
	}
	// An API process of its own, logging at info: its metrics and log
	// lines are this test's alone.
	api := e.StartAPI(t, map[string]string{"CONVEYOR_LOG_LEVEL": "info"})
	const route = `route="/api/v1/teams/{team_id}/files"`
	for _, tc := range []struct {
		name  string
		whole bool
	}{{"mid-body", false}, {"after the body", true}} {
		t.Run(tc.name, func(t *testing.T) {
			before := requestCounts(t, api, route)
			rid := "client-gone-" + uuid.NewString()
			abandonUpload(t, api, team.Id.String(), tok, rid, tc.whole)

			deadline := time.Now().Add(10 * time.Second)
			var after map[string]float64
			for {
				after = requestCounts(t, api, route)
				if after[`status="499"`] > before[`status="499"`] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no 499 counted for the abandoned upload: before %v, after %v", before, after)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for status, n := range after {
				if status != `status="499"` && n != before[status] {
					t.Errorf("the abandoned upload was also counted as %s (%v -> %v)", status, before[status], n)
				}
			}
			var lines []string
			for _, line := range strings.Split(e.Logs(), "\n") {
				if strings.Contains(line, rid) {
					lines = append(lines, line)
				}
			}
			logged499 := false
			for _, line := range lines {
				if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
					t.Errorf("the abandoned upload was logged above info: %s", line)
				}
				logged499 = logged499 || strings.Contains(line, "status=499")
			}
			if !logged499 {
				t.Errorf("the abandoned upload was not logged as 499:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// abandonUpload sends an upload of 12 MiB to the API at base over a raw
// connection and closes it: after 4 MiB of the body, or (whole) after all
// of it, without reading the answer.
func abandonUpload(t *testing.T, base, team, tok, rid string, whole bool) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--b0undary--\r\n"
	const size, chunk = 12 << 20, 256 << 10
	fmt.Fprintf(conn, "POST /api/v1/teams/%s/files HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Request-ID: %s\r\n"+
		"Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: %d\r\n\r\n%s",
		team, host, tok, rid, len(head)+size+len(tail), head)
	sent := 0
	for ; sent < size && (whole || sent < 4<<20); sent += chunk {
		if _, err := conn.Write(make([]byte, chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if whole {
		fmt.Fprint(conn, tail)
	} else {
		time.Sleep(100 * time.Millisecond) // the server is streaming it to storage
	}
}

// requestCounts reads conveyor_http_requests_total for one route from
// the /metrics of the API at base, by its status label (`status="201"`).
func requestCounts(t *testing.T, base, route string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "conveyor_http_requests_total{") || !strings.Contains(line, route) ||
			!strings.Contains(line, `method="POST"`) {
			continue
		}
		labels, value, _ := strings.Cut(line, "} ")
		for _, l := range strings.Split(strings.TrimPrefix(labels, "conveyor_http_requests_total{"), ",") {
			if strings.HasPrefix(l, "status=") {
				var v float64
				_, _ = fmt.Sscan(value, &v)
				out[l] += v
			}
		}
	}
	return out
}
