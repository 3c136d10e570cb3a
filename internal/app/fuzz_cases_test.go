package app_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
)

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
