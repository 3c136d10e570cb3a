package app_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/conveyorhq/conveyor/gen/api"
)

// The spec-driven fuzz test sends, for every operation of the API
// description, plausible and invalid requests built from the operation's
// parameters and body schema, as a platform admin, and checks that the
// program never answers 5xx, that every answer matches the description, and
// that every 4xx is a complete problem+json document. Operations are read
// from the spec at run time, so one added tomorrow is fuzzed the same day.
//
// It is bounded: a fixed list of mutations per parameter and property, a
// fixed number of random mutations per operation from a deterministic seed,
// and a cap per operation.

var (
	specFuzzSeed = flag.Uint64("specfuzz.seed", 20250601, "seed of TestSpecFuzz's random mutations")
	specFuzzLog  = flag.Bool("specfuzz.log", false, "log every request of TestSpecFuzz with its status")
)

const (
	specFuzzRandomCases = 30  // random mutations per operation
	specFuzzMaxCases    = 320 // cases per operation, at most
	// specFuzzHuge is over every body limit of the API (1 MiB for JSON).
	specFuzzHuge = 1<<20 + 1
	// specFuzzDeep is past encoding/json's nesting limit (10,000).
	specFuzzDeep = 10_001
)

// fuzzOp is one operation of the spec.
type fuzzOp struct {
	method, path, id string
	op               *openapi3.Operation
	params           []*openapi3.Parameter // the path item's and the operation's, the latter winning
	others           []string              // methods the path does not take
}

func fuzzOps(t *testing.T) []fuzzOp {
	t.Helper()
	doc, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	all := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	var ops []fuzzOp
	for path, item := range doc.Paths.Map() {
		var others []string
		for _, m := range all {
			if item.GetOperation(m) == nil {
				others = append(others, m)
			}
		}
		for method, op := range item.Operations() {
			byKey := map[string]*openapi3.Parameter{}
			var order []string
			for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, ref := range list {
					if ref == nil || ref.Value == nil {
						continue
					}
					k := ref.Value.In + ":" + ref.Value.Name
					if _, ok := byKey[k]; !ok {
						order = append(order, k)
					}
					byKey[k] = ref.Value
				}
			}
			params := make([]*openapi3.Parameter, 0, len(order))
			for _, k := range order {
				params = append(params, byKey[k])
			}
			ops = append(ops, fuzzOp{method: strings.ToUpper(method), path: path, id: op.OperationID, op: op, params: params, others: others})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		// Deleting operations last: they remove the ids the others use.
		if di, dj := ops[i].method == http.MethodDelete, ops[j].method == http.MethodDelete; di != dj {
			return dj
		} else if di {
			// ... and of those, the deepest first: deleting the team last.
			if ni, nj := strings.Count(ops[i].path, "/"), strings.Count(ops[j].path, "/"); ni != nj {
				return ni > nj
			}
		}
		if ops[i].id != ops[j].id {
			return ops[i].id < ops[j].id
		}
		return ops[i].method+ops[i].path < ops[j].method+ops[j].path
	})
	return ops
}

// fuzzReq is one request of the test.
type fuzzReq struct {
	name   string
	method string
	path   map[string]string // path parameter -> raw (already escaped) segment
	query  string            // raw query string
	header map[string]string // extra headers
	ctype  string            // "" sends none
	body   []byte            // nil sends none
	suffix string            // appended to the path
	noAuth bool
	// raw requests are refused by net/http's own limits (header bytes)
	// before the program sees them; they bypass the conformance client and
	// are only held to "no 5xx".
	raw bool
}

func (r fuzzReq) clone() fuzzReq {
	r.path = maps.Clone(r.path)
	r.header = maps.Clone(r.header)
	return r
}

func (r fuzzReq) url(base, template string) string {
	p := template
	for k, v := range r.path {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	u := base + "/api/v1" + p + r.suffix
	if r.query != "" {
		u += "?" + r.query
	}
	return u
}

// repro describes the request exactly enough to send it again; strings
// are Go-quoted.
func (r fuzzReq) repro(base, template string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", fuzzShort(r.method, 80), fuzzShort(r.url(base, template), 300))
	if !r.noAuth {
		b.WriteString(" Authorization=<admin token>")
	}
	for _, k := range slices.Sorted(maps.Keys(r.header)) {
		fmt.Fprintf(&b, " %s=%q", k, fuzzShort(r.header[k], 120))
	}
	if r.ctype != "" {
		fmt.Fprintf(&b, " Content-Type=%q", fuzzShort(r.ctype, 120))
	}
	if r.body != nil {
		fmt.Fprintf(&b, " body=%q", fuzzShort(string(r.body), 300))
	}
	return b.String()
}

func fuzzShort(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes in all)", len(s))
}

// fuzzRaw is JSON text spliced verbatim into a body.

// fuzzProblem checks a 4xx answer: problem+json with type, title, status
// and the request id of the response.
func fuzzProblem(schema *openapi3.Schema, resp *http.Response, body []byte) error {
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p struct {
		Type      *string `json:"type"`
		Title     *string `json:"title"`
		Status    *int    `json:"status"`
		RequestID *string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("problem body is not JSON: %v", err)
	}
	var doc any
	_ = json.Unmarshal(body, &doc)
	if err := schema.VisitJSON(doc); err != nil {
		return fmt.Errorf("problem outside the Problem schema: %s", fuzzShort(err.Error(), 400))
	}
	switch {
	case p.Type == nil || *p.Type == "":
		return fmt.Errorf("problem without type")
	case p.Title == nil || *p.Title == "":
		return fmt.Errorf("problem without title")
	case p.Status == nil || *p.Status != resp.StatusCode:
		return fmt.Errorf("problem status %v, HTTP status %d", p.Status, resp.StatusCode)
	case p.RequestID == nil || *p.RequestID == "":
		return fmt.Errorf("problem without request_id")
	case *p.RequestID != resp.Header.Get("X-Request-ID"):
		return fmt.Errorf("problem request_id %q, X-Request-ID %q", *p.RequestID, resp.Header.Get("X-Request-ID"))
	}
	return nil
}

// TestSpecFuzz sends, for every operation in the spec, a plausible request
// and a bounded set of invalid ones (see cases), as a platform admin in a
// team of its own, and holds every answer to the contract: no 5xx, the
// status, headers and body the spec declares, and a full problem document
// for every 4xx.
func TestSpecFuzz(t *testing.T) {
	e := setup(t)
	w := newFuzzWorld(t, e)
	ops := fuzzOps(t)
	if len(ops) < 10 {
		t.Fatalf("only %d operations found in the spec", len(ops))
	}
	w.discover(ops)
	doc, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	problemSchema := doc.Components.Schemas["Problem"]
	if problemSchema == nil || problemSchema.Value == nil {
		t.Fatal("the spec has no Problem schema")
	}
	raw := &http.Client{Timeout: time.Minute}
	statuses := map[int]int{}
	rawTypes := map[string]int{}
	total := 0
	start := time.Now()
	for _, o := range ops {
		t.Run(o.id, func(t *testing.T) {
			h := fnv.New64a()
			_, _ = h.Write([]byte(o.id))
			rng := rand.New(rand.NewPCG(*specFuzzSeed, h.Sum64()))
			cases := w.cases(o, rng)
			perOp := map[int]int{}
			for _, c := range cases {
				total++
				req, err := w.request(c, o.path)
				if err != nil {
					t.Errorf("%s: cannot build the request: %v\n  %s", c.name, err, c.repro(e.URL, o.path))
					continue
				}
				// The conformance client reports through tb, which names the case.
				tb := &fuzzTB{TB: t, prefix: c.name + ": ", suffix: "\n  " + c.repro(e.URL, o.path)}
				client := e.Client(tb)
				client.Timeout = time.Minute
				do := client.Do
				if c.raw {
					do = raw.Do
				}
				resp, err := do(req)
				if err != nil {
					t.Errorf("%s: %v\n  %s", c.name, err, c.repro(e.URL, o.path))
					continue
				}
				var rb []byte
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					rb, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<20)) // a stream does not end
				}
				resp.Body.Close()
				if *specFuzzLog {
					t.Logf("%d %s", resp.StatusCode, c.name)
				}
				statuses[resp.StatusCode]++
				perOp[resp.StatusCode]++
				fail := func(format string, args ...any) {
					t.Errorf("%s: %d: %s\n  %s\n  answer: %s", c.name, resp.StatusCode, fmt.Sprintf(format, args...),
						c.repro(e.URL, o.path), fuzzShort(string(rb), 600))
				}
				switch {
				case resp.StatusCode >= 500:
					fail("a server error")
				case c.raw:
					rawTypes[fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))]++
				case resp.StatusCode >= 400 && !tb.failed: // else the conformance client has said what is wrong
					if err := fuzzProblem(problemSchema.Value, resp, rb); err != nil {
						fail("%v", err)
					}
				}
				if c.name == "plausible" {
					switch {
					case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
						fail("a platform admin's plausible request was refused")
					case resp.StatusCode >= 400:
						t.Logf("note: the plausible request got %d: %s", resp.StatusCode, fuzzShort(string(rb), 300))
					}
				}
			}
			t.Logf("%s %s: %d requests, statuses %s", o.method, o.path, len(cases), fuzzStatuses(perOp))
		})
	}
	t.Logf("spec fuzz: %d operations, %d requests in %s (seed %d); statuses %s",
		len(ops), total, time.Since(start).Round(time.Millisecond), *specFuzzSeed, fuzzStatuses(statuses))
	if len(rawTypes) > 0 {
		t.Logf("requests over net/http's header limit were answered: %v", rawTypes)
	}
}

// fuzzTB adds the case's name and reproduction to the conformance
// client's reports.
type fuzzTB struct {
	testing.TB
	prefix, suffix string
	failed         bool
}

func (tb *fuzzTB) Errorf(format string, args ...any) {
	tb.TB.Helper()
	tb.failed = true
	tb.TB.Errorf("%s%s%s", tb.prefix, fmt.Sprintf(format, args...), tb.suffix)
}

func fuzzStatuses(m map[int]int) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d×%d", s, m[s]))
	}
	return strings.Join(parts, " ")
}
