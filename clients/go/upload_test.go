package conveyor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

const fileJSON = `{"id":"01a23f5f-0000-7000-8000-000000000001","team_id":"01a23f5f-0000-7000-8000-000000000002","name":"f","size":5,"content_type":"text/plain","sha256":"x","created_at":"2026-01-01T00:00:00Z"}`

// uploadServer answers the first n upload attempts with 503 (after
// reading part of the body, as a dying server would) and then 201; it
// keeps each attempt's file content.
func uploadServer(t *testing.T, fail int) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(got)
		got = append(got, "")
		mu.Unlock()
		if n < fail {
			_, _ = io.CopyN(io.Discard, r.Body, 3)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil {
			t.Errorf("attempt %d: %v", n+1, err)
			w.WriteHeader(400)
			return
		}
		b, _ := io.ReadAll(f)
		mu.Lock()
		got[n] = string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write([]byte(fileJSON))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

// TestStreamedUploadRetriesSeekableContent: an upload that streams
// through the API is retried, from where the content was, when the
// content can be read again (an io.Seeker); a plain reader is not.
func TestStreamedUploadRetriesSeekableContent(t *testing.T) {
	ctx := context.Background()
	t.Run("seeker", func(t *testing.T) {
		srv, got := uploadServer(t, 2)
		c, err := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
		if err != nil {
			t.Fatal(err)
		}
		content := strings.NewReader("skip:hello")
		_, _ = content.Seek(5, io.SeekStart)
		if _, err := c.UploadFile(ctx, uuid.New(), "f", content); err != nil {
			t.Fatal(err)
		}
		if g := got(); len(g) != 3 || g[2] != "hello" {
			t.Fatalf("attempts %q; want two refused, then %q", g, "hello")
		}
	})
	t.Run("plain reader", func(t *testing.T) {
		srv, got := uploadServer(t, 1)
		c, err := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.UploadFile(ctx, uuid.New(), "f", io.MultiReader(strings.NewReader("hello")))
		var p *conveyor.Problem
		if !errors.As(err, &p) || p.Status != 503 || len(got()) != 1 {
			t.Fatalf("err %v after %d attempts; want the 503, once", err, len(got()))
		}
	})
}

// TestDirectUploadRetriesStorage: a presigned PUT that storage refuses
// (5xx) or drops is sent again, and the upload completes.
func TestDirectUploadRetriesStorage(t *testing.T) {
	var mu sync.Mutex
	puts, completes := 0, 0
	var stored []byte
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/uploads"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"id":"` + uuid.NewString() + `","team_id":"` + uuid.NewString() + `","name":"f","size":5,"method":"single","parts":[{"part_number":1,"url":"` + srv.URL + `/storage/object"}],"expires_at":"2030-01-01T00:00:00Z"}`))
		case r.Method == "PUT" && r.URL.Path == "/storage/object":
			puts++
			if r.Header.Get("Authorization") != "" {
				t.Error("credentials sent to storage")
			}
			switch puts {
			case 1:
				w.WriteHeader(500)
			case 2:
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				conn.Close()
			default:
				stored, _ = io.ReadAll(r.Body)
				w.Header().Set("ETag", `"e"`)
			}
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/complete"):
			completes++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			_, _ = w.Write([]byte(fileJSON))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	c, err := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadFile(context.Background(), uuid.New(), "f", bytes.NewReader([]byte("hello")), conveyor.WithSize(5), conveyor.WithDirect())
	if err != nil || puts != 3 || string(stored) != "hello" || completes != 1 {
		t.Fatalf("err %v, %d PUTs, stored %q, %d completions; want the third PUT to store hello", err, puts, stored, completes)
	}
}

// TestRetriesAKeyStillInProgress: 409 with Retry-After (the same
// Idempotency-Key still held by an attempt the server lost) is retried.
func TestRetriesAKeyStillInProgress(t *testing.T) {
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		if len(keys) == 1 {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"type":"x","title":"Conflict","status":409}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write([]byte(`{"id":"` + uuid.NewString() + `","name":"t","created_at":"2026-01-01T00:00:00Z"}`))
	}))
	defer srv.Close()
	c, err := conveyor.New(srv.URL, conveyor.WithToken("t"), fastRetry())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTeam(context.Background(), "t"); err != nil || len(keys) != 2 || keys[0] != keys[1] {
		t.Fatalf("err %v, keys %q; want a retry with the same key", err, keys)
	}
}
