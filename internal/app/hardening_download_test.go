package app_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// presigned asks the API for path (a file's content or a job's output),
// expects a presigned redirect, follows it without credentials as a
// browser would, and returns storage's answer and body.
func presigned(t *testing.T, rc rawClient, path string) (*http.Response, []byte) {
	t.Helper()
	noRedirect := *rc.c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc.c = &noRedirect
	r, b := rc.send("GET", path, "", nil, nil)
	if r.StatusCode != http.StatusFound {
		t.Fatalf("%s: %d %s", path, r.StatusCode, b)
	}
	resp, err := http.Get(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("presigned %s: %d %s", path, resp.StatusCode, body)
	}
	return resp, body
}

// TestDownloadsNeverRenderAsPages: through its presigned URL, an uploaded
// HTML page (or SVG) downloads from storage as an attachment of no
// particular type, under its own name, instead of rendering on storage's
// origin; a PNG (a file, or a thumbnail job's output) is still shown
// inline as image/png, as the console's previews need.
func TestDownloadsNeverRenderAsPages(t *testing.T) {
	e := setup(t)
	jc := newJobsClient(t, e, "dl-safety", "Download safety")
	page := []byte("<!DOCTYPE html><html><body><script>alert(document.domain)</script></body></html>")
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`)
	for _, tc := range []struct {
		name    string
		content []byte
		encoded string
	}{
		{"invoice.html", page, "invoice.html"},
		{"résumé ✓.html", page, "r%C3%A9sum%C3%A9%20%E2%9C%93.html"},
		{"logo.svg", svg, "logo.svg"},
	} {
		id := jc.upload(tc.name, tc.content)
		resp, body := presigned(t, jc.rawClient, "/teams/"+jc.team+"/files/"+id+"/content")
		cd, ct := resp.Header.Get("Content-Disposition"), resp.Header.Get("Content-Type")
		if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename*=UTF-8''"+tc.encoded) {
			t.Errorf("%s: Content-Disposition %q, want an attachment named %s", tc.name, cd, tc.encoded)
		}
		if ct != "application/octet-stream" {
			t.Errorf("%s: Content-Type %q, want application/octet-stream", tc.name, ct)
		}
		if !bytes.Equal(body, tc.content) {
			t.Errorf("%s: downloaded %d bytes, uploaded %d", tc.name, len(body), len(tc.content))
		}
	}

	png := tinyPNG(t, 300, 150)
	id := jc.upload("wide.png", png)
	resp, body := presigned(t, jc.rawClient, "/teams/"+jc.team+"/files/"+id+"/content")
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline;") || !strings.Contains(cd, "filename*=UTF-8''wide.png") ||
		resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, png) {
		t.Errorf("PNG file: %q %q, %d bytes", cd, resp.Header.Get("Content-Type"), len(body))
	}

	j := jc.createJob(id, "thumbnail", `{"max_width":100,"max_height":100,"format":"png"}`)
	if j = jc.wait(j.ID, time.Minute, final); j.Status != "succeeded" {
		t.Fatalf("thumbnail job = %+v", j)
	}
	resp, body = presigned(t, jc.rawClient, "/teams/"+jc.team+"/jobs/"+j.ID+"/outputs/thumbnail.png")
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline;") || !strings.Contains(cd, "filename*=UTF-8''thumbnail.png") ||
		resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("PNG output: %q %q, %d bytes", cd, resp.Header.Get("Content-Type"), len(body))
	}
}
