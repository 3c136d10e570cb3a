package httpapi_test

import (
	"encoding/json"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

type fuzzSeed struct{ method, target, ctype, header, body string }

func fuzzSeeds() []fuzzSeed {
	team := "/api/v1/teams/" + fuzzTeam
	file := "6f1c1c1e-8f8e-4f5c-9a53-0c8c0e6f0a11"
	json := "application/json"
	s := []fuzzSeed{
		// createTeam: valid, then invalid.
		{"POST", "/api/v1/teams", json, "", `{"name":"Imaging"}`},
		{"POST", "/api/v1/teams", json, "Idempotency-Key: fuzz-1", `{"name":"Imaging"}`},
		{"POST", "/api/v1/teams", json, "", `{"name":""}`},
		{"POST", "/api/v1/teams", json, "", `{"name":"   "}`},
		{"POST", "/api/v1/teams", json, "", `{"name":42}`},
		{"POST", "/api/v1/teams", json, "", `{"name":null}`},
		{"POST", "/api/v1/teams", json, "", `{"name":"a","extra":1}`},
		{"POST", "/api/v1/teams", json, "", `{"name":"a","name":{}}`},
		{"POST", "/api/v1/teams", json, "", `{"name":"` + strings.Repeat("x", 101) + `"}`},
		{"POST", "/api/v1/teams", json, "", `{}`},
		{"POST", "/api/v1/teams", json, "", `[]`},
		{"POST", "/api/v1/teams", json, "", `null`},
		{"POST", "/api/v1/teams", json, "", `{"name":`},
		{"POST", "/api/v1/teams", json, "", ``},
		{"POST", "/api/v1/teams", json, "", strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001)},
		{"POST", "/api/v1/teams", "text/plain", "", `{"name":"Imaging"}`},
		{"POST", "/api/v1/teams", "", "", `{"name":"Imaging"}`},
		{"POST", "/api/v1/teams", "application/json; charset=utf-8", "Idempotency-Key: has space", `{"name":"Imaging"}`},
		// createJob: valid, then invalid.
		{"POST", team + "/jobs", json, "", `{"processor":"inspect","file_id":"` + file + `"}`},
		{"POST", team + "/jobs", json, "", `{"processor":"inspect","file_id":"` + file + `","params":{}}`},
		{"POST", team + "/jobs", json, "", `{"processor":"inspect"}`},
		{"POST", team + "/jobs", json, "", `{"processor":"nope","file_id":"` + file + `"}`},
		{"POST", team + "/jobs", json, "", `{"processor":"inspect","file_id":"not-a-uuid"}`},
		{"POST", team + "/jobs", json, "", `{"processor":"inspect","file_id":"` + file + `","params":{"a":1}}`},
		{"POST", team + "/jobs", json, "", `{"processor":"inspect","file_id":"` + file + `","params":[]}`},
		{"POST", team + "/jobs", json, "", `{"processor":"","file_id":"` + file + `"}`},
		{"POST", team + "/jobs", json, "", `{"file_id":"` + file + `"}`},
		{"POST", team + "/jobs", json, "", `{"processor":"inspect","file_id":"` + file + `","params":` +
			strings.Repeat(`{"a":`, 10_001) + "1" + strings.Repeat("}", 10_001) + `}`},
		{"POST", "/api/v1/teams/not-a-uuid/jobs", json, "", `{"processor":"inspect"}`},
		// A few other shapes: lists, ids, headers, uploads, methods.
		{"GET", "/api/v1/teams?limit=0", "", "", ""},
		{"GET", "/api/v1/teams?limit=1e99&cursor=", "", "", ""},
		{"GET", team + "/jobs?cursor=AQ", "", "", ""},
		{"GET", team + "/files/" + file, "", "If-None-Match: *", ""},
		{"PATCH", team + "/members/" + file, json, `If-Match: "x"`, `{"role":"owner"}`},
		{"DELETE", team + "/api-keys/..%2f", "", "", ""},
		{"POST", team + "/files", "multipart/form-data; boundary=B", "",
			"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--B--\r\n"},
		{"POST", team + "/files", "multipart/form-data", "", "--B--\r\n"},
		{"PUT", "/api/v1/teams", json, "", `{}`},
		{"GET", "/api/v1/nowhere", "", "", ""},
		{"GET", "/healthz", "", "", ""},
	}
	return s
}

// specSeed is a plausible request for op: fixed uuids in the path, a
// body from the request schema's examples, enums, formats and bounds.
func specSeed(method, path string, op *openapi3.Operation) fuzzSeed {
	target := "/api/v1" + path
	for strings.Contains(target, "{") {
		i, j := strings.Index(target, "{"), strings.Index(target, "}")
		if j < i {
			break
		}
		target = target[:i] + fuzzTeam + target[j+1:]
	}
	s := fuzzSeed{method: strings.ToUpper(method), target: target}
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		switch {
		case rb.Value.Content.Get("application/json") != nil:
			s.ctype = "application/json"
			if mt := rb.Value.Content.Get("application/json"); mt.Schema != nil {
				b, _ := json.Marshal(sampleOf(mt.Schema.Value, 0))
				s.body = string(b)
			}
		case rb.Value.Content.Get("multipart/form-data") != nil:
			s.ctype = "multipart/form-data; boundary=B"
			s.body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nfuzz\r\n--B--\r\n"
		}
	}
	return s
}

func sampleOf(s *openapi3.Schema, depth int) any {
	switch {
	case s == nil || depth > 4:
		return nil
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Format == "uuid":
		return fuzzTeam
	case s.Format == "email":
		return "fuzz@example.test"
	case s.Type.Is("string"):
		return strings.Repeat("f", max(int(s.MinLength), 4))
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		return []any{}
	}
	out := map[string]any{}
	for _, sub := range s.AllOf {
		if m, ok := sampleOf(sub.Value, depth+1).(map[string]any); ok {
			for k, v := range m {
				out[k] = v
			}
		}
	}
	for k, p := range s.Properties {
		if p.Value != nil && !p.Value.ReadOnly {
			out[k] = sampleOf(p.Value, depth+1)
		}
	}
	return out
}
