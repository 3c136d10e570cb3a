package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/httpapi"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/processors"
	"github.com/conveyorhq/conveyor/internal/teams"
	"github.com/conveyorhq/conveyor/openapi"
)

// FuzzRequest drives the real HTTP surface (httpapi.NewHandler: request id,
// recovery, authentication, the contract, the generated strict handler)
// with requests parsed from the wire exactly as net/http's server parses
// them. The caller is always a platform admin and every authorization
// succeeds; the domain services have no store, so a request that gets past
// the contract ends in a recovered nil-pointer panic where the service
// first touches its store — that is the boundary this target stops at.
//
// Invariants, for every request net/http would hand to the handler:
//   - nothing panics before the domain (a panic is recovered into a 500
//     and logged; only the nil-store panic of an accepted request is
//     expected);
//   - a request that the API description rejects (no route, a malformed
//     query, a media type the operation does not take, or a finding of
//     openapi3filter.ValidateRequest with the server's options) is answered
//     4xx and never reaches the domain;
//   - no other 5xx;
//   - every 4xx and 5xx is application/problem+json with type, title,
//     status (the HTTP status) and request_id (the X-Request-ID header),
//     and the document matches the Problem schema ("problem-schema");
//   - under /api/v1 the answer is one the description declares for the
//     operation (apptest.CheckResponse, "undeclared").
//
// The named invariants can be downgraded to a log line, to explore past a
// known finding: go test -run '^$' -fuzz FuzzRequest ./internal/httpapi/
// -args -httpfuzz.tolerate=problem-schema,undeclared
var fuzzTolerate = flag.String("httpfuzz.tolerate", "", "comma-separated invariants FuzzRequest only logs: problem-schema, undeclared")

const fuzzTeam = "0b9c1b5e-3f44-4c39-9a53-6a0e6f0a1c11"

func FuzzRequest(f *testing.F) {
	h := fuzzHarness(f)
	for _, s := range append(fuzzSeeds(), h.specSeeds...) {
		f.Add(s.method, s.target, s.ctype, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, target, ctype, header string, body []byte) {
		h.check(t, method, target, ctype, header, body)
	})
}

type harness struct {
	handler http.Handler
	router  routers.Router
	problem *openapi3.Schema
	ops     []string // operation ids, lower case
	// specSeeds are a plausible request for every operation of the
	// description, so one added tomorrow is fuzzed from tomorrow.
	specSeeds []fuzzSeed
	logs      *fuzzLogs
	tolerate  map[string]bool
}

var (
	harnessOnce sync.Once
	harnessVal  *harness
	harnessErr  error
)

func fuzzHarness(tb testing.TB) *harness {
	tb.Helper()
	harnessOnce.Do(func() { harnessVal, harnessErr = newHarness() })
	if harnessErr != nil {
		tb.Fatal(harnessErr)
	}
	return harnessVal
}

func newHarness() (*harness, error) {
	doc, err := api.GetSpec()
	if err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	reg, err := processors.Default()
	if err != nil {
		return nil, err
	}
	logs := &fuzzLogs{}
	roles, err := authz.FromYAML(openapi.V1YAML)
	if err != nil {
		return nil, err
	}
	allow := authz.New(roles, fuzzAllow{})
	admin := fuzzAuth{&domain.Principal{UserID: uuid.MustParse("3d8b8c36-77f2-4c35-9a8e-1b7f3b1f0c01"), Issuer: "https://issuer.test",
		Subject: "fuzz", Email: "fuzz@example.test", Name: "Fuzz", Method: domain.AuthOIDC, PlatformAdmin: true}}
	h, err := httpapi.NewHandler(httpapi.Deps{
		// Services without stores: the domain is where this target stops.
		Teams:         &teams.Service{Policy: allow},
		Files:         &files.Service{Policy: allow},
		Jobs:          &jobs.Service{Policy: allow, Processors: reg},
		Processors:    reg,
		Authenticator: admin,
		APIKeys:       admin,
		Authorizer:    fuzzAllow{},
		Metrics:       observe.NewMetrics(),
		Logger:        slog.New(logs),
		CursorKey:     []byte("fuzz-cursor-key-0123456789abcdef"),
	})
	if err != nil {
		return nil, err
	}
	ps := doc.Components.Schemas["Problem"]
	if ps == nil || ps.Value == nil {
		return nil, fmt.Errorf("the spec has no Problem schema")
	}
	var ops []string
	var seeds []fuzzSeed
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			ops = append(ops, strings.ToLower(op.OperationID))
			seeds = append(seeds, specSeed(method, path, op))
		}
	}
	sort.Slice(seeds, func(i, j int) bool { return seeds[i].method+seeds[i].target < seeds[j].method+seeds[j].target })
	tol := map[string]bool{}
	for _, name := range strings.Split(*fuzzTolerate, ",") {
		if name = strings.TrimSpace(name); name != "" {
			tol[name] = true
		}
	}
	return &harness{handler: h, router: router, problem: ps.Value, ops: ops, specSeeds: seeds, logs: logs, tolerate: tol}, nil
}

// wire is the request as a client sends it; what net/http's server would
// refuse to parse never reaches the handler, so it is skipped.
func wire(method, target, ctype, header string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: conveyor.test\r\nAuthorization: Bearer fuzz\r\n", method, target)
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	if header != "" {
		fmt.Fprintf(&b, "%s\r\n", header)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}

// parse reads raw as net/http's server does, with its checks on header
// names and values (ReadRequest itself refuses a second Host header).
func parse(raw []byte) (*http.Request, bool) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil || req.ProtoMajor != 1 || req.Host == "" {
		return nil, false
	}
	for k, vs := range req.Header {
		if !validFieldName(k) {
			return nil, false
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				return nil, false
			}
		}
	}
	req.RemoteAddr = "192.0.2.1:1234"
	return req, true
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func (h *harness) check(t *testing.T, method, target, ctype, header string, body []byte) {
	raw := wire(method, target, ctype, header, body)
	req, ok := parse(raw)
	if !ok {
		return
	}
	mirror, _ := parse(raw)
	rejected, why := h.rejects(mirror)

	h.logs.take()
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	resp := rec.Result()
	got := rec.Body.Bytes()
	logs := h.logs.take()

	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s\n  request: %q\n  status %d %q: %s", fmt.Sprintf(format, args...), fuzzCut(string(raw), 2000),
			resp.StatusCode, resp.Header.Get("Content-Type"), fuzzCut(string(got), 1000))
	}
	soft := func(name, format string, args ...any) {
		t.Helper()
		if h.tolerate[name] {
			t.Logf("tolerated %s: %s", name, fmt.Sprintf(format, args...))
			return
		}
		fail("%s: %s", name, fmt.Sprintf(format, args...))
	}

	reachedDomain := false
	for _, l := range logs {
		if !strings.Contains(l, "panic:") {
			continue
		}
		if h.nilStorePanic(l) {
			reachedDomain = true
			continue
		}
		fail("a panic before the domain: %s", fuzzCut(l, 3000))
	}
	switch {
	case rejected && reachedDomain:
		fail("the request reached the domain, yet the description rejects it (%s)", why)
	case rejected && (resp.StatusCode < 400 || resp.StatusCode >= 500):
		fail("status %d for a request the description rejects (%s)", resp.StatusCode, why)
	case resp.StatusCode >= 500 && !reachedDomain:
		fail("a server error")
	}

	if resp.Header.Get("X-Request-ID") == "" {
		fail("no X-Request-ID")
	}
	if resp.StatusCode >= 400 {
		if err := h.problemDoc(resp, got); err != nil {
			fail("%v", err)
		} else if err := h.problem.VisitJSON(fuzzDecode(got)); err != nil {
			soft("problem-schema", "the problem is outside the Problem schema: %s", firstLine(err))
		}
	}
	if p := mirror.URL.Path; strings.HasPrefix(p, "/api/v1/") && !strings.HasPrefix(p, "/api/v1/openapi.") {
		check, _ := parse(raw)
		if err := apptest.CheckResponse(check, fuzzResponse(resp, got)); err != nil {
			soft("undeclared", "the answer is not one the description declares: %s", firstLine(err))
		}
	}
}

// rejects reports whether the API description refuses req, the way the
// server's contract middleware asks it, and why.
func (h *harness) rejects(req *http.Request) (bool, string) {
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		if strings.HasPrefix(req.URL.Path, "/api/v1/") && !strings.HasPrefix(req.URL.Path, "/api/v1/openapi.") {
			return true, "no route: " + err.Error()
		}
		return false, "" // health, metrics, docs: outside the description
	}
	if _, err := url.ParseQuery(req.URL.RawQuery); err != nil {
		return true, "malformed query"
	}
	opts := &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	if rb := route.Operation.RequestBody; rb != nil && rb.Value != nil && req.Body != nil && req.Body != http.NoBody {
		mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if rb.Value.Content.Get(mt) == nil {
			return true, "media type " + mt
		}
		if strings.HasPrefix(mt, "multipart/") {
			opts.ExcludeRequestBody = true
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return true, "validation: " + fuzzCut(err.Error(), 300)
	}
	return false, ""
}

// nilStorePanic reports whether a logged panic is the expected one: a nil
// dereference inside an operation's handler, where a service reached for
// the store this target does not give it.
func (h *harness) nilStorePanic(l string) bool {
	if !strings.Contains(l, "nil pointer dereference") {
		return false
	}
	lower := strings.ToLower(l)
	for _, op := range h.ops {
		if strings.Contains(lower, "httpapi.(*server)."+op+"(") {
			return true
		}
	}
	return false
}

func (h *harness) problemDoc(resp *http.Response, body []byte) error {
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Errorf("a %d with Content-Type %q, not application/problem+json", resp.StatusCode, ct)
	}
	var p struct {
		Type      string `json:"type"`
		Title     string `json:"title"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("the problem is not JSON: %v", err)
	}
	switch {
	case p.Type == "" || p.Title == "":
		return fmt.Errorf("the problem has no type or title")
	case p.Status != resp.StatusCode:
		return fmt.Errorf("the problem says status %d", p.Status)
	case p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-ID"):
		return fmt.Errorf("the problem's request_id %q is not the X-Request-ID %q", p.RequestID, resp.Header.Get("X-Request-ID"))
	}
	return nil
}

func fuzzResponse(resp *http.Response, body []byte) *http.Response {
	out := *resp
	out.Body = io.NopCloser(bytes.NewReader(body))
	return &out
}

func fuzzDecode(b []byte) any {
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return fuzzCut(s, 500)
}

func fuzzCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}

type fuzzAuth struct{ p *domain.Principal }

func (a fuzzAuth) Authenticate(context.Context, string) (*domain.Principal, error) { return a.p, nil }

type fuzzAllow struct{}

func (fuzzAllow) Authorize(context.Context, *domain.Principal, domain.Requirement, *uuid.UUID) error {
	return nil
}

// fuzzLogs keeps what the handler logs at warning and above, for the
// panics the recoverer turns into 500s.
type fuzzLogs struct {
	mu   sync.Mutex
	recs []string
}

func (l *fuzzLogs) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }

func (l *fuzzLogs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Any())
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *fuzzLogs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *fuzzLogs) WithGroup(string) slog.Handler      { return l }

func (l *fuzzLogs) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.recs
	l.recs = nil
	return out
}
