package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestAdminSeesUsersTheReplicasLack: a user's first call (their invitation
// claimed, or their row created) is their own write, which the admin's
// read-your-writes position does not cover. With replay paused on every
// replica after the admin's last write, the replicas really lack both
// users, yet the admin reads each of them and lists them: a user who has
// called the API never answers 404 to a platform admin.
func TestAdminSeesUsersTheReplicasLack(t *testing.T) {
	env := shared.Env(t)
	admin := newCaller(t, env.URL, "uview-admin", true)
	team := admin.createTeam("uview")
	code, body, _, err := admin.do("POST", "/teams/"+team+"/members", `{"email":"uview-invited@example.test","role":"viewer"}`)
	if err != nil || code != 201 {
		t.Fatalf("invite: %d %s %v", code, body, err)
	}
	catchUp(t)

	setReplay(t, true)
	defer setReplay(t, false)
	var ids []string
	for _, subject := range []string{"uview-invited", "uview-fresh"} {
		code, body, _, err := newCaller(t, env.URL, subject, false).do("GET", "/me", "")
		var me struct{ User struct{ ID string } }
		if err != nil || code != 200 || json.Unmarshal(body, &me) != nil {
			t.Fatalf("%s's first call: %d %s %v", subject, code, body, err)
		}
		ids = append(ids, me.User.ID)
	}
	for i, url := range env.Stack.DirectReplicaURLs {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = conn.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE id::text = ANY($1) AND issuer <> ''", ids).Scan(&n)
		conn.Close(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("replica %d has %d of the new users (%v): the test would prove nothing", i+1, n, err)
		}
	}

	for _, id := range ids {
		if code, body, _, err := admin.do("GET", "/users/"+id, ""); err != nil || code != 200 {
			t.Fatalf("the admin reads user %s: %d %s %v", id, code, body, err)
		}
	}
	code, body, _, err = admin.do("GET", "/users?limit=100", "")
	var page struct{ Items []struct{ ID string } }
	if err != nil || code != 200 || json.Unmarshal(body, &page) != nil {
		t.Fatalf("list users: %d %s %v", code, body, err)
	}
	listed := map[string]bool{}
	for _, u := range page.Items {
		listed[u.ID] = true
	}
	for _, id := range ids {
		if !listed[id] { // newest first: the two newest are on the first page
			t.Fatalf("user %s not listed: %s", id, body)
		}
	}
}
