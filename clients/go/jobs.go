package conveyor

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
)

// CancelJob cancels a queued or running job and returns it, now cancelled:
// a queued job never runs, a running one is stopped and nothing it
// produced is kept. Cancelling a cancelled job returns it unchanged. A job
// that already succeeded or failed cannot be cancelled: the error is then
// a *Problem with Status 409.
func (c *Client) CancelJob(ctx context.Context, teamID, jobID uuid.UUID) (*Job, error) {
	r, err := c.CancelJobWithResponse(ctx, teamID, jobID, &CancelJobParams{IdempotencyKey: newIdempotencyKey()})
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON200, nil)
}

// RetryJob queues a failed or cancelled job again, with the same processor
// and params, and returns it (queued, its error and progress cleared, its
// attempts still counting). A queued, running or succeeded job cannot be
// retried: the error is then a *Problem with Status 409.
func (c *Client) RetryJob(ctx context.Context, teamID, jobID uuid.UUID) (*Job, error) {
	r, err := c.RetryJobWithResponse(ctx, teamID, jobID, &RetryJobParams{IdempotencyKey: newIdempotencyKey()})
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON202, nil)
}

// JobOutputs returns the files a job produced (a thumbnail, normalised
// rows, an export), by name; none until the job has succeeded. Open one
// with OpenJobOutput.
func (c *Client) JobOutputs(ctx context.Context, teamID, jobID uuid.UUID) ([]JobOutput, error) {
	r, err := c.ListJobOutputsWithResponse(ctx, teamID, jobID)
	if err != nil {
		return nil, err
	}
	l, err := result(r.HTTPResponse, r.Body, r.JSON200, nil)
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// DownloadOption tunes OpenJobOutput and OpenFile.
type DownloadOption func(*downloadOptions)

type downloadOptions struct{ stream bool }

// WithStreamDelivery has the API stream the bytes itself (delivery=stream),
// on its own origin, instead of redirecting to storage: for a client that
// cannot reach storage, or may not (a proxy, a firewall, a browser's
// Content-Security-Policy).
func WithStreamDelivery() DownloadOption { return func(o *downloadOptions) { o.stream = true } }

func downloadOpts(opts []DownloadOption) downloadOptions {
	var o downloadOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// OpenJobOutput opens the job's output called name (as JobOutputs lists
// it) for reading; the caller closes it. By default the API answers with a
// short-lived presigned URL in storage, which is fetched without any of
// the client's credentials; WithStreamDelivery reads it through the API
// instead. An unknown job or name is a *Problem with Status 404; a failure
// of storage is an error carrying its status.
func (c *Client) OpenJobOutput(ctx context.Context, teamID, jobID uuid.UUID, name string, opts ...DownloadOption) (io.ReadCloser, error) {
	var params DownloadJobOutputParams
	if downloadOpts(opts).stream {
		d := DownloadJobOutputParamsDeliveryStream
		params.Delivery = &d
	}
	resp, err := c.direct.DownloadJobOutput(ctx, teamID, jobID, name, &params)
	if err != nil {
		return nil, err
	}
	return c.follow(ctx, resp)
}

// OpenFile opens a file's content for reading; the caller closes it. Like
// OpenJobOutput, it follows the API's redirect to storage without the
// client's credentials, or with WithStreamDelivery reads it through the
// API.
func (c *Client) OpenFile(ctx context.Context, teamID, fileID uuid.UUID, opts ...DownloadOption) (io.ReadCloser, error) {
	var params DownloadFileParams
	if downloadOpts(opts).stream {
		d := DownloadFileParamsDeliveryStream
		params.Delivery = &d
	}
	resp, err := c.direct.DownloadFile(ctx, teamID, fileID, &params)
	if err != nil {
		return nil, err
	}
	return c.follow(ctx, resp)
}

// follow returns the body of a download: the API's own 2xx body, or what
// storage answers at the URL of a redirect, fetched by a client that sends
// no credentials.
func (c *Client) follow(ctx context.Context, resp *http.Response) (io.ReadCloser, error) {
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		return resp.Body, nil
	case code == http.StatusMovedPermanently, code == http.StatusFound, code == http.StatusSeeOther,
		code == http.StatusTemporaryRedirect, code == http.StatusPermanentRedirect:
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("conveyor: %d answer without a usable Location: %w", code, err)
		}
		sresp, err := c.toStorage(ctx, http.MethodGet, loc.String(), nil, 0)
		if err != nil {
			return nil, err
		}
		return sresp.Body, nil
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, problemFrom(resp, body)
	}
}
