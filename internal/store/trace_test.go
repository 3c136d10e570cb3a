package store

import "testing"

// TestQueryName: statements' spans are named after their sqlc query, or
// their first keyword: never the statement with its values.
func TestQueryName(t *testing.T) {
	for stmt, want := range map[string]string{
		"-- name: CreateJob :one\nINSERT INTO jobs (id) VALUES ($1)": "CreateJob",
		"\n  -- name: ListJobs :many\nSELECT 1":                      "ListJobs",
		"select pg_current_wal_insert_lsn()::text":                   "SELECT",
		"BEGIN": "BEGIN",
		"  ":    "query",
	} {
		if got := queryName(stmt); got != want {
			t.Errorf("queryName(%q) = %q, want %q", stmt, got, want)
		}
	}
}
