package conveyor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"time"

	"github.com/google/uuid"
)

// DirectThreshold is the size from which UploadFile (given WithSize) sends
// the bytes straight to storage in parts rather than through the API.
const DirectThreshold = 64 << 20

// UploadOption tunes UploadFile.
type UploadOption func(*uploadOptions)

type uploadOptions struct {
	size     int64
	direct   bool
	progress func(sent int64)
}

// WithSize declares the content's exact size: from DirectThreshold on, the
// upload goes straight to storage in parts (the server checks the size).
func WithSize(n int64) UploadOption { return func(o *uploadOptions) { o.size = n } }

// WithDirect sends the content straight to storage (presigned, in parts
// when large) whatever its size; it needs WithSize, and without it the
// content streams through the API as usual.
func WithDirect() UploadOption { return func(o *uploadOptions) { o.direct = true } }

// WithProgress calls fn with the total bytes read from the content so far.
func WithProgress(fn func(sent int64)) UploadOption {
	return func(o *uploadOptions) { o.progress = fn }
}

// source is an upload's content: counted for WithProgress, and rewound
// for a retry when it is an io.Seeker.
type source struct {
	r        io.Reader
	seeker   io.Seeker // nil: cannot be sent again
	start    int64
	sent     int64
	progress func(int64)
}

func newSource(r io.Reader, progress func(int64)) *source {
	s := &source{r: r, progress: progress}
	if sk, ok := r.(io.Seeker); ok {
		if off, err := sk.Seek(0, io.SeekCurrent); err == nil {
			s.seeker, s.start = sk, off
		}
	}
	return s
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 && s.progress != nil {
		s.sent += int64(n)
		s.progress(s.sent)
	}
	return n, err
}

// errNotRewindable ends a retry of content that cannot be read again.
var errNotRewindable = errors.New("conveyor: the content cannot be sent again (not an io.Seeker)")

// rewind goes back to where the content was when the upload began.
func (s *source) rewind() error {
	if s.seeker == nil {
		return errNotRewindable
	}
	s.sent = 0
	_, err := s.seeker.Seek(s.start, io.SeekStart)
	return err
}

// multipartStream writes the upload's form as it is read, one attempt at
// a time: reopen stops the previous attempt's writer before it rewinds.
type multipartStream struct {
	src            *source
	name, boundary string
	pr             *io.PipeReader
	done           chan struct{}
}

func (m *multipartStream) open() io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	mw := multipart.NewWriter(pw)
	_ = mw.SetBoundary(m.boundary)
	go func() {
		defer close(done)
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, m.name))
		h.Set("Content-Type", "application/octet-stream")
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, m.src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	m.pr, m.done = pr, done
	return pr
}

// reopen is the request's GetBody: the form again from the start.
func (m *multipartStream) reopen() (io.ReadCloser, error) {
	m.stop()
	if err := m.src.rewind(); err != nil {
		return nil, err
	}
	return m.open(), nil
}

func (m *multipartStream) stop() {
	if m.pr != nil {
		m.pr.CloseWithError(io.ErrClosedPipe)
		<-m.done
		m.pr = nil
	}
}

// completedPart is an element of the generated UploadComplete.Parts.
type completedPart = struct {
	Etag       string `json:"etag"`
	PartNumber int32  `json:"part_number"`
}

func (c *Client) uploadDirect(ctx context.Context, teamID uuid.UUID, name string, content *source, size int64) (*File, error) {
	cr, err := c.CreateUploadWithResponse(ctx, teamID, &CreateUploadParams{IdempotencyKey: newIdempotencyKey()},
		CreateUploadJSONRequestBody{Name: name, Size: size})
	if err != nil {
		return nil, err
	}
	up, err := result(cr.HTTPResponse, cr.Body, cr.JSON201, nil)
	if err != nil {
		return nil, err
	}
	var body CompleteUploadJSONRequestBody
	if up.Method == UploadMethodSingle {
		sent := false
		body := func() (io.Reader, error) {
			if sent {
				if err := content.rewind(); err != nil {
					return nil, err
				}
			}
			sent = true
			return io.LimitReader(content, size), nil
		}
		if _, err := c.put(ctx, up.Parts[0].Url, body, size); err != nil {
			return nil, err
		}
	} else {
		partSize := *up.PartSize
		buf := make([]byte, partSize)
		parts := make([]completedPart, 0, len(up.Parts))
		for i, p := range up.Parts {
			n := min(partSize, size-int64(i)*partSize)
			if _, err := io.ReadFull(content, buf[:n]); err != nil {
				return nil, fmt.Errorf("conveyor: read part %d: %w", p.PartNumber, err)
			}
			part := buf[:n]
			etag, err := c.put(ctx, p.Url, func() (io.Reader, error) { return bytes.NewReader(part), nil }, n)
			if err != nil {
				return nil, err
			}
			parts = append(parts, struct {
				Etag       string `json:"etag"`
				PartNumber int32  `json:"part_number"`
			}{Etag: etag, PartNumber: p.PartNumber})
		}
		body.Parts = &parts
	}
	done, err := c.CompleteUploadWithResponse(ctx, teamID, up.Id, &CompleteUploadParams{IdempotencyKey: newIdempotencyKey()}, body)
	if err != nil {
		return nil, err
	}
	return result(done.HTTPResponse, done.Body, done.JSON201, nil)
}

// put sends n bytes to a presigned URL and returns the ETag storage
// answered. A network error or a 5xx is retried as the client's policy
// says, with the body opened again.
func (c *Client) put(ctx context.Context, url string, body func() (io.Reader, error), n int64) (string, error) {
	resp, err := c.toStorage(ctx, http.MethodPut, url, body, n)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	return resp.Header.Get("ETag"), nil
}

// toStorage sends a request to a presigned URL (no credentials of ours)
// and returns its 200 answer; network errors and 5xx or 429 answers are
// retried per the client's policy while body (nil: none) opens again.
func (c *Client) toStorage(ctx context.Context, method, url string, body func() (io.Reader, error), n int64) (*http.Response, error) {
	p := c.retry
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			var err error
			if rd, err = body(); err != nil {
				return nil, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.ContentLength = n
		}
		resp, err := c.storage.Do(req)
		last := p.MaxRetries < 0 || attempt >= p.MaxRetries || ctx.Err() != nil
		var wait time.Duration
		switch {
		case err != nil:
			if last {
				return nil, fmt.Errorf("conveyor: storage: %w", err)
			}
			wait = backoff(attempt, p)
		case resp.StatusCode == http.StatusOK:
			return resp, nil
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if last {
				return nil, fmt.Errorf("conveyor: storage answered %d: %s", resp.StatusCode, msg)
			}
			wait = retryAfter(resp, attempt, p)
		default:
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			return nil, fmt.Errorf("conveyor: storage answered %d: %s", resp.StatusCode, msg)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
