package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// runSchemas turns Kubernetes' api/openapi-spec/swagger.json into one
// standalone, strict JSON schema per kind, named the way kubeconform's
// -schema-location template {{ .ResourceKind }}{{ .KindSuffix }}.json expects
// (deployment-apps-v1.json, service-v1.json, ...). It does what
// instrumenta/openapi2jsonschema --kubernetes --strict --stand-alone does:
//
//   - objects with properties and no additionalProperties get
//     additionalProperties: false (kubectl's strict field validation);
//   - int-or-string becomes oneOf string|integer, Quantity string|number;
//   - each file carries the definitions it reaches under "definitions", so
//     $ref "#/definitions/..." resolves inside the file (recursive types are
//     fine, nothing is inlined).
func runSchemas(args []string) error {
	fs := flag.NewFlagSet("schemas", flag.ExitOnError)
	swagger := fs.String("swagger", "", "path to api/openapi-spec/swagger.json")
	out := fs.String("out", "", "output folder")
	_ = fs.Parse(args)
	if *swagger == "" || *out == "" {
		return fmt.Errorf("-swagger and -out are required")
	}
	raw, err := os.ReadFile(*swagger)
	if err != nil {
		return err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", *swagger, err)
	}
	defs := map[string]any{}
	for name, d := range doc.Definitions {
		defs[name] = transform(name, d)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	written := 0
	for name, d := range doc.Definitions {
		gvks, _ := d["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			if kind == "" || version == "" {
				continue
			}
			suffix := "-" + version
			if group != "" {
				suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + "-" + version
			}
			root, _ := defs[name].(map[string]any)
			schema := map[string]any{}
			for k, v := range root {
				schema[k] = v
			}
			reach := map[string]any{}
			collectRefs(root, defs, reach)
			schema["definitions"] = reach
			b, err := json.Marshal(schema)
			if err != nil {
				return err
			}
			file := filepath.Join(*out, strings.ToLower(kind)+suffix+".json")
			if err := os.WriteFile(file, b, 0o644); err != nil {
				return err
			}
			written++
		}
	}
	fmt.Printf("schemas: %d definitions, %d kind schemas written to %s\n", len(doc.Definitions), written, *out)
	if written < 50 {
		return fmt.Errorf("only %d kind schemas: is this Kubernetes' swagger.json?", written)
	}
	return nil
}

const refPrefix = "#/definitions/"

// transform rewrites one definition (recursively) as described above.
func transform(name string, d map[string]any) any {
	switch name {
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	}
	return walk(d)
}

func walk(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if f, _ := t["format"].(string); f == "int-or-string" {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		out := make(map[string]any, len(t)+1)
		for k, x := range t {
			if k == "properties" {
				props := map[string]any{}
				for pk, pv := range x.(map[string]any) {
					props[pk] = walk(pv) // property names are not schema keywords
				}
				out[k] = props
				continue
			}
			out[k] = walk(x)
		}
		if _, hasProps := t["properties"]; hasProps {
			if _, set := t["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = walk(x)
		}
		return out
	default:
		return v
	}
}

// collectRefs adds to reach every definition v refers to, transitively.
func collectRefs(v any, defs map[string]any, reach map[string]any) {
	switch t := v.(type) {
	case map[string]any:
		if r, ok := t["$ref"].(string); ok && strings.HasPrefix(r, refPrefix) {
			name := strings.TrimPrefix(r, refPrefix)
			if _, seen := reach[name]; !seen {
				if d, ok := defs[name]; ok {
					reach[name] = d
					collectRefs(d, defs, reach)
				}
			}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			collectRefs(t[k], defs, reach)
		}
	case []any:
		for _, x := range t {
			collectRefs(x, defs, reach)
		}
	}
}
