package conveyor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

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

type countingReader struct {
	r        io.Reader
	sent     int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.sent += int64(n)
		c.progress(c.sent)
	}
	return n, err
}

// completedPart is an element of the generated UploadComplete.Parts.
type completedPart = struct {
	Etag       string `json:"etag"`
	PartNumber int32  `json:"part_number"`
}

func (c *Client) uploadDirect(ctx context.Context, teamID uuid.UUID, name string, content io.Reader, size int64) (*File, error) {
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
		if _, err := c.put(ctx, up.Parts[0].Url, io.LimitReader(content, size), size); err != nil {
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
			etag, err := c.put(ctx, p.Url, bytes.NewReader(buf[:n]), n)
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

// put sends n bytes to a presigned URL and returns the ETag storage answered.
func (c *Client) put(ctx context.Context, url string, body io.Reader, n int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = n
	resp, err := c.storage.Do(req)
	if err != nil {
		return "", fmt.Errorf("conveyor: send to storage: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return "", fmt.Errorf("conveyor: storage answered %d: %s", resp.StatusCode, msg)
	}
	return resp.Header.Get("ETag"), nil
}
