package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/internal/apptest"
)

// TestAPIKeyUseThrottled: a burst of requests with one key writes its
// last_used_at once (one statement, not one per request), and an If-Match
// revoke with the ETag read before the burst still succeeds: use is
// telemetry, not a change of the key's version.
func TestAPIKeyUseThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := apptest.Start(t, apptest.Options{LogStatements: true, NoWorker: true})
	ctx := context.Background()
	adminToken := e.Token(t, "key-use-admin", true)
	admin, err := conveyor.New(e.URL, conveyor.WithToken(adminToken), conveyor.WithDoer(e.Client(t)))
	if err != nil {
		t.Fatal(err)
	}
	team, err := admin.CreateTeam(ctx, "Busy keys")
	if err != nil {
		t.Fatal(err)
	}
	created, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "busy", Role: conveyor.ApiKeyCreateRoleViewer})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create key: %v", err)
	}
	mgr := rawClient{t: t, base: e.URL, token: adminToken, c: e.Client(t)}
	keyPath := fmt.Sprintf("/teams/%s/api-keys/%s", team.Id, created.JSON201.Id)
	r, _ := mgr.send("GET", keyPath, "", nil, nil)
	before := r.Header.Get("ETag")
	if r.StatusCode != 200 || before == "" {
		t.Fatalf("read the key: %d ETag %q", r.StatusCode, before)
	}

	const uses = 60
	key := rawClient{t: t, base: e.URL, token: created.JSON201.Secret, c: e.Client(t)}
	for i := range uses {
		if r, b := key.send("GET", "/me", "", nil, nil); r.StatusCode != 200 {
			t.Fatalf("use %d: %d %s", i, r.StatusCode, b)
		}
	}
	// The use is written in the background, within about a second.
	var used bool
	for deadline := time.Now().Add(10 * time.Second); !used && time.Now().Before(deadline); {
		_, b := mgr.send("GET", keyPath, "", nil, nil)
		var k struct {
			LastUsedAt *time.Time `json:"last_used_at"`
		}
		if err := json.Unmarshal(b, &k); err != nil {
			t.Fatal(err)
		}
		if used = k.LastUsedAt != nil; !used {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !used {
		t.Fatal("last_used_at was never recorded")
	}
	time.Sleep(1500 * time.Millisecond) // a flush that would write again has had its chance
	n, err := e.Stack.CountStatements("primary", "name: TouchAPIKey")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d requests with one key wrote last_used_at in %d statements; want 1", uses, n)
	}

	if r, b := mgr.send("DELETE", keyPath, "", nil, map[string]string{"If-Match": before}); r.StatusCode != 204 {
		t.Fatalf("revoke with the ETag read before the key was used: %d %s", r.StatusCode, b)
	}
	if r, _ := key.send("GET", "/me", "", nil, nil); r.StatusCode != 401 {
		t.Fatalf("the revoked key still works: %d", r.StatusCode)
	}
}
