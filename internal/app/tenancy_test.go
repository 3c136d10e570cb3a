package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// eventually polls check until it returns "" (done) or fails the test with
// its last answer after limit.
func eventually(t *testing.T, limit time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func usageOf(t *testing.T, c *conveyor.Client, team uuid.UUID) conveyor.TeamUsage {
	t.Helper()
	got, err := c.Team(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	return got.Usage
}

// TestTeamUsage: a team's usage counts its live files, its jobs' recorded
// outputs and its jobs by state, in the team and in the list, and is
// exact again right after a file (and with it its jobs' outputs) is
// deleted.
func TestTeamUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "usage-admin", true))
	team, err := admin.CreateTeam(ctx, "Usage")
	if err != nil {
		t.Fatal(err)
	}
	if team.Usage != (conveyor.TeamUsage{}) {
		t.Fatalf("a new team's usage: %+v", team.Usage)
	}
	img := tinyPNG(t, 640, 480)
	notes := []byte("notes that stay")
	fImg, err := admin.UploadFile(ctx, team.Id, "photo.png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.UploadFile(ctx, team.Id, "notes.txt", bytes.NewReader(notes)); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, admin, team.Id); u.FileCount != 2 || u.StoredBytes != int64(len(img)+len(notes)) {
		t.Fatalf("after two uploads (read your writes): %+v", u)
	}
	job, err := admin.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &fImg.Id, Processor: "thumbnail"})
	if err != nil {
		t.Fatal(err)
	}
	if job, err = admin.WaitForJob(ctx, team.Id, job.Id, 20*time.Millisecond); err != nil || job.Status != conveyor.JobStatusSucceeded {
		t.Fatalf("thumbnail: %+v %v", job, err)
	}
	outs, err := admin.JobOutputs(ctx, team.Id, job.Id)
	if err != nil || len(outs) == 0 {
		t.Fatalf("outputs: %+v %v", outs, err)
	}
	var outBytes int64
	for _, o := range outs {
		outBytes += o.Size
	}
	want := conveyor.TeamUsage{StoredBytes: int64(len(img)+len(notes)) + outBytes, FileCount: 2,
		Jobs: conveyor.JobCounts{Succeeded: 1}}
	eventually(t, 10*time.Second, func() string {
		if u := usageOf(t, admin, team.Id); u != want {
			return "usage " + jsonOf(u) + ", want " + jsonOf(want)
		}
		return ""
	})
	var listed *conveyor.Team
	for tm, err := range admin.Teams(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if tm.Id == team.Id {
			listed = &tm
			break
		}
	}
	if listed == nil || listed.Usage != want {
		t.Fatalf("the team in the list: %+v, want usage %+v", listed, want)
	}

	if r, err := admin.DeleteFileWithResponse(ctx, team.Id, fImg.Id); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %v %v", r, err)
	}
	want = conveyor.TeamUsage{StoredBytes: int64(len(notes)), FileCount: 1, Jobs: conveyor.JobCounts{Succeeded: 1}}
	if u := usageOf(t, admin, team.Id); u != want {
		t.Fatalf("right after deleting the image (its thumbnail goes too): %+v, want %+v", u, want)
	}
}

// TestRenameTeam: a rename needs If-Match (428 without, 412 when the name
// changed since), passes when only usage moved since the read, answers the
// new ETag that a read then shows, is open to the team's managers, and is
// audited; a read's ETag moves with usage, so If-None-Match never keeps a
// stale usage.
func TestRenameTeam(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	ctx := context.Background()
	adminTok := e.Token(t, "rename-admin", true)
	admin := sdk(t, e, adminTok)
	rc := rawClient{t: t, base: e.URL, token: adminTok, c: e.Client(t)}
	team, err := admin.CreateTeam(ctx, "Before")
	if err != nil {
		t.Fatal(err)
	}
	path := "/teams/" + team.Id.String()
	r, _ := rc.send("GET", path, "", nil, nil)
	read := r.Header.Get("ETag")

	if r, b := rc.send("PATCH", path, "application/json", []byte(`{"name":"After"}`), nil); r.StatusCode != http.StatusPreconditionRequired ||
		!bytes.Contains(b, []byte("precondition-required")) {
		t.Fatalf("rename without If-Match: %d %s", r.StatusCode, b)
	}
	if r, b := rc.send("PATCH", path, "application/json", []byte(`{}`), map[string]string{"If-Match": read}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a rename of nothing: %d %s", r.StatusCode, b)
	}
	if r, b := rc.send("PATCH", path, "application/json", []byte(`{"name":" \u0007 "}`), map[string]string{"If-Match": read}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a control character in the name: %d %s", r.StatusCode, b)
	}
	// Usage moves between the read and the rename.
	if _, err := admin.UploadFile(ctx, team.Id, "moves-usage.txt", bytes.NewReader([]byte("usage moved"))); err != nil {
		t.Fatal(err)
	}
	if r, _ := rc.send("GET", path, "", nil, map[string]string{"If-None-Match": read}); r.StatusCode != http.StatusOK {
		t.Fatalf("If-None-Match after usage changed: %d; want 200 with the new usage", r.StatusCode)
	}
	r, b := rc.send("PATCH", path, "application/json", []byte(`{"name":"  After "}`), map[string]string{"If-Match": read})
	renamed := r.Header.Get("ETag")
	if r.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"name":"After"`)) || renamed == "" || renamed == read {
		t.Fatalf("rename with the ETag read before usage moved: %d %s (etag %q)", r.StatusCode, b, renamed)
	}
	r, b = rc.send("GET", path, "", nil, nil)
	if r.Header.Get("ETag") != renamed || !bytes.Contains(b, []byte(`"name":"After"`)) || !bytes.Contains(b, []byte(`"file_count":1`)) {
		t.Fatalf("read after rename: %s %s (etag %q, want %q)", r.Status, b, r.Header.Get("ETag"), renamed)
	}
	if r, _ := rc.send("PATCH", path, "application/json", []byte(`{"name":"Again"}`), map[string]string{"If-Match": read}); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("rename with the ETag of before the rename: %d", r.StatusCode)
	}

	// A team manager may rename; the audit log says who did what.
	if m, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "rename-manager@example.test", Role: conveyor.TeamRoleManager}); err != nil || m.JSON201 == nil {
		t.Fatalf("add manager: %v", err)
	}
	manager := rawClient{t: t, base: e.URL, token: e.Token(t, "rename-manager", false), c: e.Client(t)}
	if r, b := manager.send("PATCH", path, "application/json", []byte(`{"name":"By the manager"}`), map[string]string{"If-Match": "*"}); r.StatusCode != http.StatusOK {
		t.Fatalf("manager rename: %d %s", r.StatusCode, b)
	}
	audit, err := admin.ListAuditEventsWithResponse(ctx, team.Id, nil)
	if err != nil || audit.JSON200 == nil {
		t.Fatalf("audit: %v", err)
	}
	var renames []string
	for _, ev := range audit.JSON200.Items {
		if ev.Action == "team.renamed" {
			renames = append(renames, ev.Actor.Name+": "+ev.Details["previous_name"].(string)+" -> "+ev.Details["name"].(string))
		}
	}
	want := []string{"rename-manager@example.test: After -> By the manager", "rename-admin@example.test: Before -> After"}
	if jsonOf(renames) != jsonOf(want) {
		t.Fatalf("audited renames %v, want %v", renames, want)
	}
}

// TestUsers: platform admins list everyone who has called the API (not
// pending invitations) page by page in a stable order, and read one with
// their teams and roles and when they were last seen, which a burst of
// calls does not move again within the minute.
func TestUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "users-admin", true))
	team, err := admin.CreateTeam(ctx, "People")
	if err != nil {
		t.Fatal(err)
	}
	add := func(email string, role conveyor.TeamRole) uuid.UUID {
		m, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: openapi_types.Email(email), Role: role})
		if err != nil || m.JSON201 == nil {
			t.Fatalf("add %s: %v", email, err)
		}
		return m.JSON201.UserId
	}
	aliceID := add("users-alice@example.test", conveyor.TeamRoleViewer)
	pendingID := add("users-pending@example.test", conveyor.TeamRoleMember)
	// A third user besides the admin and alice, so the pages of two below
	// chain even when this test runs alone.
	if _, err := sdk(t, e, e.Token(t, "users-bob", false)).Me(ctx); err != nil {
		t.Fatal(err)
	}
	alice := sdk(t, e, e.Token(t, "users-alice", false))
	me, err := alice.Me(ctx)
	if err != nil || me.User.Id != aliceID {
		t.Fatalf("alice's first call: %+v %v", me, err)
	}
	var got *conveyor.UserAccount
	eventually(t, 10*time.Second, func() string {
		r, err := admin.GetUserWithResponse(ctx, aliceID, nil)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("get alice: %v %v", r, err)
		}
		if got = r.JSON200; got.LastSeenAt == nil {
			return "alice's last_seen_at is not recorded"
		}
		return ""
	})
	if got.Email != "users-alice@example.test" || got.Name != "users-alice" || len(got.Memberships) != 1 ||
		got.Memberships[0].TeamId != team.Id || got.Memberships[0].Role != conveyor.TeamRoleViewer ||
		time.Since(*got.LastSeenAt) > time.Minute || got.CreatedAt.IsZero() {
		t.Fatalf("alice as admins see her: %s", jsonOf(got))
	}
	seenAt := *got.LastSeenAt
	for range 20 {
		if _, err := alice.Me(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // any write would be done
	r, err := admin.GetUserWithResponse(ctx, aliceID, nil)
	if err != nil || r.JSON200 == nil || r.JSON200.LastSeenAt == nil || !r.JSON200.LastSeenAt.Equal(seenAt) {
		t.Fatalf("a burst of calls moved last_seen_at within the minute: %v -> %+v", seenAt, r.JSON200)
	}
	etag := r.HTTPResponse.Header.Get("ETag")
	if nm, err := admin.GetUserWithResponse(ctx, aliceID, &conveyor.GetUserParams{IfNoneMatch: &etag}); err != nil || nm.StatusCode() != http.StatusNotModified {
		t.Fatalf("If-None-Match: %v %v", nm.Status(), err)
	}
	for name, id := range map[string]uuid.UUID{"a pending invitation": pendingID, "no one": uuid.New()} {
		if r, err := admin.GetUserWithResponse(ctx, id, nil); err != nil || r.StatusCode() != http.StatusNotFound {
			t.Fatalf("get %s: %v %v", name, r.Status(), err)
		}
	}

	// Pages of two chain to the end in one stable, newest-first order.
	var ids []uuid.UUID
	limit := conveyor.Limit(2)
	params := &conveyor.ListUsersParams{Limit: &limit}
	for page := 0; page < 1000; page++ {
		l, err := admin.ListUsersWithResponse(ctx, params)
		if err != nil || l.JSON200 == nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, u := range l.JSON200.Items {
			ids = append(ids, u.Id)
		}
		if l.JSON200.NextCursor == nil {
			break
		}
		c := conveyor.Cursor(*l.JSON200.NextCursor)
		params.Cursor = &c
	}
	seen := map[uuid.UUID]bool{}
	for i, id := range ids {
		if seen[id] || (i > 0 && id.String() >= ids[i-1].String()) {
			t.Fatalf("users not in one newest-first order: %v", ids)
		}
		seen[id] = true
	}
	if !seen[aliceID] || seen[pendingID] || len(ids) < 3 {
		t.Fatalf("listed %d users: alice %v, the pending invitation %v", len(ids), seen[aliceID], seen[pendingID])
	}

	// A deleted team leaves her teams.
	if r, err := admin.DeleteTeamWithResponse(ctx, team.Id, nil); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete team: %v %v", r.Status(), err)
	}
	if r, err := admin.GetUserWithResponse(ctx, aliceID, nil); err != nil || r.JSON200 == nil || len(r.JSON200.Memberships) != 0 {
		t.Fatalf("alice after her team was deleted: %v %v", r.JSON200, err)
	}
}
