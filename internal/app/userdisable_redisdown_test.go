package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/users"
)

// TestDisableWhileRedisIsDown: with Redis stopped, nothing can announce a
// change. A user disabled through one API process is refused there at
// once and on the other process within its refresh of the disabled users
// (users.DefaultGateRefresh); a team deleted meanwhile keeps an open
// stream on the other process only until Redis is back, when the process
// checks the teams it streams and ends it.
func TestDisableWhileRedisIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own topology")
	}
	e := apptest.Start(t, apptest.Options{NoWorker: true})
	p1, p2 := e.URL, e.StartAPI(t, nil)
	adminTok, annTok := e.Token(t, "down-admin", true), e.Token(t, "down-ann", false)
	admin := rawClient{t: t, base: p1, token: adminTok, c: e.Client(t)}
	ann1 := rawClient{t: t, base: p1, token: annTok, c: e.Client(t)}
	ann2 := rawClient{t: t, base: p2, token: annTok, c: e.Client(t)}
	r, b := admin.send("POST", "/teams", "application/json", []byte(`{"name":"Redis down"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("create team: %d %s", r.StatusCode, b)
	}
	team := idOf(t, b)
	_, b = ann2.send("GET", "/me", "", nil, nil)
	ann := idOfUser(t, b)
	stream := e.OpenStream(t, p2+"/api/v1/teams/"+team+"/events", http.Header{"Authorization": {"Bearer " + adminTok}})
	if stream.Resp.StatusCode != 200 {
		t.Fatalf("stream: %d", stream.Resp.StatusCode)
	}

	if err := e.Stack.StopRedis(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = e.Stack.StartRedis(context.Background())
		}
	}()
	r, _ = admin.send("GET", "/users/"+ann, "", nil, nil)
	if r, b := admin.send("PATCH", "/users/"+ann, "application/json", []byte(`{"disabled":true}`), map[string]string{"If-Match": r.Header.Get("ETag")}); r.StatusCode != 200 {
		t.Fatalf("disable with Redis down: %d %s", r.StatusCode, b)
	}
	if r, b := ann1.send("GET", "/me", "", nil, nil); r.StatusCode != 401 || problemType(t, b) != userDisabledType {
		t.Fatalf("on the process that disabled her: %d %s", r.StatusCode, b)
	}
	eventually(t, users.DefaultGateRefresh+5*time.Second, func() string {
		if r, b := ann2.send("GET", "/me", "", nil, nil); r.StatusCode != 401 {
			return fmt.Sprintf("on the other process: %d %s", r.StatusCode, b)
		}
		return ""
	})

	if r, b := admin.send("DELETE", "/teams/"+team, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete with Redis down: %d %s", r.StatusCode, b)
	}
	if err := e.Stack.StartRedis(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if !stream.Ended(30 * time.Second) {
		t.Fatal("the deleted team's stream is still open after Redis came back")
	}
}
