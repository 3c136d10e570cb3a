package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/idempotency"
)

// maxKeptBody bounds a response kept for replay; creating responses are
// small JSON documents.
const maxKeptBody = 256 << 10

// keptHeaders are the response headers a replay repeats.
var keptHeaders = []string{"Content-Type", "Location", "ETag"}

// takesIdempotencyKey reports whether op declares the Idempotency-Key header.
func takesIdempotencyKey(op *openapi3.Operation) bool {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == "header" && strings.EqualFold(p.Value.Name, "Idempotency-Key") {
			return true
		}
	}
	return false
}

// maxTrailing is how much of a refused request's body serveIdempotent
// reads after the handler returned, to finish the fingerprint: what a
// handler leaves of a body it took (a multipart epilogue, whitespace after
// JSON). With more left it was refused early; its response is not kept.
const maxTrailing = 64 << 10

// unreadGrace is how long a connection whose request body is left unread
// takes the rest of it after the answer, before it is dropped.
const unreadGrace = 2 * time.Second

// serveIdempotent runs next under the request's Idempotency-Key, if it has
// one and the operation takes it: the first request runs and its response
// is kept; a retry gets the kept response (Idempotent-Replayed: true), a
// conflict while the first runs, or unprocessable for a different request.
//
// The body of a retry is read only when it decides the answer (replay or
// unprocessable, for the same method and path as the kept response): a
// retry of an upload still in flight is answered at once, and its
// connection closed, with its body unread.
func (s *Server) serveIdempotent(w http.ResponseWriter, r *http.Request, op *openapi3.Operation, next http.Handler) {
	key := r.Header.Get("Idempotency-Key")
	p := domain.PrincipalFrom(r.Context())
	if key == "" || p == nil || s.deps.Idempotency == nil || !takesIdempotencyKey(op) {
		next.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	rec, err := s.deps.Idempotency.Begin(ctx, p.Key(), key, r.Method, r.URL.Path)
	if err != nil {
		s.refuseUnread(w, r, err)
		return
	}
	if rec != nil {
		var sum []byte // nil: the answer does not depend on the body
		if rec.Response != nil && rec.Method == r.Method && rec.Path == r.URL.Path {
			sum, _ = newFingerprint(r).finish(r, s.bodyLimit())
		}
		kept, err := s.deps.Idempotency.Replay(rec, r.Method, r.URL.Path, sum)
		if err != nil {
			s.refuseUnread(w, r, err)
			return
		}
		for k, v := range kept.Headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(kept.Status)
		_, _ = w.Write(kept.Body)
		return
	}
	fp := newFingerprint(r)
	rw := &keepingWriter{ResponseWriter: w}
	finished := false
	defer func() {
		if finished {
			return
		}
		// A panic: free the key so a retry runs again, then let the
		// recoverer answer.
		_ = s.deps.Idempotency.Finish(context.WithoutCancel(ctx), p.Key(), key, nil, idempotency.Response{Status: 500})
	}()
	next.ServeHTTP(rw, r)
	finished = true
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	var sum []byte
	whole := true
	switch {
	case !idempotency.Keeps(status):
		fp.abandon() // only a response that is kept needs the fingerprint
	case status < 400:
		// Served: the handler read (nearly) all of the body; the response
		// is kept whatever is left, or a retry would do it again.
		sum, _ = fp.finish(r, s.bodyLimit())
	default:
		// Refused, perhaps before the body was read (too large, over a
		// quota): not worth reading the rest of an upload for.
		sum, whole = fp.finish(r, maxTrailing)
	}
	kept := idempotency.Response{Status: status, Headers: map[string]string{}, Body: rw.body.Bytes()}
	if rw.overflow || !whole {
		// Too large to keep, or refused before its body was read (the
		// fingerprint would need all of it): release the key rather than
		// keep what a retry could not be matched against.
		kept.Status = http.StatusInternalServerError
	}
	for _, h := range keptHeaders {
		if v := w.Header().Get(h); v != "" {
			kept.Headers[h] = v
		}
	}
	if err := s.deps.Idempotency.Finish(context.WithoutCancel(ctx), p.Key(), key, sum, kept); err != nil {
		s.deps.Logger.ErrorContext(ctx, "idempotency: keep the response", "err", err, "request_id", requestIDFrom(ctx))
	}
}

// refuseUnread answers err without reading the request's body. When the
// request has one, the connection is closed after the answer: net/http
// would otherwise read up to 256 KiB of the body before answering, to
// reuse the connection, which a slowly streamed body makes a long wait.
// What the client still sends within unreadGrace is taken, so that it
// reads the answer before the connection is dropped.
func (s *Server) refuseUnread(w http.ResponseWriter, r *http.Request, err error) {
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadGrace))
	}
	s.problems.write(w, r, err)
}

func (s *Server) bodyLimit() int64 { return s.deps.MaxUploadBytes + maxJSONBody }

// keepingWriter passes a response through and keeps a copy of it.
type keepingWriter struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (k *keepingWriter) WriteHeader(code int) {
	if k.status == 0 {
		k.status = code
	}
	k.ResponseWriter.WriteHeader(code)
}

func (k *keepingWriter) Write(b []byte) (int, error) {
	if k.status == 0 {
		k.status = http.StatusOK
	}
	if k.body.Len()+len(b) > maxKeptBody {
		k.overflow = true
	} else {
		k.body.Write(b)
	}
	return k.ResponseWriter.Write(b)
}

// fingerprint hashes a request's body as the handler reads it. Multipart
// bodies are hashed part by part (name, filename, content), so a retry
// that chose another boundary is still the same request. The hash only
// tells one principal's requests under one key apart, so a fast
// non-cryptographic one (xxHash64) does: an upload is already hashed once
// with SHA-256 for its digest.
type fingerprint struct {
	pw  *io.PipeWriter
	buf *bufio.Writer // batches the tee's writes: one goroutine handoff per 256 KiB, not per read
	sum chan []byte
}

type teeBody struct {
	io.Reader
	io.Closer
}

func newFingerprint(r *http.Request) *fingerprint {
	pr, pw := io.Pipe()
	f := &fingerprint{pw: pw, sum: make(chan []byte, 1)}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	go func() {
		h := xxhash.New()
		fmt.Fprintf(h, "%s\x00", mt)
		if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
			mr := multipart.NewReader(pr, params["boundary"])
			for {
				part, err := mr.NextPart()
				if err != nil {
					if err != io.EOF {
						h.Write([]byte("\x00malformed"))
					}
					break
				}
				fmt.Fprintf(h, "part\x00%s\x00%s\x00", part.FormName(), part.FileName())
				_, _ = io.Copy(h, part)
			}
		} else {
			_, _ = io.Copy(h, pr)
		}
		_, _ = io.Copy(io.Discard, pr)
		f.sum <- h.Sum(nil)
	}()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	f.buf = bufio.NewWriterSize(pw, 256<<10)
	r.Body = teeBody{Reader: io.TeeReader(r.Body, f.buf), Closer: r.Body}
	return f
}

// finish reads what the handler left of the body, at most limit bytes,
// and returns the fingerprint and whether it covers the whole body (the
// body ended within limit).
func (f *fingerprint) finish(r *http.Request, limit int64) ([]byte, bool) {
	_, err := io.CopyN(io.Discard, r.Body, limit+1)
	_ = f.buf.Flush()
	_ = f.pw.Close()
	return <-f.sum, err == io.EOF
}

// abandon stops the fingerprint without reading more of the body.
func (f *fingerprint) abandon() {
	_ = f.pw.CloseWithError(errAbandoned)
	<-f.sum
}

var errAbandoned = errors.New("idempotency: fingerprint abandoned")
