package processors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// ErrOutputTooLarge is in the chain of the error a job's run returns when
// its outputs would pass the job's output budget (Input.MaxOutputBytes). The
// job fails with it, without a retry: the same input makes the same outputs.
var ErrOutputTooLarge = errors.New("processors: the job's outputs would pass its output budget")

// Output budget defaults. Every shipped processor stays far within them on
// any input: csv_profile writes at most six bytes of rows.jsonl per byte of
// CSV (an empty field becomes "null,", a control character "\u0001") plus
// one line naming at most 1,000 columns; thumbnail writes at most one
// 4096×4096 image (64 MiB as an uncompressed PNG); export's outputs grow
// with the team, about 1 KiB per file and job, so 1 GiB holds about a
// million of them. The budget is there for what a processor was not meant
// to do: a bug, or an input that makes it write without end.
const (
	// DefaultOutputBaseBytes is what any job may write, input or not.
	DefaultOutputBaseBytes = 1 << 30
	// DefaultOutputBytesPerInputByte is what a job may write on top, per
	// byte of its file.
	DefaultOutputBytesPerInputByte = 8
)

// DefaultMaxOutputBytes is the output budget of a job on f (nil for a job
// without a file): DefaultOutputBaseBytes plus DefaultOutputBytesPerInputByte
// per byte of f.
func DefaultMaxOutputBytes(f *domain.File) int64 {
	var size int64
	if f != nil && f.Size > 0 {
		size = f.Size
	}
	const maxSize = (1<<62 - DefaultOutputBaseBytes) / DefaultOutputBytesPerInputByte
	return DefaultOutputBaseBytes + DefaultOutputBytesPerInputByte*min(size, maxSize)
}

// budgeted is a processor whose outputs, together, are held to the job's
// output budget. The registry hands out processors wrapped in it, so the
// budget holds however a processor writes its outputs.
type budgeted struct{ Processor }

// Run implements Processor: it runs the processor with every output's body
// counted against the budget. Once the outputs pass it, their bodies stop
// reading (no Put receives a byte past the budget) and Run returns an error
// carrying ErrOutputTooLarge, whatever the processor made of the failure.
func (b budgeted) Run(ctx context.Context, in Input) (Output, error) {
	if in.Put == nil {
		return b.Processor.Run(ctx, in)
	}
	limit := in.MaxOutputBytes
	if limit <= 0 {
		limit = DefaultMaxOutputBytes(in.File)
	}
	bud := &outputBudget{limit: limit}
	bud.left.Store(limit)
	put := in.Put
	in.Put = func(ctx context.Context, name, contentType string, body io.Reader) (int64, error) {
		return put(ctx, name, contentType, &budgetReader{r: body, b: bud})
	}
	out, err := b.Processor.Run(ctx, in)
	if bud.over.Load() {
		return Output{}, &domain.Error{Code: domain.CodeTooLarge, Err: ErrOutputTooLarge,
			Message: fmt.Sprintf("The job's outputs would be larger than %s, the most this job may write.", byteSize(limit))}
	}
	return out, err
}

// outputBudget is what a job's outputs may still take.
type outputBudget struct {
	limit int64
	left  atomic.Int64
	over  atomic.Bool
}

// budgetReader reads an output's body, charging what it passes on to the
// budget; the outputs of a job may be read concurrently.
type budgetReader struct {
	r io.Reader
	b *outputBudget
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if r.b.over.Load() {
		return 0, ErrOutputTooLarge
	}
	n, err := r.r.Read(p)
	if left := r.b.left.Add(-int64(n)); left < 0 {
		r.b.over.Store(true)
		return n - int(min(int64(n), -left)), ErrOutputTooLarge
	}
	return n, err
}

// byteSize writes n bytes for people: 512 bytes, 64.0 KiB, 1.5 GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n == 1 {
		return "1 byte"
	}
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB", "PiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
