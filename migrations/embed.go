// Package migrations holds the numbered SQL migrations, embedded into the
// binary. sqlc reads the same files as the schema.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
