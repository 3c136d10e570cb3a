package processors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// stored is one output captured by memOutputs.
type stored struct {
	contentType string
	body        []byte
}

// memOutputs captures Put calls in memory; it is safe for concurrent use,
// as the runner's Put must be.
type memOutputs struct {
	mu    sync.Mutex
	files map[string]stored
	// fail makes Put of that name fail after reading a little.
	fail string
}

func (m *memOutputs) put(ctx context.Context, name, contentType string, body io.Reader) (int64, error) {
	if !ValidOutputName(name) {
		return 0, errors.New("invalid output name " + name)
	}
	if name == m.fail {
		_, _ = io.CopyN(io.Discard, body, 10)
		return 0, errors.New("s3 is down")
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string]stored{}
	}
	if _, dup := m.files[name]; dup {
		return 0, errors.New("output stored twice: " + name)
	}
	m.files[name] = stored{contentType, b}
	return int64(len(b)), nil
}

func (m *memOutputs) get(t testing.TB, name string) stored {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.files[name]
	if !ok {
		t.Fatalf("no output %q; have %v", name, m.names())
	}
	return s
}

func (m *memOutputs) names() []string {
	var out []string
	for n := range m.files {
		out = append(out, n)
	}
	return out
}

// progressLog records Progress calls.
type progressLog struct {
	mu  sync.Mutex
	pct []int
}

func (p *progressLog) report(pct int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pct = append(p.pct, pct)
}

// check fails unless progress stayed within 0..100, never went back, ended
// at 100 and passed each of marks.
func (p *progressLog) check(t testing.TB, marks ...int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pct) == 0 || p.pct[len(p.pct)-1] != 100 {
		t.Fatalf("progress %v does not end at 100", p.pct)
	}
	for i, v := range p.pct {
		if v < 0 || v > 100 || i > 0 && v < p.pct[i-1] {
			t.Fatalf("progress %v goes out of range or back", p.pct)
		}
	}
	for _, m := range marks {
		found := false
		for _, v := range p.pct {
			found = found || v == m
		}
		if !found {
			t.Fatalf("progress %v never reports %d", p.pct, m)
		}
	}
}

// chunkReader returns at most n bytes a read, to exercise streaming.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// fileInput returns an Input over content, with outputs and progress
// captured.
func fileInput(content []byte, params string) (Input, *memOutputs, *progressLog) {
	outs, prog := &memOutputs{}, &progressLog{}
	return Input{
		File:   &domain.File{Name: "f", Size: int64(len(content))},
		Params: json.RawMessage(params),
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(&chunkReader{r: bytes.NewReader(content), n: 4096}), nil
		},
		Progress: prog.report,
		Put:      outs.put,
	}, outs, prog
}

// wantInvalid fails unless err is a client-facing error (invalid_input to
// the runner) whose message contains each of parts.
func wantInvalid(t testing.TB, err error, parts ...string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || (de.Code != domain.CodeUnprocessable && de.Code != domain.CodeInvalid) {
		t.Fatalf("err = %v, want an invalid-input domain error", err)
	}
	for _, p := range parts {
		if !strings.Contains(de.Message, p) {
			t.Fatalf("message %q does not contain %q", de.Message, p)
		}
	}
}

// wantRetryable fails unless err is a plain (retryable) error.
func wantRetryable(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("err = nil, want a failure")
	}
	var de *domain.Error
	if errors.As(err, &de) {
		t.Fatalf("err = %v, want a plain error (retryable), got code %s", err, de.Code)
	}
}

func TestDefaultRegistry(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range r.All() {
		names = append(names, p.Name())
		if p.Timeout() <= 0 || p.Description() == "" {
			t.Errorf("%s: no timeout or description", p.Name())
		}
		if n := utf8.RuneCountInString(p.Description()); n > 1024 { // the spec's maxLength for a processor's description
			t.Errorf("%s: description of %d characters, over 1024", p.Name(), n)
		}
		if !json.Valid([]byte(p.ParamsSchema())) {
			t.Errorf("%s: schema is not JSON", p.Name())
		}
		if _, err := r.CheckParams(p.Name(), nil); err != nil {
			t.Errorf("%s: empty params refused: %v", p.Name(), err)
		}
	}
	if got := strings.Join(names, ","); got != "csv_profile,export,inspect,thumbnail" {
		t.Fatalf("processors = %s", got)
	}
}

func TestCheckParams(t *testing.T) {
	r, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		proc, params string
		ok           bool
	}{
		{"thumbnail", `{"max_width":64,"max_height":4096,"format":"jpeg","quality":100}`, true},
		{"thumbnail", `{"max_width":0}`, false},
		{"thumbnail", `{"max_height":4097}`, false},
		{"thumbnail", `{"max_width":1.5}`, false},
		{"thumbnail", `{"format":"gif"}`, false},
		{"thumbnail", `{"quality":0}`, false},
		{"thumbnail", `{"size":1}`, false},
		{"csv_profile", `{"delimiter":";","header":false,"max_rows":10}`, true},
		{"csv_profile", `{"delimiter":"\t"}`, true},
		{"csv_profile", `{"delimiter":"é"}`, true},
		{"csv_profile", `{"delimiter":""}`, false},
		{"csv_profile", `{"delimiter":",,"}`, false},
		{"csv_profile", `{"delimiter":"\""}`, false},
		{"csv_profile", `{"delimiter":"\n"}`, false},
		{"csv_profile", `{"header":"yes"}`, false},
		{"csv_profile", `{"max_rows":0}`, false},
		{"export", `{"include":["jobs"]}`, true},
		{"export", `{"include":["files","jobs"]}`, true},
		{"export", `{"include":[]}`, false},
		{"export", `{"include":["files","files"]}`, false},
		{"export", `{"include":["teams"]}`, false},
		{"export", `{"include":"files"}`, false},
	} {
		_, err := r.CheckParams(tc.proc, json.RawMessage(tc.params))
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: err = %v, want ok %v", tc.proc, tc.params, err, tc.ok)
		}
	}
}

func TestPutStreams(t *testing.T) {
	ctx := context.Background()
	outs := []output{{"a.txt", "text/plain"}, {"b.txt", "text/plain"}}

	t.Run("both outputs stream", func(t *testing.T) {
		m := &memOutputs{}
		err := putStreams(ctx, m.put, outs, func(ws []io.Writer) error {
			for range 100_000 { // far more than a pipe or buffer holds
				if _, err := io.WriteString(ws[0], "aaaaaaaaa\n"); err != nil {
					return err
				}
				if _, err := io.WriteString(ws[1], "b\n"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if a, b := m.get(t, "a.txt").body, m.get(t, "b.txt").body; len(a) != 1_000_000 || len(b) != 200_000 {
			t.Fatalf("stored %d and %d bytes", len(a), len(b))
		}
	})

	t.Run("the writer's error wins", func(t *testing.T) {
		m := &memOutputs{}
		cause := invalidf("bad content")
		err := putStreams(ctx, m.put, outs, func(ws []io.Writer) error {
			_, _ = io.WriteString(ws[0], "partial")
			return cause
		})
		if err != cause {
			t.Fatalf("err = %v, want the writer's", err)
		}
	})

	t.Run("a failing put stops the writer", func(t *testing.T) {
		m := &memOutputs{fail: "b.txt"}
		done := make(chan error, 1)
		go func() {
			done <- putStreams(ctx, m.put, outs, func(ws []io.Writer) error {
				for {
					if _, err := io.WriteString(ws[1], strings.Repeat("x", 1000)); err != nil {
						return err
					}
				}
			})
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "s3 is down") {
				t.Fatalf("err = %v, want the Put's", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("writer blocked after Put failed")
		}
	})

	t.Run("no store", func(t *testing.T) {
		if err := putStreams(ctx, nil, outs, func([]io.Writer) error { return nil }); err == nil {
			t.Fatal("no error without Put")
		}
	})
}

func TestFileReaderProgress(t *testing.T) {
	var prog progressLog
	data := bytes.Repeat([]byte("x"), 10_000)
	fr := newFileReader(context.Background(), &chunkReader{r: bytes.NewReader(data), n: 100}, int64(len(data)), prog.report, 50, 100)
	if _, err := io.Copy(io.Discard, fr); err != nil {
		t.Fatal(err)
	}
	prog.check(t, 51, 75)
	if prog.pct[0] < 50 || len(prog.pct) > 51 {
		t.Fatalf("progress %v: want 50..100, each value once", prog.pct)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fr = newFileReader(ctx, bytes.NewReader(data), 0, nil, 0, 100)
	if _, err := io.Copy(io.Discard, fr); !errors.Is(err, context.Canceled) || !errors.Is(fr.Err(), context.Canceled) {
		t.Fatalf("err = %v, Err() = %v; want context.Canceled", err, fr.Err())
	}
}

func TestInspectProgress(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	in, _, prog := fileInput(data, `{}`)
	out, err := Inspect{}.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	prog.check(t, 50)
	var res InspectResult
	if err := json.Unmarshal(out.Result, &res); err != nil || res.Size != int64(len(data)) {
		t.Fatalf("result %s, %v", out.Result, err)
	}

	// Without a known size, only the end is reported.
	in, _, prog = fileInput(data, `{}`)
	in.File.Size = 0
	if _, err := (Inspect{}).Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(prog.pct) != 1 || prog.pct[0] != 100 {
		t.Fatalf("progress %v, want [100]", prog.pct)
	}
}
