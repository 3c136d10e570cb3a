package app_test

import (
	"context"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/devstack"
)

// TestGoExamplesAgainstLiveServer runs the Go SDK's examples (clients/go,
// built with -tags live) against this server, each checking its output.
// It fails when an example fails, and when fewer ran than the file holds,
// so that the examples cannot pass by not running.
func TestGoExamplesAgainstLiveServer(t *testing.T) {
	e := setup(t)
	root, err := devstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "clients", "go")
	src, err := os.ReadFile(filepath.Join(dir, "example_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	want := len(regexp.MustCompile(`(?m)^func Example\w*\(\)`).FindAll(src, -1))
	if want == 0 {
		t.Fatal("clients/go/example_test.go has no examples")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "test", "-tags", "live", "-run", "^Example", "-count=1", "-v", "-timeout", "4m", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CONVEYOR_URL="+e.URL, "CONVEYOR_TOKEN="+e.Token(t, "go-examples", true))
	out, err := cmd.CombinedOutput()
	t.Logf("go test -tags live -run ^Example ./... in clients/go:\n%s", out)
	if err != nil {
		t.Fatalf("the Go SDK's examples failed: %v", err)
	}
	if ran := len(regexp.MustCompile(`(?m)^--- PASS: Example`).FindAll(out, -1)); ran != want {
		t.Fatalf("%d examples passed; clients/go/example_test.go has %d", ran, want)
	}
}

// TestGoSDKEventsSurviveAReplicaShutdown: a Go SDK event stream served by
// an API replica that shuts down reconnects (through a front proxy, now
// routing to another replica) with Last-Event-ID, and receives what
// happened while it was away.
func TestGoSDKEventsSurviveAReplicaShutdown(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stopA, endA := context.WithCancel(ctx)
	defer endA()
	replica := e.StartAPIWithContext(t, stopA, nil)

	var target atomic.Pointer[url.URL]
	a, _ := url.Parse(replica)
	target.Store(a)
	var mu sync.Mutex
	var lastIDs []string
	front := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			if strings.HasSuffix(r.In.URL.Path, "/events") {
				mu.Lock()
				lastIDs = append(lastIDs, r.In.Header.Get("Last-Event-ID"))
				mu.Unlock()
			}
			r.SetURL(target.Load())
		},
		FlushInterval: -1,
	})
	defer front.Close()

	token := e.Token(t, "go-sdk-events", true)
	c, err := conveyor.New(front.URL, conveyor.WithToken(token), conveyor.WithDoer(e.Client(t)))
	if err != nil {
		t.Fatal(err)
	}
	direct := sdk(t, e, token)
	team, err := c.CreateTeam(ctx, "events-failover")
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	stream, err := c.Events(ctx, team.Id, conveyor.WithReconnectHook(func(err error, wait time.Duration) {
		reasons = append(reasons, err.Error())
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	fileCreated := func(name string) {
		t.Helper()
		for {
			ev, err := stream.Next()
			if err != nil {
				t.Fatalf("waiting for %s: %v", name, err)
			}
			if ev.Type == conveyor.EventTypeFileCreated && ev.File.Name == name {
				return
			}
		}
	}
	if _, err := direct.UploadFile(ctx, team.Id, "before.txt", strings.NewReader("before")); err != nil {
		t.Fatal(err)
	}
	fileCreated("before.txt")
	seen := stream.LastEventID()

	// Replica A goes; the proxy now sends new connections to the main API.
	m, _ := url.Parse(e.URL)
	target.Store(m)
	endA()
	if _, err := direct.UploadFile(ctx, team.Id, "while-away.txt", strings.NewReader("while away")); err != nil {
		t.Fatal(err)
	}
	fileCreated("while-away.txt")

	mu.Lock()
	defer mu.Unlock()
	if len(lastIDs) < 2 || lastIDs[0] != "" || lastIDs[len(lastIDs)-1] != seen {
		t.Fatalf("Last-Event-ID sent on each connection: %q; want none, then %q", lastIDs, seen)
	}
	if len(reasons) == 0 {
		t.Fatal("the stream never reconnected")
	}
	t.Logf("reconnected after: %v", reasons)
}
