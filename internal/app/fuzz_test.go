package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/apptest"
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

// fuzzWorld is the team the test works in, with real ids for path
// parameters.
type fuzzWorld struct {
	t      *testing.T
	env    *apptest.Env
	token  string
	ids    map[string]string // path parameter or property name -> a real id
	emails int
}

func newFuzzWorld(t *testing.T, e *apptest.Env) *fuzzWorld {
	t.Helper()
	w := &fuzzWorld{t: t, env: e, token: e.Token(t, "fuzz-admin", true), ids: map[string]string{}}
	team := w.setup("POST", "/teams", "application/json", `{"name":"Fuzz"}`, http.StatusCreated)
	w.ids["team_id"] = team["id"].(string)
	ctype, body := fuzzMultipart("--B\r\n" + fuzzFilePart("file", "fuzz.txt", "fuzz me") + "--B--\r\n")
	file := w.setup("POST", "/teams/"+w.ids["team_id"]+"/files", ctype, body, http.StatusCreated)
	w.ids["file_id"] = file["id"].(string)
	job := w.setup("POST", "/teams/"+w.ids["team_id"]+"/jobs", "application/json",
		`{"processor":"inspect","file_id":"`+w.ids["file_id"]+`"}`, http.StatusAccepted)
	w.ids["job_id"] = job["id"].(string)
	member := w.setup("POST", "/teams/"+w.ids["team_id"]+"/members", "application/json",
		`{"email":"fuzz-invitee@example.test","role":"viewer"}`, http.StatusCreated)
	w.ids["user_id"] = member["user_id"].(string)
	key := w.setup("POST", "/teams/"+w.ids["team_id"]+"/api-keys", "application/json",
		`{"name":"fuzz","role":"viewer"}`, http.StatusCreated)
	w.ids["key_id"] = key["id"].(string)
	return w
}

func (w *fuzzWorld) setup(method, path, ctype, body string, want int) map[string]any {
	w.t.Helper()
	req, err := http.NewRequest(method, w.env.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", ctype)
	resp, err := w.env.Client(w.t).Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != want {
		w.t.Fatalf("setup %s %s: %d (want %d): %v %v", method, path, resp.StatusCode, want, out, err)
	}
	return out
}

// request is the http.Request of c on the operation at template.
func (w *fuzzWorld) request(c fuzzReq, template string) (*http.Request, error) {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest("GET", c.url(w.env.URL, template), body)
	if err != nil {
		return nil, err
	}
	req.Method = c.method
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	return req, nil
}

// discover finds a real id for each path parameter the setup did not
// make, such as that of a resource added to the spec later: the plausible
// POST on the parameter's collection creates one, and the id of its answer
// is used. Parameters it cannot fill get random uuids.
func (w *fuzzWorld) discover(ops []fuzzOp) {
	w.t.Helper()
	for _, o := range ops {
		for _, p := range o.params {
			i := strings.Index(o.path, "/{"+p.Name+"}")
			if p.In != openapi3.ParameterInPath || w.ids[p.Name] != "" || i < 0 {
				continue
			}
			for _, c := range ops {
				if c.method != http.MethodPost || c.path != o.path[:i] {
					continue
				}
				pb := w.plausible(c, rand.New(rand.NewPCG(*specFuzzSeed, 0)))
				req, err := w.request(pb.req, c.path)
				if !pb.known || err != nil {
					continue
				}
				resp, err := w.env.Client(w.t).Do(req)
				if err != nil {
					w.t.Fatal(err)
				}
				var out struct {
					ID string `json:"id"`
				}
				if json.NewDecoder(resp.Body).Decode(&out) == nil && resp.StatusCode < 300 && out.ID != "" {
					w.ids[p.Name] = out.ID
				}
				resp.Body.Close()
			}
			if w.ids[p.Name] == "" {
				w.t.Logf("no real %s: %s gets random uuids", p.Name, o.id)
			}
		}
	}
}

// realCursor returns a next_cursor the list operation op really returned,
// or one of the same shape when the list has a single page.
func (w *fuzzWorld) realCursor(o fuzzOp, base fuzzReq) string {
	r := base.clone()
	r.query = "limit=1"
	req, err := http.NewRequest(r.method, r.url(w.env.URL, o.path), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.env.Client(w.t).Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&page) == nil && page.NextCursor != nil {
		return *page.NextCursor
	}
	id := uuid.MustParse(w.ids["team_id"])
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// fuzzRaw is JSON text spliced verbatim into a body.
type fuzzRaw string

// fuzzDup writes its property twice, once with each value.
type fuzzDup [2]any

func fuzzJSON(v any) []byte {
	var b bytes.Buffer
	fuzzEncode(&b, v)
	return b.Bytes()
}

func fuzzEncode(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case fuzzRaw:
		b.WriteString(string(v))
	case map[string]any:
		b.WriteByte('{')
		first := true
		for _, k := range slices.Sorted(maps.Keys(v)) {
			vals := []any{v[k]}
			if d, ok := v[k].(fuzzDup); ok {
				vals = d[:]
			}
			for _, x := range vals {
				if !first {
					b.WriteByte(',')
				}
				first = false
				kb, _ := json.Marshal(k)
				b.Write(kb)
				b.WriteByte(':')
				fuzzEncode(b, x)
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			fuzzEncode(b, x)
		}
		b.WriteByte(']')
	default:
		j, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		b.Write(j)
	}
}

// fuzzSet returns a copy of v with the value at path replaced by val, or
// removed when del.
func fuzzSet(v any, path []string, val any, del bool) any {
	if len(path) == 0 {
		return val
	}
	m, _ := v.(map[string]any)
	out := maps.Clone(m)
	if out == nil {
		out = map[string]any{}
	}
	if len(path) == 1 && del {
		delete(out, path[0])
		return out
	}
	out[path[0]] = fuzzSet(m[path[0]], path[1:], val, del)
	return out
}

// fuzzProps lists the declared properties of an object schema (allOf
// merged), and whether each is required.
func fuzzProps(s *openapi3.Schema) (map[string]*openapi3.Schema, map[string]bool) {
	props, req := map[string]*openapi3.Schema{}, map[string]bool{}
	if s == nil {
		return props, req
	}
	for _, sub := range s.AllOf {
		if sub != nil {
			p, r := fuzzProps(sub.Value)
			maps.Copy(props, p)
			maps.Copy(req, r)
		}
	}
	for k, ref := range s.Properties {
		if ref != nil && ref.Value != nil {
			props[k] = ref.Value
		}
	}
	for _, k := range s.Required {
		req[k] = true
	}
	return props, req
}

func fuzzIsObject(s *openapi3.Schema) bool {
	return s != nil && (s.Type.Is("object") || len(s.Properties) > 0 || len(s.AllOf) > 0)
}

// sample returns a plausible value for s, named name: a real id for a uuid
// named like one, else the example, the enum, the format, the bounds.
func (w *fuzzWorld) sample(s *openapi3.Schema, name string, rng *rand.Rand, depth int) any {
	if s == nil {
		return "fuzz"
	}
	if s.Format == "uuid" {
		if id, ok := w.ids[name]; ok {
			return id
		}
		return fuzzUUID(rng)
	}
	switch {
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Default != nil:
		return s.Default
	}
	switch {
	case fuzzIsObject(s):
		out := map[string]any{}
		if depth > 4 {
			return out
		}
		props, _ := fuzzProps(s)
		for _, k := range slices.Sorted(maps.Keys(props)) { // sorted: the random stream stays deterministic
			if p := props[k]; !p.ReadOnly {
				out[k] = w.sample(p, k, rng, depth+1)
			}
		}
		return out
	case s.Type.Is("string"):
		switch s.Format {
		case "email":
			w.emails++
			return fmt.Sprintf("fuzz-%d@example.test", w.emails)
		case "date-time":
			return time.Now().UTC().Format(time.RFC3339)
		case "date":
			return time.Now().UTC().Format(time.DateOnly)
		}
		v := "fuzz"
		if s.Pattern != "" {
			// A few shapes that common patterns take.
			for _, c := range []string{"fuzz", "text/plain", strings.Repeat("0", 64), "fuzz-1", "a", "A1"} {
				if re, err := regexp.Compile(s.Pattern); err == nil && re.MatchString(c) {
					v = c
					break
				}
			}
		}
		for uint64(len(v)) < s.MinLength {
			v += "z"
		}
		if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
			v = v[:*s.MaxLength]
		}
		return v
	case s.Type.Is("integer"), s.Type.Is("number"):
		n := 1.0
		if s.Min != nil && n < *s.Min {
			n = *s.Min
		}
		if s.Max != nil && n > *s.Max {
			n = *s.Max
		}
		return n
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		if s.Items != nil && s.Items.Value != nil && s.MinItems > 0 {
			return []any{w.sample(s.Items.Value, name, rng, depth+1)}
		}
		return []any{}
	}
	return "fuzz"
}

// sampleRequired is sample with only the required properties of an object.
func (w *fuzzWorld) sampleRequired(s *openapi3.Schema, rng *rand.Rand) any {
	props, required := fuzzProps(s)
	out := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if required[k] {
			out[k] = w.sample(props[k], k, rng, 1)
		}
	}
	return out
}

// fuzzPlain turns a sample into what encoding/json would decode it to, for
// schema checks.
func fuzzPlain(v any) any {
	var out any
	if json.Unmarshal(fuzzJSON(v), &out) != nil {
		return nil
	}
	return out
}

func fuzzUUID(rng *rand.Rand) string {
	var u uuid.UUID
	for i := range u {
		u[i] = byte(rng.Uint32())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

func fuzzParamString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// fuzzMultipart returns a multipart/form-data content type with boundary B
// and body.
func fuzzMultipart(body string) (string, string) {
	return "multipart/form-data; boundary=B", body
}

func fuzzFilePart(field, filename, content string) string {
	return "Content-Disposition: form-data; name=\"" + field + "\"; filename=\"" + filename + "\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n" + content + "\r\n"
}

func fuzzNest(open, leaf, close string, n int) string {
	return strings.Repeat(open, n) + leaf + strings.Repeat(close, n)
}

// wrongTypes returns values of JSON types other than s's.
func fuzzWrongTypes(s *openapi3.Schema) []any {
	all := []struct {
		typ string
		v   any
	}{
		{"null", nil}, {"integer", 12345}, {"number", 1.5}, {"boolean", true},
		{"string", "fuzz"}, {"array", []any{}}, {"object", map[string]any{}},
	}
	var out []any
	for _, c := range all {
		switch {
		case c.typ == "null" && s.Nullable:
		case c.typ == "object" && fuzzIsObject(s):
		case s.Type.Is(c.typ):
		case c.typ == "integer" && s.Type.Is("number"):
		case s.Type == nil || len(*s.Type) == 0:
			if !fuzzIsObject(s) {
				return nil // any type goes
			}
			out = append(out, c.v)
		default:
			out = append(out, c.v)
		}
	}
	return out
}

// valueMutations returns invalid (and edge) values for a value of schema s
// named name, as JSON-ready values (fuzzRaw for what encoding/json cannot
// write).
func (w *fuzzWorld) valueMutations(s *openapi3.Schema, name string) []struct {
	name string
	v    any
} {
	type mv = struct {
		name string
		v    any
	}
	var out []mv
	add := func(n string, v any) { out = append(out, mv{n, v}) }
	for _, v := range fuzzWrongTypes(s) {
		add(fmt.Sprintf("wrong type %T", v), v)
	}
	switch {
	case s.Type.Is("string"):
		add("empty string", "")
		if s.MaxLength != nil {
			add("over maxLength", strings.Repeat("x", int(*s.MaxLength)+1))
			add("maxLength of 2-byte runes", strings.Repeat("é", int(*s.MaxLength)))
			add("maxLength of astral runes", strings.Repeat("😀", int(*s.MaxLength)))
			add("over maxLength in runes", strings.Repeat("é", int(*s.MaxLength)+1))
		} else {
			add("100 KiB string", strings.Repeat("x", 100<<10))
		}
		add("1 MiB string", strings.Repeat("x", specFuzzHuge))
		add("NUL inside", "fu\x00zz")
		add("control characters", "fu\a\x1b[31mzz\r\n")
		add("lone surrogate", fuzzRaw(`"\ud800fuzz"`))
		add("invalid UTF-8", fuzzRaw("\"fu\xff\xfezz\""))
		add("only spaces", "   ")
		add("surrounding spaces", "  fuzz  ")
		add("zero-width and bidi", "\u200b\u202efuzz\u2066")
		add("unicode", "ünïcødé ☃ 日本 😀")
		add("path traversal", "../../etc/passwd")
		add("SQL", "'; DROP TABLE teams; --")
		add("markup", "<script>alert(1)</script>")
		switch s.Format {
		case "uuid":
			id := w.ids[name]
			if id == "" {
				id = "6f1c1c1e-8f8e-4f5c-9a53-0c8c0e6f0a11"
			}
			add("uuid: not one", "not-a-uuid")
			add("uuid: nil", "00000000-0000-0000-0000-000000000000")
			add("uuid: upper case", strings.ToUpper(id))
			add("uuid: no hyphens", strings.ReplaceAll(id, "-", ""))
			add("uuid: braces", "{"+id+"}")
			add("uuid: urn", "urn:uuid:"+id)
			add("uuid: trailing garbage", id+"x")
			add("uuid: unknown", "6f1c1c1e-8f8e-4f5c-9a53-0c8c0e6f0a11")
		case "email":
			add("email: not one", "not-an-email")
			add("email: no domain", "fuzz@")
			add("email: no local part", "@example.test")
			add("email: two @", "a@b@example.test")
			add("email: space", "fu zz@example.test")
			add("email: unicode", "ünï@exämple.test")
			add("email: display name", "Fuzz <fuzz@example.test>")
			add("email: no dot", "a@b")
			add("email: upper case", "FUZZ-INVITEE@EXAMPLE.TEST")
			add("email: NUL", "fu\x00zz@example.test")
			if s.MaxLength != nil {
				n := int(*s.MaxLength)
				add("email: maxLength", strings.Repeat("a", n-len("@example.test"))+"@example.test")
				add("email: over maxLength", strings.Repeat("a", n+1-len("@example.test"))+"@example.test")
			}
		case "date-time":
			add("date-time: words", "yesterday")
			add("date-time: out of range", "2024-13-45T25:61:00Z")
			add("date-time: date only", "2024-01-01")
		}
		if s.Pattern != "" {
			add("pattern: space", "fu zz")
			add("pattern: unicode", "ünï")
		}
		if len(s.Enum) > 0 {
			first := fmt.Sprint(s.Enum[0])
			add("enum: unknown", "not-a-value")
			add("enum: upper case", strings.ToUpper(first))
			add("enum: padded", " "+first+" ")
			add("enum: prefix", first[:len(first)/2])
		}
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			add("below minimum", *s.Min-1)
		}
		if s.Max != nil {
			add("above maximum", *s.Max+1)
		}
		add("1e99", fuzzRaw("1e99"))
		add("-1e99", fuzzRaw("-1e99"))
		add("2^63", fuzzRaw("9223372036854775808"))
		add("-0", fuzzRaw("-0"))
		add("zero", 0)
		add("negative", -1)
		if s.Type.Is("integer") {
			add("fraction", 1.5)
			add("exponent form", fuzzRaw("1e0"))
		}
		add("number as string", "1")
	case s.Type.Is("boolean"):
		add("boolean as string", "true")
		add("boolean as number", 1)
	case s.Type.Is("array"):
		add("array of null", []any{nil})
		add("array of objects", []any{map[string]any{}})
		add("100k array", fuzzRaw("["+strings.Repeat("0,", 100_000)+"0]"))
	}
	if fuzzIsObject(s) {
		add("deeply nested object", fuzzRaw(fuzzNest(`{"a":`, "1", "}", specFuzzDeep)))
		add("deeply nested array", fuzzRaw(fuzzNest("[", "", "]", specFuzzDeep)))
		add("nested just under the limit", fuzzRaw(fuzzNest(`{"a":`, "1", "}", 9_000)))
		add("long key", fuzzRaw(`{"`+strings.Repeat("k", 5000)+`":1}`))
		var many strings.Builder
		many.WriteByte('{')
		for i := range 20_000 {
			if i > 0 {
				many.WriteByte(',')
			}
			fmt.Fprintf(&many, `"k%d":%d`, i, i)
		}
		many.WriteByte('}')
		add("20k keys", fuzzRaw(many.String()))
		add("array instead of object", []any{map[string]any{}})
		add("NUL in key", fuzzRaw(`{"a\u0000b":1}`))
		add("NUL in value", fuzzRaw(`{"a":"\u0000"}`))
	}
	return out
}

// fuzzBase is the plausible request of an operation and what it was
// made from.
type fuzzBase struct {
	req                 fuzzReq
	bodySchema          *openapi3.Schema
	bodyValue           any
	isJSON, isMultipart bool
	known               bool // every path parameter is a real id
}

// plausible builds a request for o that should succeed: real ids in the
// path, required parameters, and a body made from the schema.
func (w *fuzzWorld) plausible(o fuzzOp, rng *rand.Rand) fuzzBase {
	b := fuzzBase{known: true}
	base := fuzzReq{name: "plausible", method: o.method, path: map[string]string{}, header: map[string]string{}}
	var query []string
	for _, p := range o.params {
		s := (*openapi3.Schema)(nil)
		if p.Schema != nil {
			s = p.Schema.Value
		}
		switch p.In {
		case openapi3.ParameterInPath:
			v := w.ids[p.Name]
			if v == "" {
				b.known = false
				v = url.PathEscape(fuzzParamString(w.sample(s, p.Name, rng, 0)))
			}
			base.path[p.Name] = v
		case openapi3.ParameterInQuery:
			if p.Required {
				query = append(query, url.QueryEscape(p.Name)+"="+url.QueryEscape(fuzzParamString(w.sample(s, p.Name, rng, 0))))
			}
		case openapi3.ParameterInHeader:
			if p.Required {
				base.header[p.Name] = fuzzParamString(w.sample(s, p.Name, rng, 0))
			}
		}
	}
	base.query = strings.Join(query, "&")

	if rb := o.op.RequestBody; rb != nil && rb.Value != nil {
		if mt := rb.Value.Content.Get("application/json"); mt != nil {
			b.isJSON = true
			if mt.Schema != nil {
				b.bodySchema = mt.Schema.Value
			}
			b.bodyValue = w.sample(b.bodySchema, "", rng, 0)
			if b.bodySchema != nil && b.bodySchema.VisitJSON(fuzzPlain(b.bodyValue)) != nil {
				// Some optional property could not be made valid: send only
				// the required ones.
				b.bodyValue = w.sampleRequired(b.bodySchema, rng)
			}
			base.ctype, base.body = "application/json", fuzzJSON(b.bodyValue)
		} else if rb.Value.Content.Get("multipart/form-data") != nil {
			b.isMultipart = true
			base.ctype, base.body = "multipart/form-data; boundary=B", []byte("--B\r\n"+fuzzFilePart("file", "fuzz.txt", "fuzz")+"--B--\r\n")
		} else {
			cts := slices.Sorted(maps.Keys(rb.Value.Content))
			base.ctype, base.body = cts[0], []byte("fuzz")
		}
	}
	b.req = base
	return b
}

// cases returns the requests for o: a plausible one, then mutations of it.
func (w *fuzzWorld) cases(o fuzzOp, rng *rand.Rand) []fuzzReq {
	pb := w.plausible(o, rng)
	base, bodySchema, bodyValue, isJSON, isMultipart := pb.req, pb.bodySchema, pb.bodyValue, pb.isJSON, pb.isMultipart

	out := []fuzzReq{base}
	add := func(name string, edit func(r *fuzzReq)) {
		r := base.clone()
		r.name = name
		edit(&r)
		out = append(out, r)
	}

	// Credentials and protocol.
	add("no credentials", func(r *fuzzReq) { r.noAuth = true })
	add("garbage bearer token", func(r *fuzzReq) { r.noAuth = true; r.header["Authorization"] = "Bearer not.a.jwt" })
	add("two credentials", func(r *fuzzReq) { r.header["X-API-Key"] = "cvk_" + strings.Repeat("A", 43) })
	add("long X-Request-ID", func(r *fuzzReq) { r.header["X-Request-ID"] = strings.Repeat("r", 500) })
	add("unicode X-Request-ID", func(r *fuzzReq) { r.header["X-Request-ID"] = "ünï-☃" })
	for _, m := range o.others {
		add("method "+m, func(r *fuzzReq) { r.method = m })
	}
	add("long method", func(r *fuzzReq) { r.method = strings.Repeat("FUZZ", 2000) })
	add("lower-case method", func(r *fuzzReq) { r.method = strings.ToLower(o.method) })
	add("unknown query parameter", func(r *fuzzReq) { r.query = fuzzJoin(r.query, "fuzz=1") })
	add("malformed query", func(r *fuzzReq) { r.query = fuzzJoin(r.query, "a=%zz") })
	add("semicolon in query", func(r *fuzzReq) { r.query = fuzzJoin(r.query, "a=1;b=2") })
	add("bare %", func(r *fuzzReq) { r.query = fuzzJoin(r.query, "%") })
	add("trailing slash", func(r *fuzzReq) { r.suffix = "/" })
	add("extra segment", func(r *fuzzReq) { r.suffix = "/fuzz" })
	if !isJSON && !isMultipart {
		add("unexpected body", func(r *fuzzReq) { r.ctype, r.body = "application/json", []byte(`{"fuzz":1}`) })
	}

	// Path parameters.
	for _, p := range o.params {
		if p.In != openapi3.ParameterInPath {
			continue
		}
		real := base.path[p.Name]
		for _, bad := range []struct{ name, v string }{
			{"not a uuid", "not-a-uuid"},
			{"empty", ""},
			{"number", "123"},
			{"negative", "-1"},
			{"nil uuid", "00000000-0000-0000-0000-000000000000"},
			{"unknown uuid", fuzzUUID(rng)},
			{"upper-case id", strings.ToUpper(real)},
			{"id without hyphens", strings.ReplaceAll(real, "-", "")},
			{"id with trailing garbage", real + "x"},
			{"id in braces", url.PathEscape("{" + real + "}")},
			{"urn", url.PathEscape("urn:uuid:" + real)},
			{"4 KiB", strings.Repeat("a", 4096)},
			{"60 KiB", strings.Repeat("a", 60<<10)},
			{"unicode", url.PathEscape("ünïcødé-☃-😀")},
			{"raw unicode", "ünïcødé"},
			{"encoded traversal", "..%2f..%2fetc%2fpasswd"},
			{"dot-dot", ".."},
			{"dot", "."},
			{"encoded NUL", "%00"},
			{"encoded slash", real + "%2f" + real},
			{"space", "%20"},
			{"template", "%7B" + p.Name + "%7D"},
			{"SQL", url.PathEscape("' OR 1=1 --")},
		} {
			add("path "+p.Name+": "+bad.name, func(r *fuzzReq) { r.path[p.Name] = bad.v })
		}
		add("path "+p.Name+": 1 MiB", func(r *fuzzReq) { r.path[p.Name] = strings.Repeat("a", specFuzzHuge); r.raw = true })
	}

	// Query parameters.
	for _, p := range o.params {
		if p.In != openapi3.ParameterInQuery || p.Schema == nil || p.Schema.Value == nil {
			continue
		}
		s := p.Schema.Value
		k := url.QueryEscape(p.Name)
		set := func(name, raw string) {
			add("query "+p.Name+": "+name, func(r *fuzzReq) { r.query = fuzzJoin(base.query, k+"="+raw) })
		}
		set("plausible", url.QueryEscape(fuzzParamString(w.sample(s, p.Name, rng, 0))))
		set("empty", "")
		add("query "+p.Name+": no value", func(r *fuzzReq) { r.query = fuzzJoin(base.query, k) })
		set("unicode", url.QueryEscape("ünï☃😀"))
		set("raw unicode", "ünï")
		set("encoded NUL", "%00")
		set("invalid escape", "%zz")
		add("query "+p.Name+": twice", func(r *fuzzReq) {
			v := url.QueryEscape(fuzzParamString(w.sample(s, p.Name, rng, 0)))
			r.query = fuzzJoin(base.query, k+"="+v+"&"+k+"="+v+"0")
		})
		switch {
		case s.Type.Is("integer"), s.Type.Is("number"):
			for _, v := range []string{"0", "-1", "1e99", "-1e99", "1.5", "abc", "99999999999999999999", "0x10", "+1", "%201", "1,2", "NaN", "Infinity", "1e2", "true"} {
				set(v, v)
			}
			if s.Min != nil {
				set("minimum", fuzzParamString(*s.Min))
				set("below minimum", fuzzParamString(*s.Min-1))
			}
			if s.Max != nil {
				set("maximum", fuzzParamString(*s.Max))
				set("above maximum", fuzzParamString(*s.Max+1))
			}
		case s.Type.Is("string"):
			if s.MaxLength != nil {
				set("maxLength", strings.Repeat("A", int(*s.MaxLength)))
				set("over maxLength", strings.Repeat("A", int(*s.MaxLength)+1))
			}
			set("60 KiB", strings.Repeat("A", 60<<10))
			add("query "+p.Name+": 1 MiB", func(r *fuzzReq) {
				r.query = fuzzJoin(base.query, k+"="+strings.Repeat("A", specFuzzHuge))
				r.raw = true
			})
			for _, v := range s.Enum {
				set("enum upper case", url.QueryEscape(strings.ToUpper(fmt.Sprint(v))))
				break
			}
			if len(s.Enum) > 0 {
				set("unknown enum", "not-a-value")
			}
		}
		if p.Name == "cursor" {
			real := w.realCursor(o, base)
			rb := []byte(real)
			flipped := slices.Clone(rb)
			flipped[len(flipped)-1] ^= 0x01
			var zero [16]byte
			for _, c := range []struct{ name, v string }{
				{"real", real},
				{"tampered last byte", url.QueryEscape(string(flipped))},
				{"truncated", url.QueryEscape(real[:len(real)-1])},
				{"extended", url.QueryEscape(real + "A")},
				{"reversed", url.QueryEscape(string(fuzzReverse(rb)))},
				{"padded std base64", url.QueryEscape(base64.StdEncoding.EncodeToString(fuzzDecode(real)))},
				{"not base64", url.QueryEscape("!!!***")},
				{"15 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 15))},
				{"17 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 17))},
				{"zero id", base64.RawURLEncoding.EncodeToString(zero[:])},
				{"random id", func() string { u := uuid.MustParse(fuzzUUID(rng)); return base64.RawURLEncoding.EncodeToString(u[:]) }()},
				{"json", url.QueryEscape(`{"after":"x"}`)},
				{"null", "null"},
			} {
				set("cursor "+c.name, c.v)
			}
		}
	}

	// Header parameters.
	for _, p := range o.params {
		if p.In != openapi3.ParameterInHeader || p.Schema == nil || p.Schema.Value == nil {
			continue
		}
		s := p.Schema.Value
		h := func(name, v string) {
			add("header "+p.Name+": "+name, func(r *fuzzReq) { r.header[p.Name] = v })
		}
		h("plausible", fuzzParamString(w.sample(s, p.Name, rng, 0)))
		h("empty", "")
		h("space", "fu zz")
		h("unicode", "ünï☃")
		h("star", "*")
		h("quoted", `"fuzz"`)
		h("weak", `W/"fuzz"`)
		h("list", `"a", "b", W/"c"`)
		h("8 KiB", strings.Repeat("x", 8<<10))
		if s.MaxLength != nil {
			h("over maxLength", strings.Repeat("x", int(*s.MaxLength)+1))
		}
		add("header "+p.Name+": 1 MiB", func(r *fuzzReq) { r.header[p.Name] = strings.Repeat("x", specFuzzHuge); r.raw = true })
	}

	// Bodies.
	if isJSON || isMultipart {
		add("no body", func(r *fuzzReq) { r.body = nil })
		add("no body, no Content-Type", func(r *fuzzReq) { r.body, r.ctype = nil, "" })
		add("empty body", func(r *fuzzReq) { r.body = []byte{} })
		add("no Content-Type", func(r *fuzzReq) { r.ctype = "" })
		for _, ct := range []string{
			"text/plain", "application/xml", "application/x-www-form-urlencoded", "application/octet-stream",
			"application/problem+json", "application/jsonx", "application/json; charset=utf-16", "APPLICATION/JSON",
			"application/json;;;", "multipart/form-data; boundary=B", "multipart/mixed; boundary=B", "???", "*/*",
			"application/" + strings.Repeat("x", 5000), `application/json; foo="` + strings.Repeat("y", 5000) + `"`,
		} {
			add("Content-Type "+fuzzShort(ct, 40), func(r *fuzzReq) { r.ctype = ct })
		}
	}
	if isJSON {
		for _, m := range []struct{ name, body string }{
			{"open brace", `{`},
			{"close brace", `}`},
			{"missing value", `{"a":}`},
			{"comma", `{,}`},
			{"truncated literal", `nul`},
			{"two documents", `{}{}`},
			{"trailing garbage", string(base.body) + " x"},
			{"trailing comma", `{"a":1,}`},
			{"single quotes", `{'a':1}`},
			{"comment", `{/* c */}`},
			{"NaN", `{"a":NaN}`},
			{"BOM", "\xef\xbb\xbf" + string(base.body)},
			{"UTF-16", "\xff\xfe{\x00}\x00"},
			{"invalid UTF-8", "{\"\xff\":1}"},
			{"null", `null`},
			{"array", `[]`},
			{"array of the body", "[" + string(base.body) + "]"},
			{"string", `"fuzz"`},
			{"number", `123`},
			{"huge number", `1e999`},
			{"boolean", `true`},
			{"empty object", `{}`},
			{"whitespace", "  \n\t "},
			{"deeply nested arrays", fuzzNest("[", "", "]", specFuzzDeep)},
			{"deeply nested objects", fuzzNest(`{"a":`, "1", "}", specFuzzDeep)},
			{"deeply nested, unclosed", strings.Repeat("[", 100_000)},
			{"1 MiB of padding", string(base.body) + strings.Repeat(" ", specFuzzHuge)},
			{"1 MiB property", `{"fuzz":"` + strings.Repeat("x", specFuzzHuge) + `"}`},
			{"unknown property", string(fuzzJSON(fuzzSet(bodyValue, []string{"fuzz_unknown"}, 1, false)))},
			{"unknown property with a long name", string(fuzzJSON(fuzzSet(bodyValue, []string{strings.Repeat("u", 3000)}, 1, false)))},
			{"unknown property with a unicode name", string(fuzzJSON(fuzzSet(bodyValue, []string{"ünï ☃/~0~1"}, 1, false)))},
		} {
			add("body: "+m.name, func(r *fuzzReq) { r.body = []byte(m.body) })
		}
		if fuzzIsObject(bodySchema) {
			w.propertyCases(bodySchema, nil, bodyValue, add, 0)
		}
	}
	if isMultipart {
		part := func(name, filename string) string { return fuzzFilePart(name, filename, "fuzz") }
		for _, m := range []struct{ name, ctype, body string }{
			{"no boundary", "multipart/form-data", "--B\r\n" + part("file", "a.txt") + "--B--\r\n"},
			{"other boundary", "multipart/form-data; boundary=C", "--B\r\n" + part("file", "a.txt") + "--B--\r\n"},
			{"long boundary", "multipart/form-data; boundary=" + strings.Repeat("b", 200), "--" + strings.Repeat("b", 200) + "\r\n" + part("file", "a.txt") + "--" + strings.Repeat("b", 200) + "--\r\n"},
			{"truncated", "", "--B\r\n" + "Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nfu"},
			{"truncated headers", "", "--B\r\nContent-Disposition: form-da"},
			{"only the closing boundary", "", "--B--\r\n"},
			{"no file part", "", "--B\r\n" + part("notfile", "a.txt") + "--B--\r\n"},
			{"field without filename", "", "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nfuzz\r\n--B--\r\n"},
			{"no Content-Disposition", "", "--B\r\nContent-Type: text/plain\r\n\r\nfuzz\r\n--B--\r\n"},
			{"two file parts", "", "--B\r\n" + part("file", "a.txt") + "--B\r\n" + part("file", "b.txt") + "--B--\r\n"},
			{"empty file", "", "--B\r\n" + fuzzFilePart("file", "empty.txt", "") + "--B--\r\n"},
			{"1 MiB file", "", "--B\r\n" + fuzzFilePart("file", "big.bin", strings.Repeat("x", specFuzzHuge)) + "--B--\r\n"},
			{"preamble", "", "garbage\r\n--B\r\n" + part("file", "a.txt") + "--B--\r\n"},
			{"1000 parts first", "", strings.Repeat("--B\r\n"+part("x", "x"), 1000) + "--B\r\n" + part("file", "a.txt") + "--B--\r\n"},
			{"20 KiB header line", "", "--B\r\nX-Fuzz: " + strings.Repeat("h", 20<<10) + "\r\n" + part("file", "a.txt") + "--B--\r\n"},
			{"bad part Content-Type", "", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nContent-Type: ???\r\n\r\nfuzz\r\n--B--\r\n"},
			{"RFC 2231 filename", "", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E2%98%83%00.txt\r\n\r\nfuzz\r\n--B--\r\n"},
			{"JSON instead", "application/json", `{"file":"fuzz"}`},
		} {
			add("multipart: "+m.name, func(r *fuzzReq) {
				if m.ctype != "" {
					r.ctype = m.ctype
				}
				r.body = []byte(m.body)
			})
		}
		for _, fn := range []struct{ name, v string }{
			{"empty", ""}, {"traversal", "../../../etc/passwd"}, {"backslashes", `..\..\windows\system32`},
			{"dot", "."}, {"dot-dot", ".."}, {"slash", "/"}, {"NUL", "a\x00b.txt"}, {"encoded NUL", "a%00b.txt"},
			{"control characters", "a\a\x1b.txt"}, {"10k characters", strings.Repeat("n", 10_000)},
			{"300 2-byte runes", strings.Repeat("é", 300)}, {"unicode", "ünï☃😀.txt"}, {"invalid UTF-8", "a\xff\xfe.txt"},
			{"reserved name", "con"}, {"quote", `a\"b.txt`}, {"only spaces", "   "}, {"bidi", "\u202etxt.exe"},
		} {
			add("multipart: filename "+fn.name, func(r *fuzzReq) {
				r.body = []byte("--B\r\n" + part("file", fn.v) + "--B--\r\n")
			})
		}
	}

	// Random mutations.
	for i := range specFuzzRandomCases {
		out = append(out, w.randomCase(o, base, bodySchema, bodyValue, isJSON, rng, i))
	}
	if len(out) > specFuzzMaxCases {
		out = out[:specFuzzMaxCases]
	}
	return out
}

// propertyCases adds mutations of each property of the object schema s at
// path within the plausible body.
func (w *fuzzWorld) propertyCases(s *openapi3.Schema, path []string, body any, add func(string, func(*fuzzReq)), depth int) {
	props, required := fuzzProps(s)
	for _, name := range slices.Sorted(maps.Keys(props)) {
		p := props[name]
		at := append(slices.Clone(path), name)
		label := "/" + strings.Join(at, "/")
		set := func(n string, v any) {
			b := fuzzJSON(fuzzSet(body, at, v, false))
			add("body "+label+": "+n, func(r *fuzzReq) { r.body = b })
		}
		if required[name] {
			b := fuzzJSON(fuzzSet(body, at, nil, true))
			add("body "+label+": missing (required)", func(r *fuzzReq) { r.body = b })
		} else {
			b := fuzzJSON(fuzzSet(body, at, nil, true))
			add("body "+label+": missing (optional)", func(r *fuzzReq) { r.body = b })
		}
		for _, m := range w.valueMutations(p, name) {
			set(m.name, m.v)
		}
		cur := fuzzValueAt(body, at)
		set("duplicate key, wrong value second", fuzzDup{cur, fuzzRaw(`[[]]`)})
		set("duplicate key, wrong value first", fuzzDup{fuzzRaw(`[[]]`), cur})
		if fuzzIsObject(p) && depth < 3 {
			w.propertyCases(p, at, body, add, depth+1)
		}
	}
}

func fuzzValueAt(v any, path []string) any {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// randomCase is one random mutation of base: a random value in a random
// property, random edits of the body's bytes, or a random parameter.
func (w *fuzzWorld) randomCase(o fuzzOp, base fuzzReq, bodySchema *openapi3.Schema, bodyValue any, isJSON bool, rng *rand.Rand, i int) fuzzReq {
	r := base.clone()
	var kinds []string
	if isJSON {
		kinds = append(kinds, "property", "property", "bytes", "bytes")
	}
	for _, p := range o.params {
		kinds = append(kinds, "param:"+p.In+":"+p.Name)
	}
	if len(kinds) == 0 {
		kinds = append(kinds, "query")
	}
	kind := kinds[rng.IntN(len(kinds))]
	switch {
	case kind == "property":
		props, _ := fuzzProps(bodySchema)
		names := slices.Sorted(maps.Keys(props))
		path := []string{"fuzz_random"}
		if len(names) > 0 && rng.IntN(5) > 0 {
			path = []string{names[rng.IntN(len(names))]}
		}
		r.body = fuzzJSON(fuzzSet(bodyValue, path, fuzzRandomValue(rng, 0), false))
	case kind == "bytes":
		b := slices.Clone(base.body)
		for range 1 + rng.IntN(6) {
			if len(b) == 0 {
				b = append(b, byte(rng.IntN(256)))
				continue
			}
			j := rng.IntN(len(b))
			switch rng.IntN(4) {
			case 0:
				b[j] = byte(rng.IntN(256))
			case 1:
				b = slices.Insert(b, j, fuzzInteresting[rng.IntN(len(fuzzInteresting))]...)
			case 2:
				b = slices.Delete(b, j, min(len(b), j+1+rng.IntN(4)))
			case 3:
				b = b[:j]
			}
		}
		r.body = b
	case strings.HasPrefix(kind, "param:path:"):
		r.path[strings.TrimPrefix(kind, "param:path:")] = url.PathEscape(fuzzRandomString(rng))
	case strings.HasPrefix(kind, "param:query:"):
		r.query = fuzzJoin(base.query, url.QueryEscape(strings.TrimPrefix(kind, "param:query:"))+"="+url.QueryEscape(fuzzRandomString(rng)))
	case strings.HasPrefix(kind, "param:header:"):
		r.header[strings.TrimPrefix(kind, "param:header:")] = fuzzRandomHeader(rng)
	default:
		r.query = fuzzJoin(base.query, url.QueryEscape(fuzzRandomString(rng))+"="+url.QueryEscape(fuzzRandomString(rng)))
	}
	r.name = fmt.Sprintf("random %d (%s)", i, kind)
	return r
}

var fuzzInteresting = [][]byte{
	[]byte(`"`), []byte(`\`), []byte(`\u0000`), []byte(`{`), []byte(`}`), []byte(`[`), []byte(`]`), []byte(`,`),
	[]byte(`:`), []byte(`null`), []byte(`-1`), []byte(`1e999`), []byte("\xff"), []byte("\x00"), []byte(`\ud800`),
}

func fuzzRandomString(rng *rand.Rand) string {
	pools := []string{
		"abcxyzABCXYZ0123456789-_.~", " \t\r\n", "\x00\x01\x1b\x7f", "%/?#&=+;:@[]{}\"'\\<>", "éü☃日本😀\u200b\u202e",
	}
	var b strings.Builder
	n := rng.IntN(64)
	if rng.IntN(10) == 0 {
		n = rng.IntN(5000)
	}
	for range n {
		pool := []rune(pools[rng.IntN(len(pools))])
		b.WriteRune(pool[rng.IntN(len(pool))])
	}
	if rng.IntN(10) == 0 {
		b.WriteByte(byte(0x80 + rng.IntN(0x80))) // invalid UTF-8
	}
	return b.String()
}

// fuzzRandomHeader is a random header value net/http is willing to send.
func fuzzRandomHeader(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(300) {
		c := byte(0x20 + rng.IntN(0x7f-0x20))
		if rng.IntN(8) == 0 {
			c = byte(0x80 + rng.IntN(0x80))
		}
		b.WriteByte(c)
	}
	return b.String()
}

func fuzzRandomValue(rng *rand.Rand, depth int) any {
	k := rng.IntN(9)
	if depth > 3 {
		k = rng.IntN(6)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return rng.Int64() - rng.Int64()
	case 3:
		return fuzzRaw(strconv.FormatFloat(rng.NormFloat64()*1e6, 'g', -1, 64))
	case 4:
		return fuzzRaw([]string{"1e999", "-1e999", "-0", "1E+2", "0.0000001"}[rng.IntN(5)])
	case 5:
		s := fuzzRandomString(rng)
		if !strings.ContainsRune(s, 0xfffd) {
			return s
		}
		return fuzzRaw(`"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`)
	case 6, 7:
		m := map[string]any{}
		for range rng.IntN(5) {
			m[fuzzRandomString(rng)] = fuzzRandomValue(rng, depth+1)
		}
		return m
	default:
		var a []any
		for range rng.IntN(5) {
			a = append(a, fuzzRandomValue(rng, depth+1))
		}
		return append([]any{}, a...)
	}
}

func fuzzJoin(q, more string) string {
	if q == "" {
		return more
	}
	return q + "&" + more
}

func fuzzReverse(b []byte) []byte {
	out := slices.Clone(b)
	slices.Reverse(out)
	return out
}

func fuzzDecode(s string) []byte {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return b
}

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
