package app_test

import (
	"encoding/json"
	"testing"
)

// TestMeNotificationSettings: a person's job-failure emails are on until
// they turn them off with PATCH /me, which GET /me then shows; an API key
// has no settings (absent on /me, 403 on a change); an empty or unknown
// change is a 400.
func TestMeNotificationSettings(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "me-settings", "Me settings")
	person := rawClient{t: t, base: e.URL, token: e.Token(t, "me-settings-person", false), c: e.Client(t)}
	type me struct {
		AuthMethod    string `json:"auth_method"`
		Notifications *struct {
			JobFailedEmail bool `json:"job_failed_email"`
		}
	}
	read := func(b []byte) me {
		t.Helper()
		var m me
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return m
	}
	r, b := person.send("GET", "/me", "", nil, nil)
	if m := read(b); r.StatusCode != 200 || m.Notifications == nil || !m.Notifications.JobFailedEmail {
		t.Fatalf("GET /me: %d %s; want job_failed_email on by default", r.StatusCode, b)
	}
	r, b = person.send("PATCH", "/me", "application/json", []byte(`{"notifications":{"job_failed_email":false}}`), nil)
	if m := read(b); r.StatusCode != 200 || m.Notifications == nil || m.Notifications.JobFailedEmail {
		t.Fatalf("PATCH /me off: %d %s", r.StatusCode, b)
	}
	r, b = person.send("GET", "/me", "", nil, nil)
	if m := read(b); r.StatusCode != 200 || m.Notifications == nil || m.Notifications.JobFailedEmail {
		t.Fatalf("GET /me after turning off: %d %s", r.StatusCode, b)
	}
	// Another person's setting is their own.
	if r, b := jc.send("GET", "/me", "", nil, nil); r.StatusCode != 200 || !read(b).Notifications.JobFailedEmail {
		t.Fatalf("another person's /me: %d %s", r.StatusCode, b)
	}
	for _, body := range []string{`{}`, `{"notifications":{}}`, `{"notifications":{"job_failed_email":"no"}}`, `{"email":"x@example.test"}`} {
		if r, b := person.send("PATCH", "/me", "application/json", []byte(body), nil); r.StatusCode != 400 {
			t.Fatalf("PATCH /me %s: %d %s; want 400", body, r.StatusCode, b)
		}
	}
	r, b = person.send("PATCH", "/me", "application/json", []byte(`{"notifications":{"job_failed_email":true}}`), nil)
	if m := read(b); r.StatusCode != 200 || !m.Notifications.JobFailedEmail {
		t.Fatalf("PATCH /me on: %d %s", r.StatusCode, b)
	}

	r, b = jc.send("POST", "/teams/"+jc.team+"/api-keys", "application/json", []byte(`{"name":"me-key","role":"member"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("create key: %d %s", r.StatusCode, b)
	}
	var key struct{ Secret string }
	_ = json.Unmarshal(b, &key)
	keyed := rawClient{t: t, base: e.URL, token: key.Secret, c: e.Client(t)}
	r, b = keyed.send("GET", "/me", "", nil, nil)
	if m := read(b); r.StatusCode != 200 || m.AuthMethod != "api_key" || m.Notifications != nil {
		t.Fatalf("GET /me as a key: %d %s; want no notifications", r.StatusCode, b)
	}
	if r, b := keyed.send("PATCH", "/me", "application/json", []byte(`{"notifications":{"job_failed_email":false}}`), nil); r.StatusCode != 403 {
		t.Fatalf("PATCH /me as a key: %d %s; want 403", r.StatusCode, b)
	}
}
