package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/conveyorhq/conveyor/gen/api"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func router() (routers.Router, error) {
	specOnce.Do(func() {
		var doc *openapi3.T
		if doc, specErr = api.GetSpec(); specErr != nil {
			return
		}
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	return specRouter, specErr
}

// Client returns an HTTP client whose every response under /api/v1 is
// checked against the API description: status declared for the operation,
// headers and body matching their schemas. A violation fails tb.
func (e *Env) Client(tb testing.TB) *http.Client {
	return &http.Client{Transport: &conformance{tb: tb, next: http.DefaultTransport}}
}

type conformance struct {
	tb   testing.TB
	next http.RoundTripper
}

func (c *conformance) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/v1/") ||
		strings.HasPrefix(req.URL.Path, "/api/v1/openapi.") {
		return resp, err
	}
	if verr := CheckResponse(req, resp); verr != nil {
		c.tb.Errorf("response outside the spec: %s %s -> %d: %v", req.Method, req.URL.Path, resp.StatusCode, verr)
	}
	return resp, nil
}

// CheckResponse validates resp (to req) against the API description and
// leaves resp's body readable.
func CheckResponse(req *http.Request, resp *http.Response) error {
	r, err := router()
	if err != nil {
		return err
	}
	route, params, err := r.FindRoute(req)
	if err != nil {
		// Unknown paths and methods must still answer problem+json.
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			return fmt.Errorf("no route in spec and Content-Type %q is not problem+json", ct)
		}
		return nil
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream does not end: check status and headers here; tests
		// check each event's data against the Event schema (CheckEvent).
		coverage.record(route.Operation.OperationID, resp.StatusCode)
		return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
			Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: true},
		})
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	coverage.record(route.Operation.OperationID, resp.StatusCode)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		return fmt.Errorf("a %d answered %q, not application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Request-ID") == "" {
		return fmt.Errorf("no X-Request-ID header")
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// coverage records the operations and statuses the tests saw.
var coverage = &seen{m: map[string]map[int]int{}}

type seen struct {
	mu sync.Mutex
	m  map[string]map[int]int
}

func (s *seen) record(op string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[op] == nil {
		s.m[op] = map[int]int{}
	}
	s.m[op][status]++
}

// CoverageReport writes, for every operation of the spec, the statuses the
// tests of this process saw (through Env.Client) and how often, and
// returns the operations never exercised.
func CoverageReport(w io.Writer) (missing []string, err error) {
	doc, err := api.GetSpec()
	if err != nil {
		return nil, err
	}
	coverage.mu.Lock()
	defer coverage.mu.Unlock()
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, fmt.Sprintf("%s\t%s %s", op.OperationID, method, path))
		}
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "API coverage: operations and the statuses the tests saw (count)\n")
	for _, line := range ops {
		id := strings.SplitN(line, "\t", 2)[0]
		var sts []int
		for st := range coverage.m[id] {
			sts = append(sts, st)
		}
		sort.Ints(sts)
		var parts []string
		for _, st := range sts {
			parts = append(parts, fmt.Sprintf("%d(%d)", st, coverage.m[id][st]))
		}
		if len(parts) == 0 {
			missing = append(missing, id)
			parts = []string{"NOT EXERCISED"}
		}
		fmt.Fprintf(w, "%-60s %s\n", line, strings.Join(parts, " "))
	}
	return missing, nil
}

// CheckEvent validates an event stream's data (JSON) against the Event
// schema of the API description.
func CheckEvent(data []byte) error {
	doc, err := api.GetSpec()
	if err != nil {
		return err
	}
	ref := doc.Components.Schemas["Event"]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("the spec has no Event schema")
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return ref.Value.VisitJSON(v, openapi3.MultiErrors())
}
