package processors

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// twoOutputs writes n bytes to each of two outputs at once, as export does.
type twoOutputs struct {
	testProcessor
	n int
}

func (p twoOutputs) Run(ctx context.Context, in Input) (Output, error) {
	err := putStreams(ctx, in.Put, []output{{"a.txt", "text/plain"}, {"b.txt", "text/plain"}}, func(ws []io.Writer) error {
		for range p.n / 1000 {
			for _, w := range ws {
				if _, err := io.WriteString(w, strings.Repeat("x", 1000)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return Output{Result: []byte(`{}`)}, err
}

// testProcessor fills in the Processor methods a test does not care about.
type testProcessor struct{}

func (testProcessor) Name() string           { return "test" }
func (testProcessor) Description() string    { return "test" }
func (testProcessor) NeedsFile() bool        { return false }
func (testProcessor) ParamsSchema() string   { return `{"type":"object"}` }
func (testProcessor) Priority() Priority     { return PriorityDefault }
func (testProcessor) Timeout() time.Duration { return time.Minute }

func TestOutputBudgetIsTheJobs(t *testing.T) {
	reg, err := NewRegistry(twoOutputs{n: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := reg.Get("test")
	var stored atomic.Int64
	put := func(_ context.Context, _, _ string, body io.Reader) (int64, error) {
		n, err := io.Copy(io.Discard, body)
		stored.Add(n)
		return n, err
	}

	// Each output alone is within the budget; together they are not.
	_, err = p.Run(context.Background(), Input{Put: put, MaxOutputBytes: 1_000_000})
	if !errors.Is(err, ErrOutputTooLarge) || domain.ErrorCode(err) != domain.CodeTooLarge {
		t.Fatalf("err = %v, want ErrOutputTooLarge", err)
	}
	if n := stored.Load(); n > 1_000_000 {
		t.Fatalf("stored %d bytes, over the budget", n)
	}

	stored.Store(0)
	if _, err := p.Run(context.Background(), Input{Put: put, MaxOutputBytes: 1_200_000}); err != nil {
		t.Fatalf("within the budget: %v", err)
	}
	if stored.Load() != 1_200_000 {
		t.Fatalf("stored %d bytes, want 1200000", stored.Load())
	}

	// A store that fails for its own reasons stays that failure.
	fail := func(_ context.Context, _, _ string, body io.Reader) (int64, error) {
		_, _ = io.CopyN(io.Discard, body, 10)
		return 0, errors.New("s3: 503")
	}
	if _, err := p.Run(context.Background(), Input{Put: fail}); err == nil || errors.Is(err, ErrOutputTooLarge) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the store's", err)
	}
}

func TestDefaultMaxOutputBytes(t *testing.T) {
	for _, tc := range []struct {
		f    *domain.File
		want int64
	}{
		{nil, 1 << 30},
		{&domain.File{Size: 0}, 1 << 30},
		{&domain.File{Size: 1 << 20}, 1<<30 + 8<<20},
		{&domain.File{Size: 5 << 30}, 1<<30 + 40<<30},
		{&domain.File{Size: 1 << 62}, 1 << 62},
	} {
		if got := DefaultMaxOutputBytes(tc.f); got != tc.want {
			t.Errorf("DefaultMaxOutputBytes(%+v) = %d, want %d", tc.f, got, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{1: "1 byte", 512: "512 bytes", 1024: "1.0 KiB", 64 << 10: "64.0 KiB", 3 << 29: "1.5 GiB", 1 << 62: "4096.0 PiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
