package httpapi

import (
	"context"
	"encoding/json"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func jobOut(j domain.Job) api.Job {
	out := api.Job{Id: j.ID, TeamId: j.TeamID, FileId: j.FileID, Processor: j.Processor, Status: api.JobStatus(j.Status),
		Progress: int32(j.Progress), Attempts: int32(j.Attempts), CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Params: map[string]any{}}
	_ = json.Unmarshal(j.Params, &out.Params)
	if len(j.Result) > 0 {
		var res map[string]any
		if json.Unmarshal(j.Result, &res) == nil {
			out.Result = &res
		}
	}
	if j.Error != nil {
		out.Error = &api.JobError{Code: j.Error.Code, Message: j.Error.Message, Retryable: j.Error.Retryable}
	}
	return out
}

// CreateJob implements api.StrictServerInterface.
func (s *Server) CreateJob(ctx context.Context, req api.CreateJobRequestObject) (api.CreateJobResponseObject, error) {
	var params json.RawMessage
	if req.Body.Params != nil {
		b, err := json.Marshal(*req.Body.Params)
		if err != nil {
			return nil, domain.Wrap(err, domain.CodeInvalid, "params could not be read.")
		}
		params = b
	}
	j, err := s.deps.Jobs.Create(ctx, req.TeamId, req.Body.FileId, req.Body.Processor, params)
	if err != nil {
		return nil, err
	}
	loc := "/api/v1/teams/" + j.TeamID.String() + "/jobs/" + j.ID.String()
	return api.CreateJob202JSONResponse{Body: jobOut(j), Headers: api.CreateJob202ResponseHeaders{Location: &loc}}, nil
}

// GetJob implements api.StrictServerInterface.
func (s *Server) GetJob(ctx context.Context, req api.GetJobRequestObject) (api.GetJobResponseObject, error) {
	j, err := s.deps.Jobs.Get(ctx, req.TeamId, req.JobId)
	if err != nil {
		return nil, err
	}
	etag := j.ETag()
	if domain.NoneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetJob304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetJob200JSONResponse{Body: jobOut(j), Headers: api.GetJob200ResponseHeaders{ETag: &etag}}, nil
}

// ListJobs implements api.StrictServerInterface.
func (s *Server) ListJobs(ctx context.Context, req api.ListJobsRequestObject) (api.ListJobsResponseObject, error) {
	scope := "ListJobs:" + req.TeamId.String()
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Jobs.List(ctx, req.TeamId, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, jobOut)
	return api.ListJobs200JSONResponse{Body: api.JobList{Items: items, NextCursor: next}}, nil
}

// CancelJob implements api.StrictServerInterface.
func (s *Server) CancelJob(ctx context.Context, req api.CancelJobRequestObject) (api.CancelJobResponseObject, error) {
	j, err := s.deps.Jobs.Cancel(ctx, req.TeamId, req.JobId)
	if err != nil {
		return nil, err
	}
	return api.CancelJob200JSONResponse{Body: jobOut(j)}, nil
}

// RetryJob implements api.StrictServerInterface.
func (s *Server) RetryJob(ctx context.Context, req api.RetryJobRequestObject) (api.RetryJobResponseObject, error) {
	j, err := s.deps.Jobs.Retry(ctx, req.TeamId, req.JobId)
	if err != nil {
		return nil, err
	}
	return api.RetryJob202JSONResponse{Body: jobOut(j)}, nil
}

// ListJobOutputs implements api.StrictServerInterface.
func (s *Server) ListJobOutputs(ctx context.Context, req api.ListJobOutputsRequestObject) (api.ListJobOutputsResponseObject, error) {
	outs, err := s.deps.Jobs.Outputs(ctx, req.TeamId, req.JobId)
	if err != nil {
		return nil, err
	}
	items := make([]api.JobOutput, len(outs))
	for i, o := range outs {
		items[i] = api.JobOutput{Name: o.Name, Size: o.Size, ContentType: o.ContentType}
	}
	return api.ListJobOutputs200JSONResponse{Body: api.JobOutputList{Items: items}}, nil
}

// DownloadJobOutput implements api.StrictServerInterface.
func (s *Server) DownloadJobOutput(ctx context.Context, req api.DownloadJobOutputRequestObject) (api.DownloadJobOutputResponseObject, error) {
	if req.Params.Delivery == nil || *req.Params.Delivery == api.DownloadJobOutputParamsDeliveryRedirect {
		url, err := s.deps.Jobs.OutputURL(ctx, req.TeamId, req.JobId, req.Name)
		if err != nil {
			return nil, err
		}
		return api.DownloadJobOutput302Response{Headers: api.DownloadJobOutput302ResponseHeaders{Location: &url}}, nil
	}
	d, err := s.deps.Jobs.OpenOutput(ctx, req.TeamId, req.JobId, req.Name)
	if err != nil {
		return nil, err
	}
	return output200(d, api.DownloadJobOutput200ResponseHeaders{ContentDisposition: &d.ContentDisposition, ContentLength: &d.Length}), nil
}

// output200 is a job output, streamed, as one of the media types the API
// description lists (see fileContent200).
func output200(d domain.Download, h api.DownloadJobOutput200ResponseHeaders) api.DownloadJobOutputResponseObject {
	r := api.DownloadJobOutput200ApplicationoctetStreamResponse{Body: closeOnEOF{d.Body}, Headers: h, ContentLength: d.Length}
	switch mediaType(d.ContentType) {
	case "image/png":
		return api.DownloadJobOutput200ImagepngResponse(r)
	case "image/jpeg":
		return api.DownloadJobOutput200ImagejpegResponse(r)
	case "image/gif":
		return api.DownloadJobOutput200ImagegifResponse(r)
	case "image/webp":
		return api.DownloadJobOutput200ImagewebpResponse(r)
	case "text/plain":
		return api.DownloadJobOutput200TextResponse{Body: r.Body, Headers: h, ContentType: d.ContentType, ContentLength: d.Length}
	}
	return r
}
