package blob

import (
	"context"
	"fmt"
	"mime"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// inlineTypes are the media types a download may be shown as, in the
// browser, on storage's origin: raster images and plain text, which cannot
// run script there. Everything else is an attachment of no particular
// type, so that an uploaded HTML page, SVG or script is saved, never
// rendered.
var inlineTypes = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
	"text/plain": true,
}

// InlineTypes returns the media types Presentation shows inline, sorted:
// the only ones a download is ever sent as, besides
// application/octet-stream (the API description lists them).
func InlineTypes() []string {
	out := make([]string, 0, len(inlineTypes))
	for t := range inlineTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// textCharsets are the charsets a plain-text download keeps (what
// http.DetectContentType reports); any other is dropped.
var textCharsets = map[string]bool{"utf-8": true, "utf-16be": true, "utf-16le": true}

// Presentation returns how a download named name of media type
// contentType is served: its Content-Disposition (inline for the types
// in the allowlist, attachment otherwise; always with the name, RFC 6266
// and RFC 8187) and its Content-Type (the type itself when inline,
// application/octet-stream otherwise).
func Presentation(name, contentType string) (disposition, ctype string) {
	mt, params, err := mime.ParseMediaType(contentType)
	disposition, ctype = "attachment", "application/octet-stream"
	if err == nil && inlineTypes[mt] {
		disposition, ctype = "inline", mt
		if cs := strings.ToLower(params["charset"]); mt == "text/plain" && textCharsets[cs] {
			ctype += "; charset=" + cs
		}
	}
	return disposition + "; " + filenameParams(name), ctype
}

// filenameParams are the filename parameters of a Content-Disposition: an
// ASCII fallback for old clients, and the name itself percent-encoded as
// UTF-8 (filename*, RFC 8187), which clients prefer.
func filenameParams(name string) string {
	if name == "" {
		name = "download"
	}
	var fallback, encoded strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '%':
			fallback.WriteByte('_')
		default:
			fallback.WriteRune(r)
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			encoded.WriteByte(c)
		} else {
			fmt.Fprintf(&encoded, "%%%02X", c)
		}
	}
	return `filename="` + fallback.String() + `"; filename*=UTF-8''` + encoded.String()
}

// isAttrChar reports whether c may stand unencoded in an RFC 8187 value.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// PresignDownload returns a URL that downloads the object at key for ttl,
// as name of media type contentType, served as Presentation says: storage
// answers with that Content-Disposition and Content-Type, whatever the
// object was stored with.
func (s *Store) PresignDownload(ctx context.Context, key, name, contentType string, ttl time.Duration) (string, error) {
	disposition, ctype := Presentation(name, contentType)
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		ResponseContentDisposition: aws.String(disposition), ResponseContentType: aws.String(ctype)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: presign: %w", err)
	}
	return req.URL, nil
}

// OpenDownload opens the object at key to be streamed to a client as name
// of media type contentType: the byte range spec (as GetRange; empty: all
// of it), with the Content-Type and Content-Disposition Presentation gives,
// the same a presigned download (PresignDownload) carries. A missing
// object is a CodeNotFound error, a range outside it
// CodeRangeNotSatisfiable.
func (s *Store) OpenDownload(ctx context.Context, key, spec, name, contentType string) (domain.Download, error) {
	body, cr, n, err := s.GetRange(ctx, key, spec)
	if err != nil {
		return domain.Download{}, err
	}
	disposition, ctype := Presentation(name, contentType)
	return domain.Download{Body: body, Length: n, ContentRange: cr, ContentType: ctype, ContentDisposition: disposition}, nil
}
