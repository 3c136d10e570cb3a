package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// maxExactInteger is 2^53: every integer of at most this magnitude is exactly
// a float64, so JSON readers that parse numbers as float64 (kin-openapi,
// JavaScript) read it as written.
const maxExactInteger = 1 << 53

// TestServedSpecValidatesAsJSONReadersSeeIt: the served /api/v1/openapi.json
// loads and validates (examples included) with kin-openapi, which reads JSON
// numbers as float64, and every number in it is an integer within ±2^53 or a
// finite float, so no reader sees a different number than the one written.
func TestServedSpecValidatesAsJSONReadersSeeIt(t *testing.T) {
	h := newTestHandler(t, "http://127.0.0.1:8080/dev/oidc")
	rec := do(t, h, "GET", "/api/v1/openapi.json", nil)
	if rec.Code != 200 {
		t.Fatalf("GET /api/v1/openapi.json: %d", rec.Code)
	}
	body := rec.Body.Bytes()

	t.Run("numbers", func(t *testing.T) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		walkNumbers(t, "", v)
	})

	t.Run("kin-openapi", func(t *testing.T) {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(body)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
			t.Fatalf("validate: %v", err)
		}
	})
}

// walkNumbers fails the test for every number in v that a float64 reader
// would not read exactly; path is a JSON pointer to v.
func walkNumbers(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walkNumbers(t, path+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), e)
		}
	case []any:
		for i, e := range x {
			walkNumbers(t, path+"/"+strconv.Itoa(i), e)
		}
	case json.Number:
		if !numberExact(x) {
			t.Errorf("%s: %s is not exactly representable for float64 readers (want an integer within ±2^53 or a finite float)", path, x)
		}
	}
}

// numberExact reports whether n is an integer literal with |n| ≤ 2^53, or a
// fraction or exponent literal that parses to a finite float64.
func numberExact(n json.Number) bool {
	if !strings.ContainsAny(n.String(), ".eE") {
		i, err := strconv.ParseInt(n.String(), 10, 64)
		return err == nil && i >= -maxExactInteger && i <= maxExactInteger
	}
	f, err := n.Float64()
	return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

func TestNumberExact(t *testing.T) {
	for n, want := range map[string]bool{
		"0": true, "-1": true, "9007199254740992": true, "-9007199254740992": true,
		"9007199254740993": false, "9223372036854775807": false, "18446744073709551615": false,
		"0.5": true, "1e3": true, "1e300": true, "1e400": false,
	} {
		if got := numberExact(json.Number(n)); got != want {
			t.Errorf("numberExact(%s) = %v, want %v", n, got, want)
		}
	}
}
