// Package processors holds the kinds of processing a job can run, one file
// each, and the registry that names them and checks their parameters.
package processors

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Input is what a processor works on.
type Input struct {
	Job    domain.Job
	File   *domain.File // nil for processors that need no file
	Params json.RawMessage
	// Open opens the job's file content for reading; nil without a file.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Progress reports progress from 0 to 100. Calls are cheap: the runner
	// records at most a few per second.
	Progress func(pct int)
	// Put stores an output of the job, read from body to its end, under
	// name (see ValidOutputName). It returns the bytes stored. An output is
	// visible to clients only once the job succeeds; outputs of an attempt
	// that does not succeed are removed.
	Put func(ctx context.Context, name, contentType string, body io.Reader) (int64, error)
	// MaxOutputBytes bounds the bytes all the job's outputs together may
	// hold; zero means DefaultMaxOutputBytes(File). Processors from a
	// Registry enforce it: past it the run fails with ErrOutputTooLarge.
	MaxOutputBytes int64
	// Source reads the team's files and jobs; for processors that report
	// on a team (export). Nil in contexts that do not provide it.
	Source Source
}

// Source pages through a team's resources, oldest first.
type Source interface {
	Files(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.File], error)
	Jobs(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Job], error)
}

// Output is what a processor produced: a JSON result (stored with the job).
// Files are stored through Input.Put.
type Output struct {
	Result json.RawMessage
}

// Priority orders jobs in the queue: interactive work first.
type Priority int

// Priorities.
const (
	PriorityLow Priority = iota
	PriorityDefault
	PriorityHigh
)

// Processor is one kind of processing.
type Processor interface {
	Name() string
	Description() string
	NeedsFile() bool
	// ParamsSchema is a JSON Schema (the OpenAPI 3.0 subset) for params.
	ParamsSchema() string
	// Priority is the queue priority of the processor's jobs.
	Priority() Priority
	// Timeout bounds one attempt.
	Timeout() time.Duration
	Run(ctx context.Context, in Input) (Output, error)
}

// ValidOutputName reports whether name may name an output: 1 to 64 of
// lower-case letters, digits, '.', '_' and '-', starting with a letter or
// digit.
func ValidOutputName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Registry holds the processors by name. The processors it returns hold
// their outputs to the job's output budget (Input.MaxOutputBytes).
type Registry struct {
	byName  map[string]Processor
	schemas map[string]*openapi3.Schema
}

// NewRegistry returns a registry of ps; it fails when a schema does not parse.
func NewRegistry(ps ...Processor) (*Registry, error) {
	r := &Registry{byName: map[string]Processor{}, schemas: map[string]*openapi3.Schema{}}
	for _, p := range ps {
		var s openapi3.Schema
		if err := json.Unmarshal([]byte(p.ParamsSchema()), &s); err != nil {
			return nil, fmt.Errorf("processors: %s: params schema: %w", p.Name(), err)
		}
		r.byName[p.Name()] = budgeted{p}
		r.schemas[p.Name()] = &s
	}
	return r, nil
}

// Default returns the registry of every processor that ships.
func Default() (*Registry, error) {
	return NewRegistry(Inspect{}, Thumbnail{}, CSVProfile{}, Export{})
}

// Get returns the processor called name, or an unprocessable error.
func (r *Registry) Get(name string) (Processor, error) {
	p, ok := r.byName[name]
	if !ok {
		return nil, &domain.Error{Code: domain.CodeUnprocessable,
			Message: fmt.Sprintf("Unknown processor %q; GET /processors lists them.", name),
			Fields:  []domain.FieldError{{Pointer: "/processor", Detail: "unknown processor"}}}
	}
	return p, nil
}

// All returns every processor, by name.
func (r *Registry) All() []Processor {
	out := make([]Processor, 0, len(r.byName))
	for _, p := range r.byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// CheckParams validates params (a JSON object, or empty for {}) against the
// processor's schema and returns them normalised.
func (r *Registry) CheckParams(name string, params json.RawMessage) (json.RawMessage, error) {
	if len(params) == 0 || string(params) == "null" {
		params = json.RawMessage(`{}`)
	}
	var v any
	if err := json.Unmarshal(params, &v); err != nil {
		return nil, domain.Errorf(domain.CodeInvalid, "params is not JSON.")
	}
	if err := r.schemas[name].VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return nil, &domain.Error{Code: domain.CodeUnprocessable, Message: "params does not match the processor's params_schema.",
			Fields: schemaFields(err, "/params")}
	}
	return params, nil
}

func schemaFields(err error, prefix string) []domain.FieldError {
	var out []domain.FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, x := range e {
				walk(x)
			}
		case *openapi3.SchemaError:
			ptr := prefix
			if p := e.JSONPointer(); len(p) > 0 {
				ptr += "/" + strings.Join(p, "/")
			}
			out = append(out, domain.FieldError{Pointer: ptr, Detail: e.Reason})
		default:
			out = append(out, domain.FieldError{Pointer: prefix, Detail: err.Error()})
		}
	}
	walk(err)
	return out
}

// invalidf returns the error for content or params a processor cannot work
// with: the runner fails the job without retrying and shows the message, so
// it should say what is wrong in the client's terms.
func invalidf(format string, args ...any) error {
	return domain.Errorf(domain.CodeUnprocessable, format, args...)
}

// paramsf returns the error for params a processor refuses.
func paramsf(format string, args ...any) error {
	return domain.Errorf(domain.CodeInvalid, "params: "+format, args...)
}

// decodeParams decodes a job's params into v, which holds the defaults.
// Params were checked against the schema when the job was created; the
// processor still checks ranges itself.
func decodeParams(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return domain.Errorf(domain.CodeInvalid, "params do not match the processor's params_schema: %v.", err)
	}
	return nil
}

// fileReader reads a job's file: it stops when ctx is done, counts the
// bytes, reports progress from lo to hi as the bytes approach size (when
// size is known), and remembers the first read error other than io.EOF.
// That error tells a failure to read (retryable) from a parser's complaint
// about the content (not).
type fileReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	size     int64
	lo, hi   int
	progress func(int)
	last     int
	err      error
}

func newFileReader(ctx context.Context, r io.Reader, size int64, progress func(int), lo, hi int) *fileReader {
	return &fileReader{ctx: ctx, r: r, size: size, progress: progress, lo: lo, hi: hi, last: -1}
}

func (f *fileReader) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		if f.err == nil {
			f.err = err
		}
		return 0, err
	}
	n, err := f.r.Read(p)
	f.n += int64(n)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	if f.progress != nil && f.size > 0 {
		pct := f.lo + int(int64(f.hi-f.lo)*min(f.n, f.size)/f.size)
		if pct > f.last {
			f.last = pct
			f.progress(pct)
		}
	}
	return n, err
}

// Err returns the first error reading the file, other than io.EOF.
func (f *fileReader) Err() error { return f.err }

// output names a file a processor stores.
type output struct {
	name, contentType string
}

// errOutputClosed is what a writer sees when the Put reading its output
// returned before the end.
var errOutputClosed = errors.New("processors: output closed early")

// putStreams stores outputs, written by write with one writer per output in
// the same order. Each output streams through a pipe into its own Put, and
// those Puts run concurrently, so memory stays bounded however large the
// outputs are. It returns write's error first (the cause), then the first
// Put's.
func putStreams(ctx context.Context, put func(ctx context.Context, name, contentType string, body io.Reader) (int64, error), outs []output, write func(ws []io.Writer) error) error {
	if put == nil {
		return errors.New("processors: no output store")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pws := make([]*io.PipeWriter, len(outs))
	bws := make([]*bufio.Writer, len(outs))
	ws := make([]io.Writer, len(outs))
	errs := make(chan error, len(outs))
	for i, o := range outs {
		pr, pw := io.Pipe()
		pws[i], bws[i] = pw, bufio.NewWriterSize(pw, 64<<10)
		ws[i] = bws[i]
		go func() {
			_, err := put(ctx, o.name, o.contentType, pr)
			pr.CloseWithError(errOutputClosed) // never leave the writer blocked
			if err != nil {
				cancel()
				err = fmt.Errorf("store output %s: %w", o.name, err)
			}
			errs <- err
		}()
	}
	werr := write(ws)
	for _, bw := range bws {
		if werr != nil {
			break
		}
		werr = bw.Flush()
	}
	for _, pw := range pws {
		pw.CloseWithError(werr) // nil: the Put reads io.EOF
	}
	// The Put that failed first is the cause; the others may only have
	// seen the writer stop because of it.
	var perr error
	for range outs {
		err := <-errs
		if err != nil && (perr == nil || errors.Is(perr, errOutputClosed) && !errors.Is(err, errOutputClosed)) {
			perr = err
		}
	}
	if werr != nil && !(errors.Is(werr, errOutputClosed) && perr != nil) {
		return werr
	}
	return perr
}
