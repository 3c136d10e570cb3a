package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"

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
		f, err := s.deps.Files.Upload(ctx, req.TeamId, part.FileName(), part)
		_ = part.Close()
		if err != nil {
			return nil, err
		}
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
	page, err := s.deps.Files.List(ctx, req.TeamId, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, fileOut)
	return api.ListFiles200JSONResponse{Items: items, NextCursor: next}, nil
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
