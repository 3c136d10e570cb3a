package app

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

// TestDevBannerPrintsTheConsoleFirst: `make run` names the console's URL
// before the API and the docs, has a line starting Mail: with mailpit's UI,
// and ends with the token.
func TestDevBannerPrintsTheConsoleFirst(t *testing.T) {
	var b bytes.Buffer
	cfg := &config.Config{PublicURL: "http://127.0.0.1:8080", WorkerAddr: "127.0.0.1:9091"}
	stack := &devstack.Stack{PrimaryURL: "postgres://p", ReplicaURLs: []string{"postgres://r"}, RedisAddr: "127.0.0.1:6379",
		S3Endpoint: "http://127.0.0.1:7070", S3Bucket: "conveyor",
		MailURL: "http://127.0.0.1:8025", SMTPAddr: "127.0.0.1:1025"}
	writeDevBanner(&b, 1234*time.Millisecond, cfg, stack, "TOKEN")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "Conveyor is running") {
		t.Fatalf("banner:\n%s", b.String())
	}
	if lines[1] != "  Console:  http://127.0.0.1:8080/" {
		t.Fatalf("first line after the title is %q, want the console's URL", lines[1])
	}
	api, docs, mail := -1, -1, -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "Mail:"):
			mail = i
			if !strings.Contains(l, "http://127.0.0.1:8025") {
				t.Errorf("mail line %q lacks mailpit's UI URL", l)
			}
		case strings.HasPrefix(l, "  API:"):
			api = i
		case strings.HasPrefix(l, "  Docs:"):
			docs = i
		}
	}
	if mail < 0 {
		t.Errorf("no line starting Mail: (mailpit's UI):\n%s", b.String())
	}
	if api != 2 || docs != 3 || lines[len(lines)-1] != "TOKEN" {
		t.Fatalf("order: API line %d, Docs line %d, last %q:\n%s", api, docs, lines[len(lines)-1], b.String())
	}
}

// TestFullDevBannerListsEveryProcess: `make run-full` names the console
// first, then every API and worker process on its own line as
// "  api pid <pid> <url>" and "  worker pid <pid> <url>", and ends with the
// token.
func TestFullDevBannerListsEveryProcess(t *testing.T) {
	var b bytes.Buffer
	procs := []devProc{{"api", 101, "http://127.0.0.1:4001"}, {"api", 102, "http://127.0.0.1:4002"},
		{"worker", 201, "http://127.0.0.1:5001"}, {"worker", 202, "http://127.0.0.1:5002"}}
	writeFullDevBanner(&b, 2*time.Second, "http://127.0.0.1:8080", procs, "postgres://a", "postgres://w", 2,
		"127.0.0.1:6379", "http://127.0.0.1:7070", "http://127.0.0.1:8025", ".run/dev", "TOKEN")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !strings.HasPrefix(lines[0], "Conveyor is running") || lines[1] != "  Console:  http://127.0.0.1:8080/" {
		t.Fatalf("banner:\n%s", b.String())
	}
	for _, want := range []string{"  api pid 101 http://127.0.0.1:4001", "  api pid 102 http://127.0.0.1:4002",
		"  worker pid 201 http://127.0.0.1:5001", "  worker pid 202 http://127.0.0.1:5002"} {
		n := 0
		for _, l := range lines {
			if l == want {
				n++
			}
		}
		if n != 1 {
			t.Errorf("line %q appears %d times, want once:\n%s", want, n, b.String())
		}
	}
	if lines[len(lines)-1] != "TOKEN" {
		t.Errorf("last line %q, want the token", lines[len(lines)-1])
	}
}
