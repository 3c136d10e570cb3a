package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
)

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
