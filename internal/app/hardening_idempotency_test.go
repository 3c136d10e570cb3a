package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// streamedUpload starts POST /teams/{team}/files with key and a body fed
// from the returned pipe (announced as size bytes, or chunked when size
// is 0), and returns the pipe and where the answer arrives.
func streamedUpload(t *testing.T, client *http.Client, base, team, tok, key string, size int64) (*io.PipeWriter, <-chan *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", base+"/api/v1/teams/"+team+"/files", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b0undary")
	req.ContentLength = size
	if size == 0 {
		req.ContentLength = -1
	}
	answers := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Transport.RoundTrip(req)
		if err != nil {
			close(answers) // await reports it
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		answers <- resp
	}()
	t.Cleanup(func() { _ = pw.CloseWithError(io.ErrClosedPipe) })
	return pw, answers
}

const partHead = "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n" +
	"Content-Type: application/octet-stream\r\n\r\n"

// send writes n zero bytes to w in a goroutine (a write blocks until the
// server reads, and is abandoned when it never does).
func send(w io.Writer, head string, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		if _, err := io.WriteString(w, head); err != nil {
			done <- err
			return
		}
		_, err := w.Write(make([]byte, n))
		done <- err
	}()
	return done
}

func await(t *testing.T, answers <-chan *http.Response, within time.Duration, what string) *http.Response {
	t.Helper()
	select {
	case resp, ok := <-answers:
		if !ok {
			t.Fatalf("%s: no answer", what)
		}
		return resp
	case <-time.After(within):
		t.Fatalf("%s: no answer within %v while its body was still being sent", what, within)
	}
	return nil
}

// TestIdempotentDuplicateUploadAnsweredAtOnce: a retry of an upload that
// is still streaming in gets 409 at once, with its own (slowly streamed)
// body unread, and its connection closed; the first upload goes on.
func TestIdempotentDuplicateUploadAnsweredAtOnce(t *testing.T) {
	e := setup(t)
	tok := e.Token(t, "idem-dup", true)
	team, err := sdk(t, e, tok).CreateTeam(context.Background(), "Duplicates")
	if err != nil {
		t.Fatal(err)
	}
	tid := team.Id.String()
	key := "dup-" + uuid.NewString()
	const firstSize = 24 << 20
	tail := "\r\n--b0undary--\r\n"
	first, firstAnswer := streamedUpload(t, e.Client(t), e.URL, tid, tok, key, int64(len(partHead)+firstSize+len(tail)))
	// 16 MiB are more than loopback's socket buffers hold: once written,
	// the first upload's handler is reading, so it holds the key.
	if err := <-send(first, partHead, 16<<20); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		size int64
	}{{"content-length", 5 << 30}, {"chunked", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			dup, dupAnswer := streamedUpload(t, e.Client(t), e.URL, tid, tok, key, tc.size)
			sent := send(dup, partHead, 64<<10) // a slowly streamed body: a little, then nothing
			resp := await(t, dupAnswer, 5*time.Second, "the duplicate")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusConflict || resp.Header.Get("Content-Type") != "application/problem+json" ||
				resp.Header.Get("Retry-After") == "" {
				t.Fatalf("duplicate in flight: %d %v %s", resp.StatusCode, resp.Header, body)
			}
			if !resp.Close {
				t.Errorf("the duplicate's connection stays open with its body unread: %v", resp.Header)
			}
			_ = dup.CloseWithError(io.ErrClosedPipe)
			<-sent
		})
	}
	if err := <-send(first, "", firstSize-16<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(first, tail); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	resp := await(t, firstAnswer, 30*time.Second, "the first upload")
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("the first upload: %d %s", resp.StatusCode, b)
	}
}

// TestIdempotentEarlyRefusalReadsNoFurther: an upload refused before its
// body was read (over the size limit) is answered without reading the
// rest of the body, and its key is released (a retry runs again).
func TestIdempotentEarlyRefusalReadsNoFurther(t *testing.T) {
	e := setup(t)
	api := e.StartAPI(t, map[string]string{"CONVEYOR_MAX_UPLOAD_BYTES": fmt.Sprint(1 << 20)})
	tok := e.Token(t, "idem-refused", true)
	team, err := sdk(t, e, tok).CreateTeam(context.Background(), "Refusals")
	if err != nil {
		t.Fatal(err)
	}
	key := "big-" + uuid.NewString()
	for i := range 2 {
		w, answers := streamedUpload(t, e.Client(t), api, team.Id.String(), tok, key, 5<<30)
		sent := send(w, partHead, 3<<20) // past the limit, then the client waits for an answer
		resp := await(t, answers, 5*time.Second, "the upload over the limit")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("attempt %d: %d replayed=%q %s", i+1, resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), body)
		}
		_ = w.CloseWithError(io.ErrClosedPipe)
		<-sent
	}
}
