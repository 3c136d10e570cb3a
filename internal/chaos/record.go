package chaos

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// An attempt is one HTTP request as it left the client: the SDK's retries
// are separate attempts of one call.
type attempt struct {
	op         string // the call's operation; "(storage)" appended for presigned URLs
	start, end time.Time
	status     int // 0: no answer (a network error)
	retryAfter bool
	err        string
}

// failed reports whether the client saw a failure: no answer, a 5xx, or
// a refusal to come back later (409 or 429 with Retry-After).
func (a attempt) failed() bool {
	return a.status == 0 || a.status >= 500 || (a.status == 409 || a.status == 429) && a.retryAfter
}

// A call is one SDK call made by a virtual client, with its attempts.
type call struct {
	op       string
	mu       sync.Mutex
	attempts []attempt
	ok       bool
	err      string
}

type callKey struct{}

// withCall labels the requests made under ctx as attempts of c.
func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// recorder is the transport under the SDK's retries: it sees every
// attempt and files it under the call of its context.
type recorder struct {
	next    http.RoundTripper
	apiHost string

	mu    sync.Mutex
	calls []*call
}

func newRecorder() *recorder {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &recorder{next: tr}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	if c == nil {
		return resp, err
	}
	a := attempt{op: c.op, start: start, end: time.Now()}
	if req.URL.Host != r.apiHost {
		a.op += " (storage)"
	}
	if err != nil {
		a.err = err.Error()
	} else {
		a.status = resp.StatusCode
		a.retryAfter = resp.Header.Get("Retry-After") != ""
	}
	c.mu.Lock()
	c.attempts = append(c.attempts, a)
	c.mu.Unlock()
	return resp, err
}

// do runs fn as one call named op and files its outcome.
func (r *recorder) do(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	c := &call{op: op}
	err := fn(withCall(ctx, c))
	c.mu.Lock()
	c.ok = err == nil
	if err != nil {
		c.err = err.Error()
	}
	c.mu.Unlock()
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return err
}

func (r *recorder) snapshot() []*call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*call(nil), r.calls...)
}
