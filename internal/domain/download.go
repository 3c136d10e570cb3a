package domain

import "io"

// Download is a stored object opened to be sent to a client: its bytes
// (all of them, or one range) and how a browser is to present them. Object
// storage decides the presentation, the same way for a stream through the
// API as for a presigned URL, so that nothing uploaded renders as a page.
type Download struct {
	Body         io.ReadCloser // the caller closes it
	Length       int64         // bytes in Body
	ContentRange string        // e.g. "bytes 0-9/100"; "" for the whole object
	// ContentType is what to send as Content-Type: the object's own type
	// when it is safe to show inline, application/octet-stream otherwise.
	ContentType string
	// ContentDisposition is what to send as Content-Disposition: inline or
	// attachment, with the object's name.
	ContentDisposition string
}
