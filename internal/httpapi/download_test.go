package httpapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/blob"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// TestStreamedDownloadsKeepStoragesPresentation: a streamed file or output
// goes out with exactly the Content-Type and Content-Disposition blob's
// presentation table chose, for every type that table shows inline and for
// the attachments; the spec lists each of those types (the generated
// response types exist only for them), so the table and the spec cannot
// drift apart unnoticed.
func TestStreamedDownloadsKeepStoragesPresentation(t *testing.T) {
	types := append(blob.InlineTypes(), "text/plain; charset=utf-8", "text/html; charset=utf-8", "image/svg+xml", "")
	for _, stored := range types {
		disposition, ctype := blob.Presentation("x", stored)
		d := func() domain.Download {
			return domain.Download{Body: io.NopCloser(strings.NewReader("bytes")), Length: 5,
				ContentType: ctype, ContentDisposition: disposition}
		}
		n := int64(5)
		for name, r := range map[string]interface {
			visit(*httptest.ResponseRecorder) error
		}{
			"file 200":   fileVisitor{fileContent200(d(), api.DownloadFile200ResponseHeaders{ContentDisposition: &disposition, ContentLength: &n})},
			"file 206":   fileVisitor{fileRange206(d(), api.DownloadFile206ResponseHeaders{ContentDisposition: &disposition, ContentLength: &n})},
			"output 200": outputVisitor{output200(d(), api.DownloadJobOutput200ResponseHeaders{ContentDisposition: &disposition, ContentLength: &n})},
		} {
			w := httptest.NewRecorder()
			if err := r.visit(w); err != nil {
				t.Fatal(err)
			}
			if got := w.Header().Get("Content-Type"); got != ctype {
				t.Errorf("%s of a %q: Content-Type %q, want %q", name, stored, got, ctype)
			}
			if got := w.Header().Get("Content-Disposition"); got != disposition {
				t.Errorf("%s of a %q: Content-Disposition %q, want %q", name, stored, got, disposition)
			}
			if w.Body.String() != "bytes" || w.Header().Get("Content-Length") != "5" {
				t.Errorf("%s of a %q: body %q, Content-Length %q", name, stored, w.Body, w.Header().Get("Content-Length"))
			}
		}
	}
}

type fileVisitor struct{ api.DownloadFileResponseObject }

func (v fileVisitor) visit(w *httptest.ResponseRecorder) error { return v.VisitDownloadFileResponse(w) }

type outputVisitor struct {
	api.DownloadJobOutputResponseObject
}

func (v outputVisitor) visit(w *httptest.ResponseRecorder) error {
	return v.VisitDownloadJobOutputResponse(w)
}
