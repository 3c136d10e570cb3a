package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runCRDSchemas turns CustomResourceDefinition YAMLs (as the operators'
// own Go modules ship them) into kubeconform's schema layout, one file per
// kind and served version, named {kind}-{first label of the group}-{version}.json
// to match -schema-location {{ .ResourceKind }}{{ .KindSuffix }}.json, the
// way kubeconform's openapi2jsonschema.py does it. Strict like the
// Kubernetes schemas: an object with properties, no additionalProperties
// and no x-kubernetes-preserve-unknown-fields refuses unknown fields (what
// the API server's structural pruning would silently drop).
func runCRDSchemas(args []string) error {
	fs := flag.NewFlagSet("crdschemas", flag.ExitOnError)
	out := fs.String("out", "", "output folder")
	_ = fs.Parse(args)
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("-out and at least one CRD file are required")
	}
	docs, err := readDocs(fs.Args()...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var written []string
	for _, d := range docs {
		if str(at(d, "kind")) != "CustomResourceDefinition" {
			continue
		}
		group := str(at(d, "spec", "group"))
		kind := str(at(d, "spec", "names", "kind"))
		for _, v := range list(at(d, "spec", "versions")) {
			version := str(at(v, "name"))
			schema, ok := at(v, "schema", "openAPIV3Schema").(map[string]any)
			if group == "" || kind == "" || version == "" || !ok {
				return fmt.Errorf("CRD %s: no group, kind, version or openAPIV3Schema", str(at(d, "metadata", "name")))
			}
			if at(v, "served") == false {
				continue
			}
			s := strictCRD(schema).(map[string]any)
			s["$schema"] = "http://json-schema.org/draft-07/schema#"
			b, err := json.Marshal(s)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%s-%s-%s.json", strings.ToLower(kind), strings.ToLower(strings.Split(group, ".")[0]), version)
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				return err
			}
			written = append(written, name)
		}
	}
	if len(written) == 0 {
		return fmt.Errorf("no CustomResourceDefinition in %v", fs.Args())
	}
	fmt.Printf("crdschemas: %s\n", strings.Join(written, " "))
	return nil
}

// strictCRD rewrites one CRD schema node: additionalProperties: false on
// closed objects, and x-kubernetes-int-or-string as string|integer.
func strictCRD(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t["x-kubernetes-int-or-string"] == true {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		out := make(map[string]any, len(t)+1)
		for k, x := range t {
			if k == "properties" {
				props := map[string]any{}
				for pk, pv := range x.(map[string]any) {
					props[pk] = strictCRD(pv)
				}
				out[k] = props
				continue
			}
			out[k] = strictCRD(x)
		}
		_, hasProps := t["properties"]
		_, set := t["additionalProperties"]
		if hasProps && !set && t["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = strictCRD(x)
		}
		return out
	default:
		return v
	}
}
