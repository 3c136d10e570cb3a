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
