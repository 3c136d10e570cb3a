package blob_test

import (
	"testing"

	"github.com/conveyorhq/conveyor/internal/blob"
)

// TestPresentation: only raster images and plain text are shown inline;
// everything a browser could run (HTML, SVG, XML, script) and everything
// unknown is an attachment of no particular type; the name always goes
// along, percent-encoded as UTF-8 with an ASCII fallback.
func TestPresentation(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, wantDisposition, wantType string
	}{
		{"photo.png", "image/png", `inline; filename="photo.png"; filename*=UTF-8''photo.png`, "image/png"},
		{"a.jpg", "image/jpeg", `inline; filename="a.jpg"; filename*=UTF-8''a.jpg`, "image/jpeg"},
		{"a.gif", "image/gif", `inline; filename="a.gif"; filename*=UTF-8''a.gif`, "image/gif"},
		{"a.webp", "image/webp", `inline; filename="a.webp"; filename*=UTF-8''a.webp`, "image/webp"},
		{"notes.txt", "text/plain; charset=utf-8", `inline; filename="notes.txt"; filename*=UTF-8''notes.txt`, "text/plain; charset=utf-8"},
		{"odd.txt", "text/plain; charset=x-mac-roman", `inline; filename="odd.txt"; filename*=UTF-8''odd.txt`, "text/plain"},
		{"page.html", "text/html; charset=utf-8", `attachment; filename="page.html"; filename*=UTF-8''page.html`, "application/octet-stream"},
		{"x.xhtml", "application/xhtml+xml", `attachment; filename="x.xhtml"; filename*=UTF-8''x.xhtml`, "application/octet-stream"},
		{"logo.svg", "image/svg+xml", `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`, "application/octet-stream"},
		{"logo.svg", "text/xml; charset=utf-8", `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`, "application/octet-stream"},
		{"app.js", "text/javascript", `attachment; filename="app.js"; filename*=UTF-8''app.js`, "application/octet-stream"},
		{"app.js", "application/javascript", `attachment; filename="app.js"; filename*=UTF-8''app.js`, "application/octet-stream"},
		{"report.pdf", "application/pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`, "application/octet-stream"},
		{"rows.jsonl", "application/x-ndjson", `attachment; filename="rows.jsonl"; filename*=UTF-8''rows.jsonl`, "application/octet-stream"},
		{"blob", "", `attachment; filename="blob"; filename*=UTF-8''blob`, "application/octet-stream"},
		{"bad", "image/png; x=\"", `attachment; filename="bad"; filename*=UTF-8''bad`, "application/octet-stream"},
		{"", "image/png", `inline; filename="download"; filename*=UTF-8''download`, "image/png"},
		{`résumé "final" ✓.html`, "text/html",
			`attachment; filename="r_sum_ _final_ _.html"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%20%E2%9C%93.html`,
			"application/octet-stream"},
		{"a;b=c%20d.png", "image/png", `inline; filename="a;b=c_20d.png"; filename*=UTF-8''a%3Bb%3Dc%2520d.png`, "image/png"},
	} {
		d, ct := blob.Presentation(tc.name, tc.ctype)
		if d != tc.wantDisposition || ct != tc.wantType {
			t.Errorf("Presentation(%q, %q) =\n  %s | %s\nwant\n  %s | %s", tc.name, tc.ctype, d, ct, tc.wantDisposition, tc.wantType)
		}
	}
}
