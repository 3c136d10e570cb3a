package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func fileOut(f domain.File) api.File {
	return api.File{Id: f.ID, TeamId: f.TeamID, Name: f.Name, Size: f.Size, Sha256: f.SHA256,
		ContentType: f.ContentType, CreatedAt: f.CreatedAt}
}

// UploadFile implements api.StrictServerInterface. It streams the part
// named "file" to the files service; other parts are skipped.
func (s *Server) UploadFile(ctx context.Context, req api.UploadFileRequestObject) (api.UploadFileResponseObject, error) {
	for {
		part, err := req.Body.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, &domain.Error{Code: domain.CodeInvalid, Message: `The multipart body has no part named "file".`,
				Fields: []domain.FieldError{{Pointer: "/file", Detail: "required"}}}
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, domain.Errorf(domain.CodeTooLarge, "The request body is larger than the limit of %d bytes.", mbe.Limit)
			}
			return nil, domain.Wrap(err, domain.CodeInvalid, "The multipart body is malformed.")
		}
		if part.FormName() != "file" {
			_ = part.Close()
			continue
		}
		f, err := s.deps.Files.Upload(ctx, req.TeamId, part.FileName(), part, declaredLength(ctx))
		if err != nil {
			// Not part.Close, which reads the part to its end: a refused
			// upload is answered without taking in the rest of its body.
			return nil, err
		}
		_ = part.Close()
		loc := "/api/v1/teams/" + f.TeamID.String() + "/files/" + f.ID.String()
		return api.UploadFile201JSONResponse{Body: fileOut(f), Headers: api.UploadFile201ResponseHeaders{Location: &loc}}, nil
	}
}

// ListFiles implements api.StrictServerInterface.
func (s *Server) ListFiles(ctx context.Context, req api.ListFilesRequestObject) (api.ListFilesResponseObject, error) {
	scope := "ListFiles:" + req.TeamId.String()
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := domain.FileFilter{CreatedAfter: req.Params.CreatedAfter, CreatedBefore: req.Params.CreatedBefore}
	if req.Params.ContentType != nil {
		f.ContentType = *req.Params.ContentType
	}
	if req.Params.NamePrefix != nil {
		f.NamePrefix = *req.Params.NamePrefix
	}
	page, err := s.deps.Files.List(ctx, req.TeamId, f, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, fileOut)
	return api.ListFiles200JSONResponse{Body: api.FileList{Items: items, NextCursor: next}}, nil
}

// GetFile implements api.StrictServerInterface.
func (s *Server) GetFile(ctx context.Context, req api.GetFileRequestObject) (api.GetFileResponseObject, error) {
	f, err := s.deps.Files.Get(ctx, req.TeamId, req.FileId)
	if err != nil {
		return nil, err
	}
	etag := f.ETag()
	if domain.NoneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetFile304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetFile200JSONResponse{Body: fileOut(f), Headers: api.GetFile200ResponseHeaders{ETag: &etag}}, nil
}

// DeleteFile implements api.StrictServerInterface.
func (s *Server) DeleteFile(ctx context.Context, req api.DeleteFileRequestObject) (api.DeleteFileResponseObject, error) {
	if err := s.deps.Files.Delete(ctx, req.TeamId, req.FileId); err != nil {
		return nil, err
	}
	return api.DeleteFile204Response{}, nil
}

// DownloadFile implements api.StrictServerInterface.
func (s *Server) DownloadFile(ctx context.Context, req api.DownloadFileRequestObject) (api.DownloadFileResponseObject, error) {
	if req.Params.Delivery == nil || *req.Params.Delivery == api.DownloadFileParamsDeliveryRedirect {
		url, err := s.deps.Files.DownloadURL(ctx, req.TeamId, req.FileId)
		if err != nil {
			return nil, err
		}
		return api.DownloadFile302Response{Headers: api.DownloadFile302ResponseHeaders{Location: &url}}, nil
	}
	rng := ""
	if req.Params.Range != nil {
		rng = *req.Params.Range
	}
	c, err := s.deps.Files.Open(ctx, req.TeamId, req.FileId, rng)
	if err != nil {
		return nil, err
	}
	if c.ContentRange != "" {
		return fileRange206(c.Download, api.DownloadFile206ResponseHeaders{ContentRange: &c.ContentRange,
			ContentDisposition: &c.ContentDisposition, ContentLength: &c.Length}), nil
	}
	etag, ranges := c.File.ETag(), "bytes"
	return fileContent200(c.Download, api.DownloadFile200ResponseHeaders{ETag: &etag, AcceptRanges: &ranges,
		ContentDisposition: &c.ContentDisposition, ContentLength: &c.Length}), nil
}

// A streamed download goes out as one of the media types the API
// description lists for it, the one storage's presentation chose
// (domain.Download.ContentType): an inline image or text type, or
// application/octet-stream for everything else. The strict server copies
// Body to the client; closing it is ours (closeOnEOF).

// mediaType is the type of a Content-Type value, without its parameters.
func mediaType(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// fileContent200 is a whole file, streamed.
func fileContent200(d domain.Download, h api.DownloadFile200ResponseHeaders) api.DownloadFileResponseObject {
	r := api.DownloadFile200ApplicationoctetStreamResponse{Body: closeOnEOF{d.Body}, Headers: h, ContentLength: d.Length}
	switch mediaType(d.ContentType) {
	case "image/png":
		return api.DownloadFile200ImagepngResponse(r)
	case "image/jpeg":
		return api.DownloadFile200ImagejpegResponse(r)
	case "image/gif":
		return api.DownloadFile200ImagegifResponse(r)
	case "image/webp":
		return api.DownloadFile200ImagewebpResponse(r)
	case "text/plain":
		return api.DownloadFile200TextResponse{Body: r.Body, Headers: h, ContentType: d.ContentType, ContentLength: d.Length}
	}
	return r
}

// fileRange206 is a range of a file, streamed.
func fileRange206(d domain.Download, h api.DownloadFile206ResponseHeaders) api.DownloadFileResponseObject {
	r := api.DownloadFile206ApplicationoctetStreamResponse{Body: closeOnEOF{d.Body}, Headers: h, ContentLength: d.Length}
	switch mediaType(d.ContentType) {
	case "image/png":
		return api.DownloadFile206ImagepngResponse(r)
	case "image/jpeg":
		return api.DownloadFile206ImagejpegResponse(r)
	case "image/gif":
		return api.DownloadFile206ImagegifResponse(r)
	case "image/webp":
		return api.DownloadFile206ImagewebpResponse(r)
	case "text/plain":
		return api.DownloadFile206TextResponse{Body: r.Body, Headers: h, ContentType: d.ContentType, ContentLength: d.Length}
	}
	return r
}

// closeOnEOF closes the object body once it has been read to its end or
// failed, so the S3 connection goes back to the pool. It is a Closer too,
// which the generated response closes when it stops early (a client that
// hung up).
type closeOnEOF struct{ rc io.ReadCloser }

func (c closeOnEOF) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if err != nil {
		_ = c.rc.Close()
	}
	return n, err
}

// Close closes the object body; closing it again is harmless.
func (c closeOnEOF) Close() error { return c.rc.Close() }

func uploadOut(u domain.Upload) api.Upload {
	out := api.Upload{Id: u.ID, TeamId: u.TeamID, Name: u.Name, Size: u.Size, Method: api.UploadMethodSingle, ExpiresAt: u.ExpiresAt,
		Parts: make([]api.UploadPart, len(u.Parts))}
	if u.Multipart() {
		out.Method, out.PartSize = api.UploadMethodMultipart, &u.PartSize
	}
	for i, p := range u.Parts {
		out.Parts[i] = api.UploadPart{PartNumber: int32(p.Number), Url: p.URL}
	}
	return out
}

// CreateUpload implements api.StrictServerInterface.
func (s *Server) CreateUpload(ctx context.Context, req api.CreateUploadRequestObject) (api.CreateUploadResponseObject, error) {
	sha := ""
	if req.Body.Sha256 != nil {
		sha = *req.Body.Sha256
	}
	u, err := s.deps.Files.CreateUpload(ctx, req.TeamId, req.Body.Name, req.Body.Size, sha)
	if err != nil {
		return nil, err
	}
	return api.CreateUpload201JSONResponse{Body: uploadOut(u)}, nil
}

// CompleteUpload implements api.StrictServerInterface.
func (s *Server) CompleteUpload(ctx context.Context, req api.CompleteUploadRequestObject) (api.CompleteUploadResponseObject, error) {
	var parts []domain.CompletedPart
	if req.Body.Parts != nil {
		for _, p := range *req.Body.Parts {
			parts = append(parts, domain.CompletedPart{Number: int(p.PartNumber), ETag: p.Etag})
		}
	}
	f, err := s.deps.Files.CompleteUpload(ctx, req.TeamId, req.UploadId, parts)
	if err != nil {
		return nil, err
	}
	return api.CompleteUpload201JSONResponse{Body: fileOut(f)}, nil
}
