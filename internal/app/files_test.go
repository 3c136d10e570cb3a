package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// objectExists asks S3 directly.
func objectExists(t *testing.T, key string) bool {
	t.Helper()
	env := setup(t)
	_, err := env.Stack.S3Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(env.Stack.S3Bucket), Key: aws.String(key)})
	return err == nil
}

func fileKey(team, file string) string { return "teams/" + team + "/files/" + file }

// TestDownload: a presigned redirect by default; streamed with Range on
// request; 416 for a range outside the file.
func TestDownload(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "dl-admin", true))
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "dl-admin", true), c: e.Client(t)}
	team, _ := admin.CreateTeam(ctx, "Downloads")
	content := randomBytes(t, 300_000)
	f, err := admin.UploadFile(ctx, team.Id, "blob.bin", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/teams/%s/files/%s/content", team.Id, f.Id)

	noFollow := &http.Client{Transport: rc.c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, _ := rawClient{t: t, base: e.URL, token: rc.token, c: noFollow}.send("GET", path, "", nil, nil)
	loc := r.Header.Get("Location")
	if r.StatusCode != 302 || !strings.HasPrefix(loc, e.Stack.S3Endpoint) || !strings.Contains(loc, "X-Amz-Signature") {
		t.Fatalf("redirect: %d %q", r.StatusCode, loc)
	}
	got, err := http.Get(loc) // the presigned URL works without our credentials
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != 200 || !bytes.Equal(b, content) {
		t.Fatalf("presigned download: %d, %d bytes", got.StatusCode, len(b))
	}

	r, b = rc.send("GET", path+"?delivery=stream", "", nil, nil)
	if r.StatusCode != 200 || !bytes.Equal(b, content) || r.Header.Get("Accept-Ranges") != "bytes" || r.Header.Get("ETag") == "" {
		t.Fatalf("stream: %d, %d bytes, %v", r.StatusCode, len(b), r.Header)
	}
	for rng, want := range map[string][]byte{"bytes=10-19": content[10:20], "bytes=-5": content[len(content)-5:], "bytes=299990-": content[299990:]} {
		r, b = rc.send("GET", path+"?delivery=stream", "", nil, map[string]string{"Range": rng})
		if r.StatusCode != 206 || !bytes.Equal(b, want) || !strings.HasPrefix(r.Header.Get("Content-Range"), "bytes ") {
			t.Fatalf("%s: %d %q, %d bytes", rng, r.StatusCode, r.Header.Get("Content-Range"), len(b))
		}
	}
	if r, _ = rc.send("GET", path+"?delivery=stream", "", nil, map[string]string{"Range": "bytes=999999-"}); r.StatusCode != 416 {
		t.Fatalf("range outside the file: %d", r.StatusCode)
	}
	if r, b = rc.send("GET", path+"?delivery=stream", "", nil, map[string]string{"Range": "bytes=0-1,5-9"}); r.StatusCode != 200 || len(b) != len(content) {
		t.Fatalf("several ranges are ignored (whole file): %d %d", r.StatusCode, len(b))
	}
}

// TestFileFiltersAndDelete: filters narrow the list; a deleted file is 404
// everywhere at once and the worker removes its object.
func TestFileFiltersAndDelete(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "filter-admin", true))
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "filter-admin", true), c: e.Client(t)}
	team, _ := admin.CreateTeam(ctx, "Filters")
	png, err := admin.UploadFile(ctx, team.Id, "report-chart.png", bytes.NewReader(tinyPNG(t, 2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	txt, err := admin.UploadFile(ctx, team.Id, "notes.txt", strings.NewReader("hello notes"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(query string) string {
		r, b := rc.send("GET", "/teams/"+team.Id.String()+"/files"+query, "", nil, nil)
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", query, r.StatusCode, b)
		}
		var l struct{ Items []struct{ Name string } }
		_ = json.Unmarshal(b, &l)
		var out []string
		for _, it := range l.Items {
			out = append(out, it.Name)
		}
		return strings.Join(out, ",")
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for q, want := range map[string]string{
		"":                          "notes.txt,report-chart.png",
		"?content_type=image/png":   "report-chart.png",
		"?content_type=image/*":     "report-chart.png",
		"?content_type=text/*":      "notes.txt",
		"?name_prefix=report":       "report-chart.png",
		"?created_after=" + future:  "",
		"?created_before=" + future: "notes.txt,report-chart.png",
		"?name_prefix=notes&content_type=image/png": "",
	} {
		if got := names(q); got != want {
			t.Errorf("filter %q = %q, want %q", q, got, want)
		}
	}
	if r, _ := rc.send("GET", "/teams/"+team.Id.String()+"/files?created_after="+future+"&created_before="+future, "", nil, nil); r.StatusCode != 400 {
		t.Errorf("an empty created range: %d", r.StatusCode)
	}

	if r, b := rc.send("DELETE", "/teams/"+team.Id.String()+"/files/"+txt.Id.String(), "", nil, nil); r.StatusCode != 204 {
		t.Fatalf("delete: %d %s", r.StatusCode, b)
	}
	_, err = admin.File(ctx, team.Id, txt.Id)
	wantProblem(t, err, http.StatusNotFound)
	if got := names(""); got != "report-chart.png" {
		t.Fatalf("list after delete: %s", got)
	}
	if r, _ := rc.send("GET", "/teams/"+team.Id.String()+"/files/"+txt.Id.String()+"/content", "", nil, nil); r.StatusCode != 404 {
		t.Fatalf("download after delete: %d", r.StatusCode)
	}
	_, err = admin.CreateJob(ctx, team.Id, conveyor.JobCreate{FileId: &txt.Id, Processor: "inspect"})
	wantProblem(t, err, http.StatusUnprocessableEntity)
	if r, _ := rc.send("DELETE", "/teams/"+team.Id.String()+"/files/"+txt.Id.String(), "", nil, nil); r.StatusCode != 404 {
		t.Fatalf("deleting twice: %d", r.StatusCode)
	}
	key := fileKey(team.Id.String(), txt.Id.String())
	deadline := time.Now().Add(10 * time.Second)
	for objectExists(t, key) {
		if time.Now().After(deadline) {
			t.Fatal("the deleted file's object was not removed by the worker")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !objectExists(t, fileKey(team.Id.String(), png.Id.String())) {
		t.Fatal("the janitor removed a live file's object")
	}
}

func putTo(t *testing.T, url string, body []byte) string {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT to storage: %d %s", resp.StatusCode, b)
	}
	return resp.Header.Get("ETag")
}

// TestDirectUploads: single-PUT and multipart uploads straight to S3,
// completed with checks of parts, size and SHA-256.
func TestDirectUploads(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "direct-admin", true))
	rc := rawClient{t: t, base: e.URL, token: e.Token(t, "direct-admin", true), c: e.Client(t)}
	team, _ := admin.CreateTeam(ctx, "Direct")
	base := "/teams/" + team.Id.String() + "/uploads"
	create := func(body string) (int, map[string]any) {
		r, b := rc.send("POST", base, "application/json", []byte(body), nil)
		var u map[string]any
		_ = json.Unmarshal(b, &u)
		return r.StatusCode, u
	}
	complete := func(id string, body string) (int, map[string]any) {
		r, b := rc.send("POST", base+"/"+id+"/complete", "application/json", []byte(body), nil)
		var f map[string]any
		_ = json.Unmarshal(b, &f)
		return r.StatusCode, f
	}
	partsOf := func(u map[string]any) []map[string]any {
		var out []map[string]any
		for _, p := range u["parts"].([]any) {
			out = append(out, p.(map[string]any))
		}
		return out
	}

	// Single PUT, with a declared SHA-256.
	small := append([]byte("%PDF-1.4\n"), randomBytes(t, 4000)...)
	code, u := create(fmt.Sprintf(`{"name":"doc.pdf","size":%d,"sha256":%q}`, len(small), hexSHA(small)))
	if code != 201 || u["method"] != "single" || len(partsOf(u)) != 1 {
		t.Fatalf("create single: %d %v", code, u)
	}
	id := u["id"].(string)
	if code, _ := complete(id, `{}`); code != 422 {
		t.Fatalf("complete before the bytes arrived: %d", code)
	}
	putTo(t, partsOf(u)[0]["url"].(string), small)
	code, f := complete(id, `{}`)
	if code != 201 || f["sha256"] != hexSHA(small) || f["size"] != float64(len(small)) || f["content_type"] != "application/pdf" {
		t.Fatalf("complete single: %d %v", code, f)
	}
	if code, again := complete(id, `{}`); code != 201 || again["id"] != f["id"] {
		t.Fatalf("completing twice: %d %v", code, again)
	}

	// A declared hash the bytes do not have; a size they do not have.
	code, u = create(fmt.Sprintf(`{"name":"x.bin","size":%d,"sha256":%q}`, len(small), strings.Repeat("0", 64)))
	if code != 201 {
		t.Fatalf("create with a wrong hash: %d %v", code, u)
	}
	putTo(t, partsOf(u)[0]["url"].(string), small)
	if code, _ := complete(u["id"].(string), `{}`); code != 422 {
		t.Fatalf("wrong SHA-256: %d", code)
	}
	code, u = create(`{"name":"y.bin","size":10}`)
	if code != 201 {
		t.Fatalf("create y.bin: %d %v", code, u)
	}
	req, _ := http.NewRequest("PUT", partsOf(u)[0]["url"].(string), bytes.NewReader(make([]byte, 11)))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			if code, _ := complete(u["id"].(string), `{}`); code != 422 {
				t.Fatalf("wrong size: %d", code)
			}
		}
	}

	// Multipart: 70 MiB in 8 MiB parts.
	big := randomBytes(t, 70<<20)
	code, u = create(fmt.Sprintf(`{"name":"big.bin","size":%d}`, len(big)))
	parts := partsOf(u)
	if code != 201 || u["method"] != "multipart" || len(parts) != 9 || u["part_size"] != float64(8<<20) {
		t.Fatalf("create multipart: %d method %v parts %d size %v", code, u["method"], len(parts), u["part_size"])
	}
	var done []string
	for i, p := range parts {
		end := min((i+1)*(8<<20), len(big))
		etag := putTo(t, p["url"].(string), big[i*(8<<20):end])
		done = append(done, fmt.Sprintf(`{"part_number":%d,"etag":%q}`, i+1, etag))
	}
	if code, _ := complete(u["id"].(string), `{"parts":[`+strings.Join(done[:8], ",")+`]}`); code != 422 {
		t.Fatalf("a part missing: %d", code)
	}
	code, f = complete(u["id"].(string), `{"parts":[`+strings.Join(done, ",")+`]}`)
	if code != 201 || f["sha256"] != hexSHA(big) || f["size"] != float64(len(big)) {
		t.Fatalf("complete multipart: %d %v", code, f)
	}
}

// TestExpiredUploadsAreAborted: an upload never completed is aborted and
// its bytes removed once it expires.
func TestExpiredUploadsAreAborted(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "expire-admin", true))
	team, _ := admin.CreateTeam(ctx, "Expiring")
	short := e.StartAPI(t, map[string]string{"CONVEYOR_UPLOAD_TTL": "1s"})
	rc := rawClient{t: t, base: short, token: e.Token(t, "expire-admin", true), c: e.Client(t)}
	r, b := rc.send("POST", "/teams/"+team.Id.String()+"/uploads", "application/json", []byte(`{"name":"late.bin","size":5}`), nil)
	var u struct {
		ID    string
		Parts []struct{ URL string }
	}
	_ = json.Unmarshal(b, &u)
	if r.StatusCode != 201 {
		t.Fatalf("create: %d %s", r.StatusCode, b)
	}
	putTo(t, u.Parts[0].URL, []byte("12345"))
	key := fileKey(team.Id.String(), u.ID)
	deadline := time.Now().Add(15 * time.Second)
	for objectExists(t, key) {
		if time.Now().After(deadline) {
			t.Fatal("the expired upload's bytes were not removed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r, _ := rc.send("POST", "/teams/"+team.Id.String()+"/uploads/"+u.ID+"/complete", "application/json", []byte(`{}`), nil); r.StatusCode != 409 {
		t.Fatalf("completing an expired upload: %d", r.StatusCode)
	}
}

// TestUploadOverTheLimit: a file over CONVEYOR_MAX_UPLOAD_BYTES is refused
// with 413 while it streams, and nothing of it is stored: no row, no
// object.
func TestUploadOverTheLimit(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	limited := e.StartAPI(t, map[string]string{"CONVEYOR_MAX_UPLOAD_BYTES": "1000000"})
	admin := sdk(t, e, e.Token(t, "limit-admin", true))
	team, err := admin.CreateTeam(ctx, "Limits")
	if err != nil {
		t.Fatal(err)
	}
	c, err := conveyor.New(limited, conveyor.WithToken(e.Token(t, "limit-admin", true)), conveyor.WithDoer(e.Client(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadFile(ctx, team.Id, "fits.bin", bytes.NewReader(make([]byte, 1000000))); err != nil {
		t.Fatalf("a file of exactly the limit: %v", err)
	}
	_, err = c.UploadFile(ctx, team.Id, "too-big.bin", &patterned{n: 20 << 20})
	wantProblem(t, err, http.StatusRequestEntityTooLarge)
	list, err := admin.ListFilesWithResponse(ctx, team.Id, nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].Name != "fits.bin" {
		t.Fatalf("files after the refused upload: %+v %v", list, err)
	}
	out, err := e.Stack.S3Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.Stack.S3Bucket),
		Prefix: aws.String("teams/" + team.Id.String() + "/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 {
		t.Fatalf("%d objects stored for the team; want only the file that fits", len(out.Contents))
	}
}

// TestSDKUploadChoosesDirectBySize: the Go SDK sends a large file of known
// size straight to storage in parts (through createUpload/completeUpload)
// and reports progress; the stored bytes hash as sent.
func TestSDKUploadChoosesDirectBySize(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "sdk-direct", true))
	team, err := admin.CreateTeam(ctx, "SDK direct")
	if err != nil {
		t.Fatal(err)
	}
	directCalls := func() string {
		resp, err := http.Get(e.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, `conveyor_http_requests_total{method="POST",route="/api/v1/teams/{team_id}/uploads/{upload_id}/complete",status="201"}`) {
				return line
			}
		}
		return ""
	}
	before := directCalls()
	const size = 70 << 20
	data := randomBytes(t, size)
	var last int64
	f, err := admin.UploadFile(ctx, team.Id, "big-direct.bin", bytes.NewReader(data),
		conveyor.WithSize(size), conveyor.WithProgress(func(n int64) { last = n }))
	if err != nil {
		t.Fatal(err)
	}
	if f.Size != size || f.Sha256 != hexSHA(data) || last != size {
		t.Fatalf("file %+v, progress %d", f, last)
	}
	if after := directCalls(); after == before || after == "" {
		t.Fatalf("the upload did not go through complete (metric %q -> %q)", before, after)
	}
	small, err := admin.UploadFile(ctx, team.Id, "small.bin", strings.NewReader("small"), conveyor.WithSize(5))
	if err != nil || small.Size != 5 {
		t.Fatalf("small upload: %+v %v", small, err)
	}
}
