package worktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// api talks to the in-process API.
type api struct {
	t     testing.TB
	url   string
	token string
	c     *http.Client
}

func newAPI(t testing.TB, subject string) api {
	env := shared.Env(t)
	return api{t: t, url: env.URL, token: env.Token(t, subject, true), c: &http.Client{Timeout: time.Minute}}
}

func (a api) do(method, path, ctype string, body []byte) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+"/api/v1"+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (a api) id(status, want int, body []byte) string {
	a.t.Helper()
	if status != want {
		a.t.Fatalf("status %d, want %d: %s", status, want, body)
	}
	var v struct{ ID string }
	_ = json.Unmarshal(body, &v)
	return v.ID
}

func (a api) team(name string) string {
	a.t.Helper()
	s, b := a.do("POST", "/teams", "application/json", []byte(`{"name":"`+name+`"}`))
	return a.id(s, 201, b)
}

func (a api) upload(team, name string, content []byte) string {
	a.t.Helper()
	var body bytes.Buffer
	boundary := "worktest-boundary"
	fmt.Fprintf(&body, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\n\r\n", boundary, name)
	body.Write(content)
	fmt.Fprintf(&body, "\r\n--%s--\r\n", boundary)
	s, b := a.do("POST", "/teams/"+team+"/files", "multipart/form-data; boundary="+boundary, body.Bytes())
	return a.id(s, 201, b)
}

func (a api) job(team, file, processor string) string {
	a.t.Helper()
	s, b := a.do("POST", "/teams/"+team+"/jobs", "application/json",
		[]byte(`{"processor":"`+processor+`","file_id":"`+file+`"}`))
	return a.id(s, 202, b)
}

// createJobs creates n jobs from 16 goroutines and returns their ids.
func (a api) createJobs(team, file, processor string, n int) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ids[i] = a.job(team, file, processor)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids
}

func pngBytes(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{G: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// db opens a direct connection to the primary, to check what the API
// cannot show (every job's outputs, every attempt count) in one query.
func db(t testing.TB) *pgx.Conn {
	t.Helper()
	env := shared.Env(t)
	c, err := pgx.Connect(context.Background(), env.Stack.DirectPrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func statusCounts(t *testing.T, c *pgx.Conn, team string) map[string]int {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT status, count(*) FROM jobs WHERE team_id = $1 GROUP BY status`, team)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// waitCounts polls until cond holds for the team's job counts.
func waitCounts(t *testing.T, c *pgx.Conn, team string, limit time.Duration, cond func(map[string]int) bool) map[string]int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m := statusCounts(t, c, team)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("job states after %s: %v", limit, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// listObjects returns the keys under prefix.
func listObjects(t *testing.T, prefix string) []string {
	t.Helper()
	env := shared.Env(t)
	var keys []string
	p := s3.NewListObjectsV2Paginator(env.Stack.S3Client(), &s3.ListObjectsV2Input{Bucket: aws.String(env.Stack.S3Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	return keys
}

// TestWorkerKilledMidThousandJobs: SIGKILL the worker while it runs a
// thousand thumbnail jobs, start another, and every job ends succeeded
// with exactly one result and one set of outputs — in the database and,
