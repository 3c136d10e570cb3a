package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/apptest"
)

// problemType is the type of a problem document.
func problemType(t *testing.T, body []byte) string {
	t.Helper()
	var p struct{ Type string }
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem document: %s", body)
	}
	return p.Type
}

const userDisabledType = "https://conveyor.dev/problems/user-disabled"

type userView struct {
	ID         string
	Email      string
	Disabled   bool
	DisabledAt *time.Time `json:"disabled_at"`
	DisabledBy *string    `json:"disabled_by"`
}

// TestDisableUserOnEveryProcess: a platform admin disables a user through
// one API process; the user's very next request, through another process,
// is refused with 401 user-disabled though their token is still valid,
// and so is a request through the first; their open event stream on the
// other process ends and a reconnect is refused; the API key they created
// keeps working, as the spec says. Enabling them (through the other
// process) lets their very next request in on the first. Both changes are
// audited as platform events; an admin cannot disable themself, and
// If-Match is required.
func TestDisableUserOnEveryProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	p1, p2 := e.URL, e.StartAPI(t, nil)
	adminTok, annTok := e.Token(t, "disable-admin", true), e.Token(t, "disable-ann", false)
	admin1 := rawClient{t: t, base: p1, token: adminTok, c: e.Client(t)}
	admin2 := rawClient{t: t, base: p2, token: adminTok, c: e.Client(t)}
	ann1 := rawClient{t: t, base: p1, token: annTok, c: e.Client(t)}
	ann2 := rawClient{t: t, base: p2, token: annTok, c: e.Client(t)}
	js := "application/json"

	r, b := admin1.send("POST", "/teams", js, []byte(`{"name":"Disable"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("create team: %d %s", r.StatusCode, b)
	}
	team := idOf(t, b)
	if r, b := admin1.send("POST", "/teams/"+team+"/members", js, []byte(`{"email":"disable-ann@example.test","role":"manager"}`), nil); r.StatusCode != 201 {
		t.Fatalf("add ann: %d %s", r.StatusCode, b)
	}
	r, b = ann2.send("GET", "/me", "", nil, nil)
	if r.StatusCode != 200 {
		t.Fatalf("ann's /me: %d %s", r.StatusCode, b)
	}
	var me struct {
		User struct{ ID string }
	}
	if err := json.Unmarshal(b, &me); err != nil || me.User.ID == "" {
		t.Fatalf("/me: %s", b)
	}
	ann := me.User.ID
	r, b = ann2.send("POST", "/teams/"+team+"/api-keys", js, []byte(`{"name":"ann's robot","role":"member"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("ann creates a key: %d %s", r.StatusCode, b)
	}
	var key struct{ Secret string }
	_ = json.Unmarshal(b, &key)
	stream := e.OpenStream(t, p2+"/api/v1/teams/"+team+"/events", http.Header{"Authorization": {"Bearer " + annTok}})
	if stream.Resp.StatusCode != 200 {
		t.Fatalf("ann's stream: %d", stream.Resp.StatusCode)
	}

	// Ann's user row was written by her own first request; the admin's
	// read-your-writes mark does not cover it, so a replica may not have it yet.
	eventually(t, 10*time.Second, func() string {
		r, b = admin1.send("GET", "/users/"+ann, "", nil, nil)
		if r.StatusCode != 200 {
			return fmt.Sprintf("get ann: %d %s", r.StatusCode, b)
		}
		return ""
	})
	var before userView
	_ = json.Unmarshal(b, &before)
	if before.Disabled || before.DisabledAt != nil {
		t.Fatalf("ann before: %s", b)
	}
	etag := r.Header.Get("ETag")
	if r, b := admin1.send("PATCH", "/users/"+ann, js, []byte(`{"disabled":true}`), nil); r.StatusCode != 428 {
		t.Fatalf("without If-Match: %d %s", r.StatusCode, b)
	}
	_, b = admin1.send("GET", "/me", "", nil, nil)
	adminID := idOfUser(t, b)
	rs, bs := admin1.send("GET", "/users/"+adminID, "", nil, nil)
	if r, b := admin1.send("PATCH", "/users/"+adminID, js, []byte(`{"disabled":true}`), map[string]string{"If-Match": rs.Header.Get("ETag")}); r.StatusCode != 422 {
		t.Fatalf("an admin disabling themself: %d %s (%s)", r.StatusCode, b, bs)
	}

	r, b = admin1.send("PATCH", "/users/"+ann, js, []byte(`{"disabled":true}`), map[string]string{"If-Match": etag})
	if r.StatusCode != 200 {
		t.Fatalf("disable ann: %d %s", r.StatusCode, b)
	}
	var after userView
	_ = json.Unmarshal(b, &after)
	if !after.Disabled || after.DisabledAt == nil || after.DisabledBy == nil || *after.DisabledBy != adminID {
		t.Fatalf("ann after: %s", b)
	}
	// The very next request, on the other process, then on this one.
	for _, c := range []rawClient{ann2, ann1} {
		r, b := c.send("GET", "/me", "", nil, nil)
		if r.StatusCode != 401 || problemType(t, b) != userDisabledType {
			t.Fatalf("a disabled user's request on %s: %d %s", c.base, r.StatusCode, b)
		}
	}
	if !stream.Ended(5 * time.Second) {
		t.Fatal("the disabled user's event stream on the other process is still open")
	}
	again := e.OpenStream(t, p2+"/api/v1/teams/"+team+"/events", http.Header{"Authorization": {"Bearer " + annTok}})
	if again.Resp.StatusCode != 401 {
		t.Fatalf("the disabled user reconnects: %d", again.Resp.StatusCode)
	}
	robot := rawClient{t: t, base: p2, c: e.Client(t)}
	if r, b := robot.sendKey(key.Secret, "GET", "/teams/"+team+"/files"); r.StatusCode != 200 {
		t.Fatalf("the API key a disabled user created: %d %s", r.StatusCode, b)
	}
	// Reads show it, on either process.
	r, b = admin2.send("GET", "/users?limit=100", "", nil, nil)
	if r.StatusCode != 200 || !strings.Contains(string(b), `"disabled":true`) {
		t.Fatalf("list: %d %s", r.StatusCode, b)
	}

	r, _ = admin2.send("GET", "/users/"+ann, "", nil, nil)
	etag = r.Header.Get("ETag")
	r, b = admin2.send("PATCH", "/users/"+ann, js, []byte(`{"disabled":false}`), map[string]string{"If-Match": etag})
	if r.StatusCode != 200 || strings.Contains(string(b), `"disabled":true`) {
		t.Fatalf("enable ann: %d %s", r.StatusCode, b)
	}
	if r, b := ann1.send("GET", "/me", "", nil, nil); r.StatusCode != 200 {
		t.Fatalf("an enabled user's next request on the other process: %d %s", r.StatusCode, b)
	}
	if s := e.OpenStream(t, p2+"/api/v1/teams/"+team+"/events", http.Header{"Authorization": {"Bearer " + annTok}}); s.Resp.StatusCode != 200 {
		t.Fatalf("an enabled user's stream: %d", s.Resp.StatusCode)
	}

	for _, action := range []string{"user.disabled", "user.enabled"} {
		r, b := admin1.send("GET", "/audit-events?action="+action, "", nil, nil)
		var page struct {
			Items []struct {
				TeamID   string `json:"team_id"`
				TargetID string `json:"target_id"`
				Actor    struct{ ID string }
			}
		}
		if r.StatusCode != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("audit %s: %d %s", action, r.StatusCode, b)
		}
		found := false
		for _, it := range page.Items {
			found = found || (it.TargetID == ann && it.TeamID == uuid.Nil.String() && it.Actor.ID == adminID)
		}
		if !found {
			t.Fatalf("no %s event for ann by the admin: %s", action, b)
		}
	}
}

func idOfUser(t *testing.T, meBody []byte) string {
	t.Helper()
	var me struct {
		User struct{ ID string }
	}
	if err := json.Unmarshal(meBody, &me); err != nil || me.User.ID == "" {
		t.Fatalf("/me: %s", meBody)
	}
	return me.User.ID
}

// sendKey sends a request authenticated by an API key.
func (rc rawClient) sendKey(secret, method, path string) (*http.Response, []byte) {
	rc.t.Helper()
	req, err := http.NewRequest(method, rc.base+"/api/v1"+path, nil)
	if err != nil {
		rc.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", secret)
	resp, err := rc.c.Do(req)
	if err != nil {
		rc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestDeleteTeamEndsStreams: when a team is deleted through one API
// process, its open event streams end on every process (a member's on
// this one, an admin's and an API key's on another), and a reconnect
// gets 404; another team's stream stays open.
func TestDeleteTeamEndsStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	p1, p2 := e.URL, e.StartAPI(t, nil)
	adminTok, bobTok := e.Token(t, "streams-admin", true), e.Token(t, "streams-bob", false)
	admin := rawClient{t: t, base: p1, token: adminTok, c: e.Client(t)}
	js := "application/json"
	mk := func(name string) string {
		r, b := admin.send("POST", "/teams", js, []byte(`{"name":"`+name+`"}`), nil)
		if r.StatusCode != 201 {
			t.Fatalf("create team: %d %s", r.StatusCode, b)
		}
		return idOf(t, b)
	}
	team, other := mk("Streams doomed"), mk("Streams kept")
	if r, b := admin.send("POST", "/teams/"+team+"/members", js, []byte(`{"email":"streams-bob@example.test","role":"viewer"}`), nil); r.StatusCode != 201 {
		t.Fatalf("add bob: %d %s", r.StatusCode, b)
	}
	r, b := admin.send("POST", "/teams/"+team+"/api-keys", js, []byte(`{"name":"viewer","role":"viewer"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("key: %d %s", r.StatusCode, b)
	}
	var key struct{ Secret string }
	_ = json.Unmarshal(b, &key)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	url := func(base, team string) string { return base + "/api/v1/teams/" + team + "/events" }
	streams := map[string]*apptest.Stream{
		"member on process 1":  e.OpenStream(t, url(p1, team), bearer(bobTok)),
		"admin on process 2":   e.OpenStream(t, url(p2, team), bearer(adminTok)),
		"API key on process 2": e.OpenStream(t, url(p2, team), http.Header{"X-API-Key": {key.Secret}}),
	}
	kept := e.OpenStream(t, url(p2, other), bearer(adminTok))
	for name, s := range streams {
		if s.Resp.StatusCode != 200 {
			t.Fatalf("%s: %d", name, s.Resp.StatusCode)
		}
	}
	if r, b := admin.send("DELETE", "/teams/"+team, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete: %d %s", r.StatusCode, b)
	}
	for name, s := range streams {
		if !s.Ended(5 * time.Second) {
			t.Errorf("the deleted team's stream (%s) is still open", name)
		}
	}
	for _, base := range []string{p1, p2} {
		if s := e.OpenStream(t, url(base, team), bearer(adminTok)); s.Resp.StatusCode != 404 {
			t.Errorf("reconnect on %s: %d, want 404", base, s.Resp.StatusCode)
		}
	}
	if kept.Ended(200 * time.Millisecond) {
		t.Error("another team's stream ended too")
	}
}
