package processors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	_ "image/gif"  // register decoders for DecodeConfig
	_ "image/jpeg" //
	_ "image/png"  //
	"io"
	"net/http"
	"time"
)

// Inspect reports a file's size, SHA-256, detected media type and, for
// images, their dimensions. It reads the object once, as a stream.
type Inspect struct{}

// InspectResult is Inspect's result.
type InspectResult struct {
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	MediaType string `json:"media_type"`
	Width     *int   `json:"width,omitempty"`
	Height    *int   `json:"height,omitempty"`
}

func (Inspect) Name() string { return "inspect" }

// Priority implements Processor: inspecting is quick and interactive.
func (Inspect) Priority() Priority { return PriorityHigh }

// Timeout implements Processor.
func (Inspect) Timeout() time.Duration { return 10 * time.Minute }
func (Inspect) Description() string {
	return "Size, SHA-256 and detected media type of a file; width and height for PNG, JPEG and GIF images."
}
func (Inspect) NeedsFile() bool { return true }
func (Inspect) ParamsSchema() string {
	return `{"type":"object","additionalProperties":false,"properties":{}}`
}

// sniffLen is how much of the head is kept for media type detection.
const sniffLen = 512

// Run implements Processor.
func (Inspect) Run(ctx context.Context, in Input) (Output, error) {
	if in.Open == nil {
		return Output{}, errors.New("inspect: no file")
	}
	rc, err := in.Open(ctx)
	if err != nil {
		return Output{}, err
	}
	defer rc.Close()

	h := sha256.New()
	head := &headBuffer{max: sniffLen}
	// Image dimensions are decoded from the stream as it passes, in a
	// goroutine that reads a pipe fed by the same copy.
	pr, pw := io.Pipe()
	type dims struct{ w, h int }
	dimsCh := make(chan *dims, 1)
	go func() {
		cfg, _, derr := image.DecodeConfig(pr)
		_, _ = io.Copy(io.Discard, pr) // drain so the writer never blocks
		if derr != nil {
			dimsCh <- nil
			return
		}
		dimsCh <- &dims{cfg.Width, cfg.Height}
	}()
	var size int64
	if in.File != nil {
		size = in.File.Size
	}
	n, err := io.Copy(io.MultiWriter(h, head, pw), newFileReader(ctx, rc, size, in.Progress, 0, 99))
	pw.CloseWithError(err)
	d := <-dimsCh
	if err != nil {
		return Output{}, err
	}
	res := InspectResult{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), MediaType: http.DetectContentType(head.Bytes())}
	if d != nil {
		res.Width, res.Height = &d.w, &d.h
	}
	if in.Progress != nil {
		in.Progress(100)
	}
	b, err := json.Marshal(res)
	return Output{Result: b}, err
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	bytes.Buffer
	max int
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		b.Buffer.Write(p[:room])
	}
	return len(p), nil
}
