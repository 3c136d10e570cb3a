package app_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

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
