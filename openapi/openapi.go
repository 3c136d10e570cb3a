// Package openapi embeds the API description, the source of truth that the
// server, the clients and the docs are generated from.
package openapi

import _ "embed"

// V1YAML is openapi/v1/openapi.yaml as written.
//
//go:embed v1/openapi.yaml
var V1YAML []byte
