package conveyor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Client is a Conveyor API client. The embedded generated client exposes
// every operation; the methods below return the resource or an error, and
// every non-2xx answer as a *Problem.
type Client struct {
	*ClientWithResponses

	// direct makes the same calls but hands back a redirect instead of
	// following it (downloads follow it themselves, without credentials).
	direct *GeneratedClient
	// storage fetches and sends presigned URLs: no credential of ours
	// ever goes to the storage host.
	storage *http.Client
	// retry is the policy, also for presigned URLs.
	retry RetryPolicy
}

// Option configures a Client.
type Option func(*options)

type options struct {
	retry      RetryPolicy
	apiKey     string
	token      func(ctx context.Context) (string, error)
	httpClient HttpRequestDoer
	userAgent  string
}

// WithToken authenticates every request with a fixed bearer token.
func WithToken(token string) Option {
	return func(o *options) { o.token = func(context.Context) (string, error) { return token, nil } }
}

// WithAPIKey authenticates every request with an API key's secret, sent
// as X-API-Key.
func WithAPIKey(secret string) Option { return func(o *options) { o.apiKey = secret } }

// WithTokenSource authenticates every request with a token from src, called
// per request (so it may refresh).
func WithTokenSource(src func(ctx context.Context) (string, error)) Option {
	return func(o *options) { o.token = src }
}

// WithDoer sends requests through d (an *http.Client, say). Give an
// *http.Client without a Timeout if you use Events: a timeout cuts a
// long-lived stream. When d is an *http.Client, downloads do not let it
// follow the API's redirects to storage (which would carry the X-API-Key
// header along); they fetch the presigned URL through d's Transport with
// no credentials instead. Any other doer must not follow redirects.
func WithDoer(d HttpRequestDoer) Option { return func(o *options) { o.httpClient = d } }

// New returns a client for the Conveyor at baseURL (with or without the
// /api/v1 suffix).
func New(baseURL string, opts ...Option) (*Client, error) {
	o := options{httpClient: &http.Client{Timeout: 0}, userAgent: "conveyor-go"}
	for _, f := range opts {
		f(&o)
	}
	base := strings.TrimRight(baseURL, "/")
	if !strings.HasSuffix(base, "/api/v1") {
		base += "/api/v1"
	}
	editor := func(ctx context.Context, req *http.Request) error {
		req.Header.Set("User-Agent", o.userAgent)
		if o.apiKey != "" {
			req.Header.Set("X-API-Key", o.apiKey)
		}
		if o.token == nil {
			return nil
		}
		tok, err := o.token(ctx)
		if err != nil {
			return fmt.Errorf("conveyor: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
	doer, direct := o.httpClient, o.httpClient
	storage := &http.Client{}
	if hc, ok := o.httpClient.(*http.Client); ok {
		noFollow := *hc
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		direct = &noFollow
		storage = &http.Client{Transport: hc.Transport, Timeout: hc.Timeout}
	}
	if o.retry.MaxRetries >= 0 {
		doer = retrying{next: doer, policy: o.retry}
		direct = retrying{next: direct, policy: o.retry}
	}
	gen, err := NewClientWithResponses(base, WithHTTPClient(doer), WithRequestEditorFn(editor))
	if err != nil {
		return nil, err
	}
	dc, err := NewClient(base, WithHTTPClient(direct), WithRequestEditorFn(editor))
	if err != nil {
		return nil, err
	}
	return &Client{ClientWithResponses: gen, direct: dc, storage: storage, retry: o.retry.withDefaults()}, nil
}

// Error makes the API's problem document an error: every non-2xx answer
// comes back as a *Problem, to be had with errors.As.
func (p *Problem) Error() string {
	msg := fmt.Sprintf("conveyor: %d %s", p.Status, p.Title)
	if p.Detail != nil && *p.Detail != "" {
		msg += ": " + *p.Detail
	}
	if p.RequestId != nil && *p.RequestId != "" {
		msg += " (request " + *p.RequestId + ")"
	}
	return msg
}

// problemFrom builds the error for a non-2xx answer, from its problem
// document when it has one.
func problemFrom(resp *http.Response, body []byte) error {
	var p Problem
	if json.Unmarshal(body, &p) != nil || p.Title == "" {
		p = Problem{Type: "about:blank", Title: http.StatusText(resp.StatusCode)}
	}
	p.Status = int32(resp.StatusCode)
	if p.RequestId == nil {
		if id := resp.Header.Get("X-Request-ID"); id != "" {
			p.RequestId = &id
		}
	}
	return &p
}

// result returns v when the answer was 2xx and v is set, else the problem.
func result[T any](resp *http.Response, body []byte, v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || v == nil {
		return nil, problemFrom(resp, body)
	}
	return v, nil
}

// Me returns the caller.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	r, err := c.GetMeWithResponse(ctx)
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON200, nil)
}

// CreateTeam creates a team (platform admins only).
func (c *Client) CreateTeam(ctx context.Context, name string) (*Team, error) {
	r, err := c.CreateTeamWithResponse(ctx, &CreateTeamParams{IdempotencyKey: newIdempotencyKey()}, CreateTeamJSONRequestBody{Name: name})
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON201, nil)
}

// Team returns a team.
func (c *Client) Team(ctx context.Context, teamID uuid.UUID) (*Team, error) {
	r, err := c.GetTeamWithResponse(ctx, teamID, nil)
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON200, nil)
}

// File returns a file's metadata.
func (c *Client) File(ctx context.Context, teamID, fileID uuid.UUID) (*File, error) {
	r, err := c.GetFileWithResponse(ctx, teamID, fileID, nil)
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON200, nil)
}

// UploadFile stores content in the team as a file called name. By default
// the bytes stream through the API, written as they are read (never held
// in memory); when content is an io.Seeker (a file, a bytes.Reader) a
// failed attempt is retried from where content was, like any other
// request, and otherwise not (WithProgress then counts again from 0).
// With WithSize of at least DirectThreshold bytes, or with
// WithDirect, they go straight to storage instead (in parts when large,
// one part in memory at a time).
// WithProgress reports the bytes sent.
func (c *Client) UploadFile(ctx context.Context, teamID uuid.UUID, name string, content io.Reader, opts ...UploadOption) (*File, error) {
	var o uploadOptions
	for _, f := range opts {
		f(&o)
	}
	src := newSource(content, o.progress)
	if o.size >= DirectThreshold || o.direct && o.size > 0 {
		return c.uploadDirect(ctx, teamID, name, src, o.size)
	}
	form := &multipartStream{src: src, name: name, boundary: multipart.NewWriter(io.Discard).Boundary()}
	defer form.stop()
	r, err := c.UploadFileWithBodyWithResponse(ctx, teamID, &UploadFileParams{IdempotencyKey: newIdempotencyKey()},
		"multipart/form-data; boundary="+form.boundary, form.open(), func(_ context.Context, req *http.Request) error {
			if src.seeker != nil {
				req.GetBody = form.reopen
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON201, nil)
}

// CreateJob queues a job.
func (c *Client) CreateJob(ctx context.Context, teamID uuid.UUID, job JobCreate) (*Job, error) {
	r, err := c.CreateJobWithResponse(ctx, teamID, &CreateJobParams{IdempotencyKey: newIdempotencyKey()}, job)
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON202, nil)
}

// Job returns a job.
func (c *Client) Job(ctx context.Context, teamID, jobID uuid.UUID) (*Job, error) {
	r, err := c.GetJobWithResponse(ctx, teamID, jobID, nil)
	if err != nil {
		return nil, err
	}
	return result(r.HTTPResponse, r.Body, r.JSON200, nil)
}

// Final reports whether the job has reached a final state.
func (j *Job) Final() bool {
	return j.Status == JobStatusSucceeded || j.Status == JobStatusFailed || j.Status == JobStatusCancelled
}

// ErrJobNotFinished is returned by WaitForJob when ctx ends first.
var ErrJobNotFinished = errors.New("conveyor: job not finished")

// WaitForJob polls the job every interval (1 s when zero) until it reaches
// a final state, and returns it. It returns an error wrapping
// ErrJobNotFinished and ctx's error when ctx ends first. WatchJob waits
// on the team's event stream instead of polling, and sees the progress.
func (c *Client) WaitForJob(ctx context.Context, teamID, jobID uuid.UUID, interval time.Duration) (*Job, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		j, err := c.Job(ctx, teamID, jobID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrJobNotFinished, ctx.Err())
			}
			return nil, err
		}
		if j.Final() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, fmt.Errorf("%w: %w", ErrJobNotFinished, ctx.Err())
		case <-t.C:
		}
	}
}

// newIdempotencyKey returns a fresh Idempotency-Key for a creating call, so
// that retrying the same call cannot create twice.
func newIdempotencyKey() *IdempotencyKey {
	k := IdempotencyKey(uuid.NewString())
	return &k
}
