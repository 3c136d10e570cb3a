package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/conveyorhq/conveyor/internal/bench/baseline"
)

// uploadRows measures row 3: one streamed upload of o.UploadBytes through
// the API (multipart/form-data, as the API takes it, written as it is
// sent) against one streaming PutObject of the same bytes to the same S3
// server, and how far the API process's resident memory rose above where
// it stood before the upload (/proc/PID/status of the serve child: VmHWM
// reset through clear_refs, and VmRSS sampled).
func (r *runner) uploadRows(ctx context.Context) ([]Row, error) {
	p := r.p
	team, err := p.createTeam(ctx, "bench-upload")
	if err != nil {
		return nil, err
	}
	size := r.o.UploadBytes
	watch, err := watchPeak(p.api.pid())
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	err = r.streamUpload(ctx, team, size)
	convSecs := time.Since(t0).Seconds()
	grew, how := watch.growth()
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	s := p.stack
	err = baseline.Put(ctx, baseline.S3Options{Endpoint: s.S3Endpoint, Region: s.S3Region, Bucket: s.S3Bucket,
		AccessKey: s.S3AccessKey, SecretKey: s.S3SecretKey}, "bench/direct-put", readerOnly{newPattern(size)}, size)
	if err != nil {
		return nil, fmt.Errorf("direct PutObject: %w", err)
	}
	baseSecs := time.Since(t0).Seconds()
	mib := float64(size) / (1 << 20)
	const limit = 64
	return []Row{
		minRatioRow(fmt.Sprintf("3. streamed upload of %s through the API", sizeName(size)), "MiB/s", mib/convSecs, mib/baseSecs, 0.9,
			"baseline one streaming PutObject of the same bytes to the same S3 server"),
		{Measure: "3. API RSS growth during the upload", Unit: "MiB", Conveyor: float64(grew) / (1 << 20), Baseline: -1, ZeroOK: true,
			Goal: fmt.Sprintf("≤ %d MiB", limit), Pass: verdict(grew <= limit<<20), Note: "serve child's /proc/PID/status: " + how},
	}, nil
}

// streamUpload POSTs a file of size bytes as multipart/form-data, writing
// the body as the request sends it.
func (r *runner) streamUpload(ctx context.Context, team string, size int64) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "big.bin")
		if err == nil {
			_, err = io.Copy(fw, newPattern(size))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	c := &http.Client{Timeout: 30 * time.Minute}
	err := r.p.do(ctx, c, "POST", "/teams/"+team+"/files", mw.FormDataContentType(), pr, http.StatusCreated, nil)
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}

// pattern is size bytes of a 1 MiB random block repeated: cheap to
// produce, not compressible, never held whole.
type pattern struct {
	block []byte
	left  int64
	off   int
}

func newPattern(size int64) *pattern {
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b)
	return &pattern{block: b, left: size}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := copy(b, p.block[p.off:])
	n = int(min(int64(n), p.left))
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}

// readerOnly hides every method but Read (so the SDK sees a stream, as it
// does an HTTP request's body, not a seekable file).
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(b []byte) (int, error) { return r.r.Read(b) }

func sizeName(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
