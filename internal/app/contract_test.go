package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

type rawClient struct {
	t     *testing.T
	base  string
	token string
	c     *http.Client
}

func (rc rawClient) send(method, path, ctype string, body []byte, headers map[string]string) (*http.Response, []byte) {
	rc.t.Helper()
	req, err := http.NewRequest(method, rc.base+"/api/v1"+path, bytes.NewReader(body))
	if err != nil {
		rc.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+rc.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := rc.c.Do(req)
	if err != nil {
		rc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s", body)
	}
	return v.ID
}

// TestIdempotencyKeys: retries replay the first response; a different
// request under the same key is 422; concurrent duplicates create one
// resource; keys are per principal; an upload retried with another
// multipart boundary is the same request.
func TestIdempotencyKeys(t *testing.T) {
	e := setup(t)
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "idem-admin", true), c: e.Client(t)}
	countTeams := func(name string) int {
		resp, body := rc.send("GET", "/teams?limit=100", "", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("list teams: %d", resp.StatusCode)
		}
		return strings.Count(string(body), `"name":"`+name+`"`)
	}

	key := map[string]string{"Idempotency-Key": "create-idem-1"}
	r1, b1 := rc.send("POST", "/teams", "application/json", []byte(`{"name":"idem-once"}`), key)
	r2, b2 := rc.send("POST", "/teams", "application/json", []byte(`{"name":"idem-once"}`), key)
	if r1.StatusCode != 201 || r2.StatusCode != 201 || !bytes.Equal(b1, b2) {
		t.Fatalf("retry: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	if r1.Header.Get("Idempotent-Replayed") != "" || r2.Header.Get("Idempotent-Replayed") != "true" || r2.Header.Get("Location") != r1.Header.Get("Location") {
		t.Fatalf("replay headers: first %v, retry %v", r1.Header, r2.Header)
	}
	if n := countTeams("idem-once"); n != 1 {
		t.Fatalf("%d teams created by a retried request", n)
	}
	r3, b3 := rc.send("POST", "/teams", "application/json", []byte(`{"name":"idem-other"}`), key)
	if r3.StatusCode != 422 {
		t.Fatalf("same key, other body: %d %s", r3.StatusCode, b3)
	}
	other := rawClient{t: t, base: e.URL, token: e.Token(t, "idem-other-admin", true), c: e.Client(t)}
	if r, b := other.send("POST", "/teams", "application/json", []byte(`{"name":"idem-once"}`), key); r.StatusCode != 201 || idOf(t, b) == idOf(t, b1) {
		t.Fatalf("another principal's same key: %d %s", r.StatusCode, b)
	}

	// Concurrent duplicates: one team, every success the same one.
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, b := rc.send("POST", "/teams", "application/json", []byte(`{"name":"idem-race"}`), map[string]string{"Idempotency-Key": "race-1"})
			statuses[i] = r.StatusCode
			if r.StatusCode == 201 {
				ids[i] = idOf(t, b)
			}
		}()
	}
	wg.Wait()
	created := ""
	for i, st := range statuses {
		switch st {
		case 201:
			if created != "" && ids[i] != created {
				t.Fatalf("two teams from one key: %s and %s", created, ids[i])
			}
			created = ids[i]
		case 409:
		default:
			t.Fatalf("concurrent duplicate got %d", st)
		}
	}
	if created == "" || countTeams("idem-race") != 1 {
		t.Fatalf("statuses %v: want one team created", statuses)
	}
	t.Logf("concurrent duplicates: %v", statuses)

	// Uploads: the SDK's retry picks a new multipart boundary.
	team := idOf(t, b1)
	upload := func(boundary, content string) (*http.Response, []byte) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.SetBoundary(boundary)
		w, _ := mw.CreateFormFile("file", "retry.txt")
		_, _ = io.WriteString(w, content)
		_ = mw.Close()
		return rc.send("POST", "/teams/"+team+"/files", mw.FormDataContentType(), body.Bytes(), map[string]string{"Idempotency-Key": "upload-1"})
	}
	u1, ub1 := upload("boundary-one", "the same bytes")
	u2, ub2 := upload("boundary-two-differs", "the same bytes")
	if u1.StatusCode != 201 || u2.StatusCode != 201 || idOf(t, ub1) != idOf(t, ub2) || u2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("upload retry: %d %s / %d %s", u1.StatusCode, ub1, u2.StatusCode, ub2)
	}
	if u3, _ := upload("boundary-three", "other bytes"); u3.StatusCode != 422 {
		t.Fatalf("upload with other content under the same key: %d", u3.StatusCode)
	}
}

// TestConditionalRequests: ETags on single resources, 304 on
// If-None-Match, 412 on a stale If-Match.
func TestConditionalRequests(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "etag-admin", true))
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "etag-admin", true), c: e.Client(t)}
	team, err := admin.CreateTeam(ctx, "Versions")
	if err != nil {
		t.Fatal(err)
	}
	teamPath := "/teams/" + team.Id.String()
	r, _ := rc.send("GET", teamPath, "", nil, nil)
	etag := r.Header.Get("ETag")
	if r.StatusCode != 200 || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("team ETag %q", etag)
	}
	if r, b := rc.send("GET", teamPath, "", nil, map[string]string{"If-None-Match": etag}); r.StatusCode != 304 || len(b) != 0 || r.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match current: %d %q", r.StatusCode, b)
	}
	if r, _ := rc.send("GET", teamPath, "", nil, map[string]string{"If-None-Match": `"stale"`}); r.StatusCode != 200 {
		t.Fatalf("If-None-Match stale: %d", r.StatusCode)
	}

	m, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "etag-member@example.test", Role: conveyor.TeamRoleViewer})
	if err != nil || m.JSON201 == nil {
		t.Fatal(err)
	}
	memberPath := fmt.Sprintf("%s/members/%s", teamPath, m.JSON201.UserId)
	r, _ = rc.send("GET", memberPath, "", nil, nil)
	v1 := r.Header.Get("ETag")
	r, b := rc.send("PATCH", memberPath, "application/json", []byte(`{"role":"member"}`), map[string]string{"If-Match": v1})
	v2 := r.Header.Get("ETag")
	if r.StatusCode != 200 || v2 == "" || v2 == v1 {
		t.Fatalf("PATCH with the current ETag: %d %s (etag %q -> %q)", r.StatusCode, b, v1, v2)
	}
	if r, b := rc.send("PATCH", memberPath, "application/json", []byte(`{"role":"viewer"}`), map[string]string{"If-Match": v1}); r.StatusCode != 412 {
		t.Fatalf("PATCH with a stale ETag: %d %s", r.StatusCode, b)
	}
	if r, _ := rc.send("DELETE", memberPath, "", nil, map[string]string{"If-Match": v1}); r.StatusCode != 412 {
		t.Fatalf("DELETE with a stale ETag: %d", r.StatusCode)
	}
	if r, _ := rc.send("DELETE", memberPath, "", nil, map[string]string{"If-Match": v2}); r.StatusCode != 204 {
		t.Fatalf("DELETE with the current ETag: %d", r.StatusCode)
	}

	k, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "versioned", Role: conveyor.ApiKeyCreateRoleViewer})
	if err != nil || k.JSON201 == nil {
		t.Fatal(err)
	}
	keyPath := fmt.Sprintf("%s/api-keys/%s", teamPath, k.JSON201.Id)
	r, _ = rc.send("GET", keyPath, "", nil, nil)
	kv := r.Header.Get("ETag")
	if r, _ := rc.send("DELETE", keyPath, "", nil, map[string]string{"If-Match": `"not-it"`}); r.StatusCode != 412 {
		t.Fatalf("revoke with a stale ETag: %d", r.StatusCode)
	}
	if r, _ := rc.send("DELETE", keyPath, "", nil, map[string]string{"If-Match": kv}); r.StatusCode != 204 {
		t.Fatalf("revoke with the current ETag: %d", r.StatusCode)
	}
}

// TestCursors: pages chain through next_cursor in a stable order; an
// altered cursor, or one moved to another team's list or another kind of
// list, is a 400.
func TestCursors(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "cursor-admin", true))
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "cursor-admin", true), c: e.Client(t)}
	team, err := admin.CreateTeam(ctx, "Pages")
	if err != nil {
		t.Fatal(err)
	}
	other, err := admin.CreateTeam(ctx, "Other pages")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 5 {
		f, err := admin.UploadFile(ctx, team.Id, fmt.Sprintf("p%d.txt", i), strings.NewReader(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{f.Id.String()}, want...) // newest first
	}
	var got []string
	var cursors []string
	path := "/teams/" + team.Id.String() + "/files?limit=2"
	next := ""
	for page := 0; ; page++ {
		p := path
		if next != "" {
			p += "&cursor=" + next
		}
		r, b := rc.send("GET", p, "", nil, nil)
		if r.StatusCode != 200 {
			t.Fatalf("page %d: %d %s", page, r.StatusCode, b)
		}
		var l struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			Next *string `json:"next_cursor"`
		}
		_ = json.Unmarshal(b, &l)
		for _, it := range l.Items {
			got = append(got, it.ID)
		}
		if l.Next == nil {
			break
		}
		next = *l.Next
		cursors = append(cursors, next)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || len(cursors) != 2 {
		t.Fatalf("pages gave %v (%d cursors), want %v", got, len(cursors), want)
	}
	// The Go SDK's iterator walks the same list across pages.
	var walked []string
	limit := conveyor.Limit(2)
	for f, err := range admin.Files(ctx, team.Id, &conveyor.ListFilesParams{Limit: &limit}) {
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, f.Id.String())
	}
	if strings.Join(walked, ",") != strings.Join(want, ",") {
		t.Fatalf("SDK iterator walked %v, want %v", walked, want)
	}
	c := cursors[0]
	flipped := []byte(c)
	flipped[5] ^= 1
	if flipped[5] == '-' || flipped[5] == '_' {
		flipped[5] = 'A'
	}
	for name, p := range map[string]string{
		"altered":            path + "&cursor=" + string(flipped),
		"truncated":          path + "&cursor=" + c[:len(c)-2],
		"other team's list":  "/teams/" + other.Id.String() + "/files?cursor=" + c,
		"other kind of list": "/teams/" + team.Id.String() + "/jobs?cursor=" + c,
	} {
		if r, b := rc.send("GET", p, "", nil, nil); r.StatusCode != 400 || !strings.Contains(string(b), `"pointer":"cursor"`) {
			t.Errorf("%s cursor: %d %s", name, r.StatusCode, b)
		}
	}
}
