package app_test

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStreamedDownloadsArePresentedLikePresignedOnes: with delivery=stream
// the API itself sends a file's content or a job's output, on its own
// origin, presented exactly as the presigned download is: an uploaded HTML
// page is an attachment of type application/octet-stream under its name
// (whole or a range), plain text and PNG are inline with their type, and a
// thumbnail output is inline image/png with the very bytes storage serves
// at the presigned URL. A viewer of the team may stream; a user outside it
// gets 404 for both. Every answer is checked against the spec.
func TestStreamedDownloadsArePresentedLikePresignedOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real stack")
	}
	e := setup(t)
	jc := newJobsClient(t, e, "stream-admin", "Streamed downloads")
	files := "/teams/" + jc.team + "/files/"

	page := []byte("<!DOCTYPE html><html><body><script>alert(document.domain)</script></body></html>")
	for _, tc := range []struct {
		name, encoded string
	}{
		{"invoice.html", "invoice.html"},
		{"résumé ✓.html", "r%C3%A9sum%C3%A9%20%E2%9C%93.html"},
	} {
		id := jc.upload(tc.name, page)
		r, b := jc.send("GET", files+id+"/content?delivery=stream", "", nil, nil)
		if r.StatusCode != 200 || !bytes.Equal(b, page) {
			t.Fatalf("%s streamed: %d, %d bytes", tc.name, r.StatusCode, len(b))
		}
		wantAttachment(t, tc.name, r, tc.encoded)
		r, b = jc.send("GET", files+id+"/content?delivery=stream", "", nil, map[string]string{"Range": "bytes=0-14"})
		if r.StatusCode != 206 || !bytes.Equal(b, page[:15]) {
			t.Fatalf("%s range: %d %q", tc.name, r.StatusCode, b)
		}
		wantAttachment(t, tc.name+" (a range)", r, tc.encoded)
	}

	text := []byte("plain notes, naïve café\n")
	id := jc.upload("notes.txt", text)
	r, b := jc.send("GET", files+id+"/content?delivery=stream", "", nil, nil)
	if r.StatusCode != 200 || !bytes.Equal(b, text) {
		t.Fatalf("text streamed: %d %q", r.StatusCode, b)
	}
	wantInline(t, "notes.txt", r, "text/plain; charset=utf-8")

	png := tinyPNG(t, 300, 150)
	pngID := jc.upload("wide.png", png)
	r, b = jc.send("GET", files+pngID+"/content?delivery=stream", "", nil, nil)
	if r.StatusCode != 200 || !bytes.Equal(b, png) {
		t.Fatalf("PNG streamed: %d, %d bytes", r.StatusCode, len(b))
	}
	wantInline(t, "wide.png", r, "image/png")

	j := jc.createJob(pngID, "thumbnail", `{"max_width":100,"max_height":100,"format":"png"}`)
	if j = jc.wait(j.ID, time.Minute, final); j.Status != "succeeded" {
		t.Fatalf("thumbnail job = %+v", j)
	}
	output := "/teams/" + jc.team + "/jobs/" + j.ID + "/outputs/thumbnail.png"
	presignedResp, presignedBody := presigned(t, jc.rawClient, output)
	r, b = jc.send("GET", output+"?delivery=stream", "", nil, nil)
	if r.StatusCode != 200 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("thumbnail streamed: %d, %d bytes", r.StatusCode, len(b))
	}
	if sha256.Sum256(b) != sha256.Sum256(presignedBody) {
		t.Errorf("streamed thumbnail (%d bytes) differs from the presigned download (%d bytes)", len(b), len(presignedBody))
	}
	wantInline(t, "thumbnail.png", r, "image/png")
	for _, h := range []string{"Content-Type", "Content-Disposition"} {
		if r.Header.Get(h) != presignedResp.Header.Get(h) {
			t.Errorf("thumbnail %s: streamed %q, presigned %q", h, r.Header.Get(h), presignedResp.Header.Get(h))
		}
	}
	if _, b := presigned(t, jc.rawClient, output+"?delivery=redirect"); !bytes.Equal(b, presignedBody) {
		t.Errorf("delivery=redirect: %d bytes, the default redirect %d", len(b), len(presignedBody))
	}
	missing := "/teams/" + jc.team + "/jobs/" + j.ID + "/outputs/nothing.png?delivery=stream"
	if r, b := jc.send("GET", missing, "", nil, nil); r.StatusCode != 404 {
		t.Errorf("an output the job did not produce: %d %s", r.StatusCode, b)
	}
	if r, b := jc.send("GET", output+"?delivery=carrier-pigeon", "", nil, nil); r.StatusCode != 400 {
		t.Errorf("an unknown delivery: %d %s", r.StatusCode, b)
	}

	// A viewer streams both; a user outside the team sees neither.
	r, b = jc.send("POST", "/teams/"+jc.team+"/members", "application/json",
		[]byte(`{"email":"stream-viewer@example.test","role":"viewer"}`), nil)
	if r.StatusCode != 201 {
		t.Fatalf("add a viewer: %d %s", r.StatusCode, b)
	}
	viewer := rawClient{t: t, base: e.URL, token: e.Token(t, "stream-viewer", false), c: e.Client(t)}
	if r, b := viewer.send("GET", output+"?delivery=stream", "", nil, nil); r.StatusCode != 200 || sha256.Sum256(b) != sha256.Sum256(presignedBody) {
		t.Errorf("a viewer streams the output: %d, %d bytes", r.StatusCode, len(b))
	}
	if r, b := viewer.send("GET", files+pngID+"/content?delivery=stream", "", nil, nil); r.StatusCode != 200 || !bytes.Equal(b, png) {
		t.Errorf("a viewer streams the file: %d, %d bytes", r.StatusCode, len(b))
	}
	stranger := rawClient{t: t, base: e.URL, token: e.Token(t, "stream-stranger", false), c: e.Client(t)}
	for _, path := range []string{output + "?delivery=stream", files + pngID + "/content?delivery=stream"} {
		if r, b := stranger.send("GET", path, "", nil, nil); r.StatusCode != 404 || bytes.Contains(b, []byte("\x89PNG")) {
			t.Errorf("a non-member streams %s: %d, %d bytes", path, r.StatusCode, len(b))
		}
	}
}

// wantAttachment checks that r presents a download named encoded
// (percent-encoded UTF-8) as an attachment of no particular type.
func wantAttachment(t *testing.T, what string, r *http.Response, encoded string) {
	t.Helper()
	cd, ct := r.Header.Get("Content-Disposition"), r.Header.Get("Content-Type")
	if !strings.HasPrefix(cd, "attachment;") || !strings.HasSuffix(cd, "filename*=UTF-8''"+encoded) {
		t.Errorf("%s: Content-Disposition %q, want an attachment named %s", what, cd, encoded)
	}
	if ct != "application/octet-stream" {
		t.Errorf("%s: Content-Type %q, want application/octet-stream", what, ct)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, r.Header.Get("X-Content-Type-Options"))
	}
}

// wantInline checks that r presents name inline as contentType.
func wantInline(t *testing.T, name string, r *http.Response, contentType string) {
	t.Helper()
	cd, ct := r.Header.Get("Content-Disposition"), r.Header.Get("Content-Type")
	if want := `inline; filename="` + name + `"; filename*=UTF-8''` + name; cd != want {
		t.Errorf("%s: Content-Disposition %q, want %q", name, cd, want)
	}
	if ct != contentType {
		t.Errorf("%s: Content-Type %q, want %q", name, ct, contentType)
	}
}
