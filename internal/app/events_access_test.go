package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/events"
)

// TestEventStreamMembersAndAPIKeys: membership and API key changes reach
// the team's stream, in order, with the member or key as it now is (as it
// was, when removed); an API key event never carries the key's secret.
func TestEventStreamMembersAndAPIKeys(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "events-access-admin", "Events access")
	s := e.OpenStream(t, e.URL+"/api/v1/teams/"+jc.team+"/events", http.Header{"Authorization": {"Bearer " + jc.token}})
	if s.Resp.StatusCode != 200 {
		t.Fatalf("stream: %d", s.Resp.StatusCode)
	}

	const email = "events-access-invitee@example.test"
	r, b := jc.send("POST", "/teams/"+jc.team+"/members", "application/json", []byte(`{"email":"`+email+`","role":"viewer"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("add member: %d %s", r.StatusCode, b)
	}
	var m struct {
		UserID string `json:"user_id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.UserID == "" {
		t.Fatalf("member: %s", b)
	}
	memberPath := "/teams/" + jc.team + "/members/" + m.UserID
	if r, b := jc.send("PATCH", memberPath, "application/json", []byte(`{"role":"member"}`), nil); r.StatusCode != 200 {
		t.Fatalf("change role: %d %s", r.StatusCode, b)
	}
	if r, b := jc.send("DELETE", memberPath, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("remove member: %d %s", r.StatusCode, b)
	}
	r, b = jc.send("POST", "/teams/"+jc.team+"/api-keys", "application/json", []byte(`{"name":"events-key","role":"member"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("create key: %d %s", r.StatusCode, b)
	}
	var key struct{ ID, Secret, Prefix string }
	if err := json.Unmarshal(b, &key); err != nil || !strings.HasPrefix(key.Secret, "cvk_") {
		t.Fatalf("key: %s", b)
	}
	if r, b := jc.send("DELETE", "/teams/"+jc.team+"/api-keys/"+key.ID, "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("revoke key: %d %s", r.StatusCode, b)
	}

	got := nextEvents(t, s, events.ID{}, 5, 30*time.Second)
	type data struct {
		Type   string
		Member *struct {
			UserID string `json:"user_id"`
			Email  string
			Role   string
			Status string
		}
		APIKey map[string]any `json:"api_key"`
	}
	want := []struct{ typ, role, status string }{
		{"member.added", "viewer", "invited"},
		{"member.role_changed", "member", "invited"},
		{"member.removed", "member", "invited"},
		{"api_key.created", "member", ""},
		{"api_key.revoked", "member", ""},
	}
	for i, w := range want {
		f := got[i]
		var d data
		if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, f.Data)
		}
		if f.Event != w.typ || d.Type != w.typ {
			t.Fatalf("event %d is %s (%s), want %s", i, f.Event, f.Data, w.typ)
		}
		if strings.HasPrefix(w.typ, "member.") {
			if d.Member == nil || d.Member.UserID != m.UserID || d.Member.Email != email || d.Member.Role != w.role || d.Member.Status != w.status {
				t.Fatalf("%s: member %s", w.typ, f.Data)
			}
			continue
		}
		if d.APIKey == nil || d.APIKey["id"] != key.ID || d.APIKey["prefix"] != key.Prefix || d.APIKey["role"] != w.role {
			t.Fatalf("%s: api_key %s", w.typ, f.Data)
		}
		if _, ok := d.APIKey["secret"]; ok || strings.Contains(f.Data, key.Secret) || strings.Contains(f.Data, key.Secret[len(key.Prefix):]) {
			t.Fatalf("%s carries the key's secret: %s", w.typ, f.Data)
		}
		if revoked := d.APIKey["revoked_at"]; (w.typ == "api_key.revoked") != (revoked != nil) {
			t.Fatalf("%s: revoked_at %v", w.typ, revoked)
		}
	}
}
